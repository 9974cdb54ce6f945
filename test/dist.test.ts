/**
 * Distributed meta-training on a real redis-server with `l2o worker` processes: synchronous
 * runs give the single-process `--meta-batch K` run's bits (bptt and pes), asynchronous runs
 * drop and count parts older than the staleness bound, and the version check refuses jobs a
 * worker cannot compute faithfully.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { checkJob, RefusedJobError } from "../src/dist/compute.ts";
import { PROTOCOL, type JobData } from "../src/dist/protocol.ts";
import { runDistTrainJob } from "../src/dist/run.ts";
import { L2O_VERSION } from "../src/io/version.ts";
import { runTrainJob } from "../src/meta/job.ts";
import { bitsOf, HAVE_REDIS, KERNEL, RedisServer, series, startWorkerProc, tinyJob, type WorkerProc } from "./dist_harness.ts";

const skip = HAVE_REDIS ? false : "redis-server is not installed (.ci/run installs it)";

describe("distributed meta-training", { skip }, () => {
  let redis: RedisServer;
  let workers: WorkerProc[] = [];
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "l2o-dist-"));
    redis = await RedisServer.start();
    workers = [startWorkerProc(redis.url, "sync"), startWorkerProc(redis.url, "sync")];
  });
  after(async () => {
    for (const w of workers) w.kill();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const estimator of ["bptt", "pes"] as const) {
    test(`synchronous ${estimator}: the single-process --meta-batch 2 run's bits, with two worker processes`, async () => {
      const c = { estimator, ...(estimator === "pes" ? { esPairs: 2 } : {}) };
      const single = runTrainJob(tinyJob(dir, `single-${estimator}`, c));
      const job = tinyJob(dir, `dist-${estimator}`, c);
      const dist = await runDistTrainJob(job, { redis: redis.url, queue: "sync", kernel: KERNEL });
      assert.equal(dist.result.state.metaIteration, single.result.state.metaIteration);
      assert.ok(dist.result.state.metaIteration > 0);
      assert.equal(bitsOf(dist.result.state.phi), bitsOf(single.result.state.phi));
      assert.deepEqual(series(job.log!, "meta/loss"), series(join(dir, `single-${estimator}.jsonl`), "meta/loss"));
      assert.deepEqual(series(job.log!, "valid/score"), series(join(dir, `single-${estimator}.jsonl`), "valid/score"));
      // Each job sent once and answered once: nothing lost, nothing counted twice.
      assert.equal(dist.counts.sent, dist.counts.results);
      assert.equal(dist.counts.rejected + dist.counts.refused + dist.counts.failed, 0);
    });
  }

  test("a learner without workers stops when asked, at its last safe state, checkpointed", async () => {
    const ctl = new AbortController();
    const job = tinyJob(dir, "nobody");
    setTimeout(() => ctl.abort(), 300);
    const r = await runDistTrainJob(job, { redis: redis.url, queue: "nobody-listens", kernel: KERNEL }, { signal: ctl.signal });
    assert.equal(r.result.stopped, "interrupted");
    assert.equal(r.result.state.metaIteration, 0);
    assert.ok(existsSync(job.checkpoint!));
  });

  test("asynchronous: parts older than the staleness bound are dropped and counted; within it they are used", async () => {
    // Four trajectories in flight, two parts per update: after the first update the other two jobs of version 0 are one version old.
    const strict = await runDistTrainJob(tinyJob(dir, "async0"), { redis: redis.url, queue: "sync", kernel: KERNEL, async: { staleness: 0, inFlight: 4 } });
    assert.ok(strict.counts.staleDropped >= 2, `dropped ${strict.counts.staleDropped}`);
    assert.equal(series(join(dir, "async0.jsonl"), "dist/stale_dropped").at(-1), strict.counts.staleDropped);
    const loose = await runDistTrainJob(tinyJob(dir, "async9"), { redis: redis.url, queue: "sync", kernel: KERNEL, async: { staleness: 9, inFlight: 4 } });
    assert.equal(loose.counts.staleDropped, 0);
    assert.ok(loose.result.state.metaIteration >= 4, `${loose.result.state.metaIteration} updates`);
    assert.ok(Number.isFinite(loose.result.state.bestScore));
  });
});

describe("distributed meta-training's checks", () => {
  const job = (over: Partial<JobData> = {}): JobData =>
    ({
      protocol: PROTOCOL,
      l2o: L2O_VERSION,
      run: "r",
      phiVersion: 0,
      phiKey: "k",
      setup: { task: "quadratic", taskConfig: {}, optimizer: { kind: "lstm", config: {}, phiSize: 1 }, kernel: KERNEL, meta: {}, trainKey: [0, 0] },
      index: 0,
      record: {},
      ...over,
    }) as JobData;

  test("a worker refuses a job of another l2o version or job format, or of an optimizer kind or task it lacks", () => {
    assert.doesNotThrow(() => checkJob(job()));
    assert.throws(() => checkJob(job(), "0.0.1"), (e: unknown) => e instanceof RefusedJobError && e.message.includes(`l2o ${L2O_VERSION}`) && e.message.includes("runs l2o 0.0.1"));
    assert.throws(() => checkJob(job({ protocol: PROTOCOL + 1 })), /job format/);
    const setup = job().setup;
    assert.throws(() => checkJob(job({ setup: { ...setup, optimizer: { ...setup.optimizer, kind: "transformer" } } })), /'transformer' optimizer/);
    assert.throws(() => checkJob(job({ setup: { ...setup, task: "./mine.ts" } })), /not registered/);
  });

  test("the CLI refuses a bad Redis URL and distributed flags without --redis, with exit code 2", () => {
    const l2o = (...args: string[]) => spawnSync(process.execPath, ["bin/l2o.js", ...args], { encoding: "utf8" });
    const w = l2o("worker", "--redis", "http://x");
    assert.equal(w.status, 2);
    assert.match(w.stderr, /l2o: error: --redis expects a redis:\/\/ or rediss:\/\/ URL/);
    const t = l2o("train", "--task", "quadratic", "--out", join(tmpdir(), "never.safetensors"), "--async");
    assert.equal(t.status, 2);
    assert.match(t.stderr, /--async and --in-flight belong to distributed training: add --redis URL/);
  });

  test("synchronous runs refuse the fused multiply-add engine, tasks outside the registry and sampled horizon lengths, before connecting", async () => {
    const dir = mkdtempSync(join(tmpdir(), "l2o-dist-"));
    try {
      const o = { redis: "redis://127.0.0.1:1", queue: "x", kernel: { ...KERNEL, engine: "wasm-fma" as const } };
      await assert.rejects(runDistTrainJob(tinyJob(dir, "fma"), o), (e: unknown) => e instanceof ConfigError && /--engine wasm-simd/.test(e.message));
      await assert.rejects(runDistTrainJob({ ...tinyJob(dir, "mod"), task: "./my-task.ts" }, { ...o, kernel: KERNEL }), /registered task/);
      await assert.rejects(runDistTrainJob(tinyJob(dir, "sampled", { horizonSampling: "logUniform" }), { ...o, kernel: KERNEL }), (e: unknown) => e instanceof ConfigError && /runs fixed horizons; --horizon-sampling logUniform/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
