/**
 * Faults of distributed meta-training, each on a real redis-server with l2o worker
 * processes, each ending in the single-process run's bits (so nothing was lost or counted
 * twice): a worker killed mid-job (BullMQ's stalled-job check gives the job to another),
 * Redis restarted (the learner re-sends its jobs), Redis gone for longer than the learner
 * waits (checkpointed, a clear error, resumed), a malformed result (rejected and logged) and a
 * worker of an older l2o version (refused and logged).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Queue, Worker } from "bullmq";
import { Dispatcher, RedisLostError } from "../src/dist/dispatch.ts";
import { PROTOCOL, type JobData } from "../src/dist/protocol.ts";
import { runDistTrainJob } from "../src/dist/run.ts";
import { startWorker } from "../src/dist/worker.ts";
import { runTrainJob, type TrainJob } from "../src/meta/job.ts";
import type { MetaTrainConfig } from "../src/meta/config.ts";
import { bitsOf, HAVE_REDIS, KERNEL, RedisServer, series, startWorkerProc, tinyJob, type WorkerProc } from "./dist_harness.ts";

const skip = HAVE_REDIS ? false : "redis-server is not installed (.ci/run installs it)";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("distributed meta-training under faults", { skip, timeout: 240_000 }, () => {
  let redis: RedisServer;
  let dir: string;
  const procs: WorkerProc[] = [];
  const worker = (queue: string): WorkerProc => {
    const w = startWorkerProc(redis.url, queue);
    procs.push(w);
    return w;
  };
  const connection = (): { host: string; port: number; maxRetriesPerRequest: null } => ({ host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null });
  /** The single-process run of the same settings: the bits every faulty run must end with. */
  const single = (name: string, c: Partial<MetaTrainConfig>): string => bitsOf(runTrainJob(tinyJob(dir, `single-${name}`, c)).result.state.phi);
  const withIterations = (job: TrainJob, seen: { n: number }): TrainJob => ({ ...job, hooks: { onIteration: (s) => (seen.n = s.metaIteration) } });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "l2o-dist-faults-"));
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const w of procs) w.kill();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a worker killed mid-job: the job's lock runs out, another worker computes it, the result is the single process's", async () => {
    // Whole-horizon ES jobs of 12 pairs: long enough to be caught mid-job.
    const c = { estimator: "es", esPairs: 12, unroll: 40, horizon: 40, horizonsPerEpoch: 2 } as const;
    const want = single("kill", c);
    const doomed = worker("kill");
    const run = runDistTrainJob(tinyJob(dir, "kill", c), { redis: redis.url, queue: "kill", kernel: KERNEL });
    const q = new Queue("kill", { connection: connection() });
    try {
      await until("a job in hand", async () => (await q.getActiveCount()) > 0);
      doomed.kill();
      assert.equal(await doomed.exited(), null); // killed by the signal
      worker("kill");
      const dist = await run;
      assert.equal(bitsOf(dist.result.state.phi), want);
      // The learner sent each job once; BullMQ gave the killed one to the other worker.
      assert.equal(dist.counts.sent, dist.counts.results);
      const jobs = await q.getJobs(["completed"]);
      assert.ok(jobs.some((j) => j.attemptsStarted >= 2), `attempts started: ${jobs.map((j) => j.attemptsStarted).join(", ")}`);
    } finally {
      await q.close();
    }
  });

  test("Redis restarted mid-run: the learner re-sends its jobs and phi, the workers reconnect, the bits are the single process's", async () => {
    const c = { horizon: 20, horizonsPerEpoch: 6 };
    const want = single("restart", c);
    worker("restart");
    worker("restart");
    const notices: string[] = [];
    const seen = { n: 0 };
    const run = runDistTrainJob(withIterations(tinyJob(dir, "restart", c), seen), { redis: redis.url, queue: "restart", kernel: KERNEL, waitSeconds: 60, onNotice: (m) => notices.push(m) });
    await until("two updates", () => seen.n >= 2, 60000);
    await redis.stop();
    await sleep(500);
    await redis.restart();
    const dist = await run;
    assert.equal(bitsOf(dist.result.state.phi), want);
    assert.ok(notices.some((m) => /connected again/.test(m)), notices.join("\n"));
  });

  // Redis killed while the learner publishes phi or sends jobs (not only while it waits for
  // results): those commands wait through a reconnection, and once hung a run for ever.
  test("a learner command issued while Redis is gone fails after the wait with RedisLostError instead of waiting for ever", async () => {
    const d = await Dispatcher.open({ redis: redis.url, queue: "gone", run: "r0", waitSeconds: 1 });
    try {
      await redis.stop();
      const t0 = Date.now();
      await assert.rejects(d.publishPhi(1, new Float32Array(4)), (e: unknown) => e instanceof RedisLostError && /for more than 1 s/.test((e as Error).message));
      await assert.rejects(d.waitForWorkers(1, () => {}, () => false), RedisLostError);
      await assert.rejects(d.submit([{ id: "r0-1", data: {} as JobData }]), RedisLostError);
      assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
    } finally {
      await d.close();
      await redis.restart();
    }
  });

  test("Redis gone longer than the learner waits: a clear error, the checkpoint kept; the same command resumes to the single process's bits", async () => {
    const c = { horizon: 20, horizonsPerEpoch: 6, epochs: 2 };
    const want = single("lost", c);
    // The earlier tests' workers reconnecting to the stopped Redis must not be what this run waits on.
    for (const w of procs.splice(0)) w.kill();
    worker("lost");
    const seen = { n: 0 };
    const first = runDistTrainJob(withIterations(tinyJob(dir, "lost", c), seen), { redis: redis.url, queue: "lost", kernel: KERNEL, waitSeconds: 1 });
    await until("two updates", () => seen.n >= 2, 60000);
    await redis.stop();
    await assert.rejects(first, (e: unknown) => e instanceof RedisLostError && /lost the connection to Redis .* the checkpoint .*lost\.ckpt holds epoch \d+, horizon \d+: start Redis and run the same command to resume/.test(e.message));
    await redis.restart();
    const resumed = await runDistTrainJob(tinyJob(dir, "lost", c), { redis: redis.url, queue: "lost", kernel: KERNEL });
    assert.equal(bitsOf(resumed.result.state.phi), want);
    assert.deepEqual(series(join(dir, "lost.jsonl"), "meta/loss"), series(join(dir, "single-lost.jsonl"), "meta/loss"));
  });

  test("a malformed result is rejected and a worker of an older l2o refuses its job: both logged, both jobs done again, the single process's bits", async () => {
    const c = {};
    const want = single("bad", c);
    const notices: string[] = [];
    // A worker that answers with garbage: a gradient of 3 bytes and a trajectory that did not move.
    const evil = new Worker<JobData>(
      "bad",
      async (j) => ({ protocol: PROTOCOL, run: j.data.run, phiVersion: j.data.phiVersion, horizon: j.data.record.horizon, index: j.data.index, part: { loss: 1, grad: "AAAA" }, record: j.data.record, worker: "evil", computeMs: 0 }),
      { connection: connection() },
    );
    const job = tinyJob(dir, "bad", c);
    const run = runDistTrainJob(job, { redis: redis.url, queue: "bad", kernel: KERNEL, onNotice: (m) => notices.push(m) });
    await until("a rejection", () => notices.some((m) => /rejected a malformed result/.test(m)));
    await evil.close();
    const old = startWorker({ redis: redis.url, queue: "bad", version: "0.0.1", lockSeconds: 2 });
    const end = await old.stopped;
    assert.equal(end.why, "refused");
    assert.match(end.reason ?? "", /this worker runs l2o 0\.0\.1/);
    worker("bad");
    const dist = await run;
    assert.equal(bitsOf(dist.result.state.phi), want);
    // The refusing worker may have fetched a second job before it stopped: at least one refusal.
    assert.ok(dist.counts.rejected >= 1 && dist.counts.refused >= 1, JSON.stringify(dist.counts));
    assert.ok(notices.some((m) => /a worker refused job .*: the job comes from l2o .* this worker runs l2o 0\.0\.1/.test(m)), notices.join("\n"));
    assert.equal(series(job.log!, "dist/rejected").at(-1), dist.counts.rejected);
    assert.equal(series(job.log!, "dist/refused").at(-1), dist.counts.refused);
  });
});
