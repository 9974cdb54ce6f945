/**
 * A worker whose Redis cannot be reached still stops when asked: by --max-idle (a Kubernetes
 * Job whose Redis is gone must end) and by close() (SIGINT, SIGTERM). A graceful close waits
 * for Redis, so before the fix neither ever returned.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { startWorker } from "../src/dist/worker.ts";
import { repeatLimited } from "../src/cli/worker.ts";
import { runL2o } from "./cli_run.ts";

/** A local port with nothing listening on it (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

/** `p`'s value, or "timeout" after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

test("--max-idle stops a worker that never reached its Redis", async () => {
  const redis = `redis://127.0.0.1:${await closedPort()}`;
  const errors: string[] = [];
  const started = performance.now();
  const w = startWorker({ redis, queue: "l2o-unreachable", concurrency: 1, lockSeconds: 30, maxIdleSeconds: 0.5 }, { onConnection: (m) => errors.push(m) });
  const end = await within(w.stopped, 10_000);
  assert.notEqual(end, "timeout", "the worker was still running 10 s after its 0.5 s --max-idle");
  assert.deepEqual(end, { why: "idle" });
  assert.ok(errors.some((m) => /ECONNREFUSED/.test(m)), `it told why it could not connect: ${errors.slice(0, 2).join("; ")}`);
  assert.ok(performance.now() - started < 10_000);
});

test("close() (a signal) stops a worker that cannot reach its Redis", async () => {
  const redis = `redis://127.0.0.1:${await closedPort()}`;
  const w = startWorker({ redis, queue: "l2o-unreachable", concurrency: 1, lockSeconds: 30, maxIdleSeconds: 0 }, { onConnection: () => {} });
  await new Promise((res) => setTimeout(res, 300));
  assert.notEqual(await within(w.close(), 10_000), "timeout", "close() had not returned after 10 s");
  assert.deepEqual(await w.stopped, { why: "closed" });
});

test("l2o worker --max-idle ends with exit code 0 when Redis is unreachable, saying so once rather than at every retry", async () => {
  const port = await closedPort();
  const r = await runL2o(["worker", "--redis", `redis://127.0.0.1:${port}`, "--max-idle", "2"]);
  assert.equal(r.code, 0, r.stderr);
  const refused = r.stderr.split("\n").filter((l) => /ECONNREFUSED/.test(l));
  assert.ok(refused.length >= 1 && refused.length <= 2, `${refused.length} connection lines in 2 s:\n${r.stderr}`);
  assert.match(r.stderr, /idle for 2 s: stopping\n$/);
});

test("repeatLimited says a message once, then with its count at most every interval; a new message at once", () => {
  const lines: string[] = [];
  let t = 0;
  const say = repeatLimited((l) => lines.push(l), 30_000, () => t);
  for (; t < 61_000; t += 200) say("connect ECONNREFUSED");
  say("back");
  assert.deepEqual(lines, [
    "connect ECONNREFUSED",
    "connect ECONNREFUSED (and 149 times more in the last 30 s)",
    "connect ECONNREFUSED (and 149 times more in the last 30 s)",
    "back",
  ]);
});
