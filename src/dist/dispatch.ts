/**
 * The learner's side of the queue: phi versions published under their keys, jobs added by
 * id (BullMQ ignores an id it already holds), and their outcomes delivered once each.
 *
 * Outcomes arrive by BullMQ's queue events, and a poll every second catches what events miss
 * (a reconnection): a finished job is read back, a job Redis lost (a restart without
 * persistence) is added again. While the connection is down nothing is lost: after
 * `waitSeconds` without Redis, `next()` fails with `RedisLostError`, a clear message, and so
 * does every other call that needs Redis (publishing phi, sending jobs, counting workers):
 * their commands wait through a reconnection (`maxRetriesPerRequest: null`), so unbounded
 * they would wait for ever on a Redis that stays away.
 */
import { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { L2oError } from "../core/errors.ts";
import { b64, type JobData } from "./protocol.ts";
import { checkQueueName, connect, phiKey, redisLabel } from "./redis.ts";

/** Redis stayed away longer than the learner waits. */
export class RedisLostError extends L2oError {
  override readonly name = "RedisLostError";
}

/** The wait for an outcome was given up (the run is stopping). */
export class WaitInterrupted extends Error {
  override readonly name = "WaitInterrupted";
}

/** `p`'s outcome, or `undefined` after `ms` (the timer cleared either way). */
async function within<T>(p: Promise<T>, ms: number): Promise<{ readonly value: T } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p.then((value) => ({ value })), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A job's outcome: its return value, or why it failed for good. */
export type Outcome = { readonly id: string; readonly job: JobData } & ({ readonly value: unknown } | { readonly failed: string });

export interface DispatchOptions {
  readonly redis: string;
  readonly queue: string;
  readonly run: string;
  /** How long to wait for a lost Redis before giving up (seconds). */
  readonly waitSeconds: number;
  /** Called when the connection drops or comes back. */
  readonly onConnection?: (message: string) => void;
}

export class Dispatcher {
  readonly #o: DispatchOptions;
  readonly #conn: Redis;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #eventsConn: Redis;
  readonly #pending = new Map<string, JobData>();
  readonly #ready: Outcome[] = [];
  readonly #phis = new Map<number, string>();
  #wake: (() => void) | undefined;
  #lostSince: number | undefined;
  #poll: ReturnType<typeof setInterval>;
  #polling = false;
  #closing = false;
  /** Outcomes that came again for a job already delivered (at-least-once delivery): ignored. */
  duplicates = 0;

  private constructor(o: DispatchOptions, conn: Redis, queue: Queue, events: QueueEvents, eventsConn: Redis) {
    this.#o = o;
    this.#eventsConn = eventsConn;
    this.#conn = conn;
    this.#queue = queue;
    this.#events = events;
    events.on("completed", ({ jobId, returnvalue }) => this.#deliver(jobId, { value: returnvalue }));
    events.on("failed", ({ jobId, failedReason }) => this.#deliver(jobId, { failed: failedReason }));
    conn.on("close", () => {
      if (!this.#closing) this.#lost(new Error("connection closed"));
    });
    conn.on("ready", () => {
      if (this.#lostSince === undefined) return;
      this.#lostSince = undefined;
      o.onConnection?.(`Redis at ${redisLabel(o.redis)}: connected again; re-sending ${this.#pending.size} jobs`);
      void this.#resend();
    });
    this.#poll = setInterval(() => void this.#check(), 1000);
  }

  /** Connects (waiting for Redis up to `waitSeconds`) and empties the queue of an earlier run's jobs. */
  static async open(o: DispatchOptions): Promise<Dispatcher> {
    const queue = checkQueueName(o.queue);
    let onError = (_e: Error): void => {};
    const conn = connect(o.redis, (e) => onError(e));
    const until = Date.now() + o.waitSeconds * 1000;
    while (conn.status !== "ready") {
      if (Date.now() > until) {
        conn.disconnect();
        throw new RedisLostError(`cannot reach Redis at ${redisLabel(o.redis)} (waited ${o.waitSeconds} s): start redis-server there, or give --redis the right URL`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const q = new Queue(queue, { connection: conn });
    // Queue events read a stream with a blocking command: a connection of their own.
    const eventsConn = connect(o.redis);
    const events = new QueueEvents(queue, { connection: eventsConn });
    events.on("error", () => {});
    q.on("error", () => {});
    const ready = within(Promise.all([events.waitUntilReady(), q.drain(true)]), Math.max(0, until - Date.now()) + 1000);
    if ((await ready) === undefined) {
      conn.disconnect();
      eventsConn.disconnect();
      throw new RedisLostError(`Redis at ${redisLabel(o.redis)} went away while the queue was being opened (waited ${o.waitSeconds} s): start redis-server there and run the same command again`);
    }
    const d = new Dispatcher(o, conn, q, events, eventsConn);
    onError = (e) => d.#lost(e);
    return d;
  }

  #lost(e: Error): void {
    if (this.#lostSince !== undefined) return;
    this.#lostSince = Date.now();
    this.#o.onConnection?.(`Redis at ${redisLabel(this.#o.redis)}: ${e.message}; waiting up to ${this.#o.waitSeconds} s for it`);
    this.#wake?.();
  }

  /** Whether Redis has been away longer than the learner waits. */
  #gone(): boolean {
    return this.#lostSince !== undefined && Date.now() - this.#lostSince > this.#o.waitSeconds * 1000;
  }

  #lostError(): RedisLostError {
    return new RedisLostError(`lost the connection to Redis at ${redisLabel(this.#o.redis)} for more than ${this.#o.waitSeconds} s`);
  }

  /** `p`'s value, or `RedisLostError` once Redis has been gone longer than the wait (`p` is then abandoned). */
  async #whileReachable<T>(p: Promise<T>): Promise<T> {
    // Settled once, never rejecting: an abandoned command that fails later is not an unhandled rejection.
    const settled = p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    for (;;) {
      const r = await within(settled, 250);
      if (r !== undefined) {
        if (r.value.ok) return r.value.value;
        throw r.value.error;
      }
      if (this.#gone()) throw this.#lostError();
    }
  }

  #deliver(id: string, how: { value: unknown } | { failed: string }): void {
    const job = this.#pending.get(id);
    if (job === undefined) {
      // Delivered already (at-least-once delivery), or not this run's: ignored.
      if (id.startsWith(`${this.#o.run}-`)) this.duplicates++;
      return;
    }
    this.#pending.delete(id);
    this.#ready.push({ id, job, ...how });
    this.#wake?.();
  }

  /** Reads back pending jobs whose events were missed; adds again those Redis lost. */
  async #check(): Promise<void> {
    if (this.#polling || this.#lostSince !== undefined || this.#pending.size === 0) return;
    this.#polling = true;
    try {
      for (const [id, data] of [...this.#pending]) {
        const job = await this.#queue.getJob(id);
        if (job === undefined) {
          await this.#add([{ id, data }]);
          continue;
        }
        const state = await job.getState();
        if (state === "completed") this.#deliver(id, { value: job.returnvalue });
        else if (state === "failed") this.#deliver(id, { failed: job.failedReason });
      }
    } catch {
      // The connection went: the next poll, or the reconnection, tries again.
    } finally {
      this.#polling = false;
    }
  }

  async #resend(): Promise<void> {
    try {
      for (const [v, text] of this.#phis) await this.#conn.set(phiKey(this.#o.queue, this.#o.run, v), text, "EX", 86400);
      await this.#add([...this.#pending].map(([id, data]) => ({ id, data })));
    } catch {
      // Lost again: the next reconnection re-sends.
    }
  }

  async #add(jobs: readonly { id: string; data: JobData }[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.#queue.addBulk(
      jobs.map(({ id, data }) => ({
        name: "meta-grad",
        data,
        opts: { jobId: id, attempts: 5, backoff: { type: "fixed", delay: 300 }, removeOnComplete: { count: 5000 }, removeOnFail: { count: 5000 } },
      })),
    );
  }

  /** Publishes phi version `version` (kept `keep` versions back; older keys are deleted). */
  async publishPhi(version: number, phi: Float32Array, keep = 1): Promise<string> {
    const key = phiKey(this.#o.queue, this.#o.run, version);
    if (this.#phis.has(version)) return key;
    const text = b64(phi);
    this.#phis.set(version, text);
    await this.#whileReachable(this.#conn.set(key, text, "EX", 86400));
    for (const v of [...this.#phis.keys()]) {
      if (v < version - keep) {
        this.#phis.delete(v);
        await this.#whileReachable(this.#conn.del(phiKey(this.#o.queue, this.#o.run, v)));
      }
    }
    return key;
  }

  /** Sends jobs (their ids must be new to this run). */
  async submit(jobs: readonly { id: string; data: JobData }[]): Promise<void> {
    for (const { id, data } of jobs) this.#pending.set(id, data);
    // Pending first: if Redis goes before they are added, the reconnection re-sends them.
    await this.#whileReachable(this.#add(jobs));
  }

  /** Waits until `n` workers listen on the queue (or `stop()` says to give up). */
  async waitForWorkers(n: number, say: (m: string) => void, stop: () => boolean): Promise<void> {
    for (let last = -1; !stop(); ) {
      const count = await this.#whileReachable(this.#queue.getWorkersCount());
      if (count >= n) return;
      if (count !== last) say(`waiting for ${n} workers on queue '${this.#o.queue}' (${count} connected)`);
      last = count;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Jobs sent and not yet delivered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The next outcome, in the order they come; `WaitInterrupted` once `stop()` says so. */
  async next(stop: () => boolean = () => false): Promise<Outcome> {
    for (;;) {
      const o = this.#ready.shift();
      if (o !== undefined) return o;
      if (stop()) throw new WaitInterrupted("stopping");
      if (this.#gone()) throw this.#lostError();
      await new Promise<void>((res) => {
        this.#wake = res;
        setTimeout(res, 250);
      });
      this.#wake = undefined;
    }
  }

  /** Forgets the pending jobs (training ended), removes the waiting ones and the phi keys, disconnects. */
  async close(): Promise<void> {
    clearInterval(this.#poll);
    this.#closing = true;
    this.#pending.clear();
    const tidy = async (): Promise<void> => {
      await this.#queue.drain(true);
      for (const v of this.#phis.keys()) await this.#conn.del(phiKey(this.#o.queue, this.#o.run, v));
    };
    // Tidying needs Redis: not worth waiting for when it is gone.
    if (this.#lostSince === undefined) await Promise.race([tidy().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    // Closing waits on Redis: bounded, then the connections are cut.
    const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    await bounded(this.#events.close());
    this.#eventsConn.disconnect();
    await bounded(this.#queue.close());
    this.#conn.disconnect();
  }
}
