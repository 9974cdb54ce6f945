/**
 * Redis connections for the learner and the workers: a URL checked before use, BullMQ's
 * required `maxRetriesPerRequest: null` (commands wait through a reconnection instead of
 * failing), and the keys where a run's phi versions lie.
 */
import { Redis } from "ioredis";
import { ConfigError } from "../core/errors.ts";

/** Checks a Redis URL (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS). */
export function checkRedisUrl(url: string, flag = "--redis"): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${flag} expects a Redis URL such as redis://127.0.0.1:6379, got '${url}'`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new ConfigError(`${flag} expects a redis:// or rediss:// URL, got '${url}'`);
  if (u.hostname === "") throw new ConfigError(`${flag}: the URL '${url}' names no host`);
  return url;
}

/** The URL without its password, for messages. */
export function redisLabel(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(bad URL)";
  }
}

/**
 * A connection as BullMQ wants it: commands wait while it reconnects (a retry every
 * 0.5 s at most), errors go to `onError` instead of an unhandled event.
 */
export function connect(url: string, onError: (e: Error) => void = () => {}): Redis {
  const r = new Redis(checkRedisUrl(url), {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * times, 500),
    lazyConnect: false,
  });
  r.on("error", onError);
  return r;
}

/** The queue's name checked: letters, digits, '-', '_' and '.' (it is part of Redis keys). */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError(`--queue expects 1 to 64 letters, digits, '-', '_' or '.', got '${name}'`);
  return name;
}

/** Where phi version `version` of run `run` on queue `queue` lies (base64 of its float32 bytes). */
export function phiKey(queue: string, run: string, version: number): string {
  return `l2o:${queue}:phi:${run}:${version}`;
}
