// Benchmark (not a test): distributed meta-training's speed against the number of worker
// processes, on this machine. A redis-server on a free local port, W `l2o worker` processes,
// and a synchronous learner (this process) meta-training the default LSTM (20 units, 2
// layers) on 10-d quadratics (--dim sets the size, so the job's compute), --meta-batch K (default 4), unroll 20, horizon 100; the same
// run on one process (no Redis) is the baseline.
//
//   npx tsx bench/dist.ts [--workers 1,2,3] [--meta-batch 4] [--horizons 8] [--dim 10] [--json]
//
// For each W: meta-iterations per second over the updates (validation excluded; the first
// update, which meets cold workers, excluded too), the job's compute time on the worker, the
// round trip from sending a job to using its result, the overhead (round trip less compute),
// and the learner's CPU time per job (encoding, decoding, combining, the outer step).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDistTrainJob } from "../src/dist/run.ts";
import { learnedKind } from "../src/learned/registry.ts";
import { resolveMetaTrainConfig } from "../src/meta/config.ts";
import { runTrainJob, type TrainJob } from "../src/meta/job.ts";
import { taskFamily } from "../src/tasks/registry.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const counts = arg("workers", "1,2,3").split(",").map(Number);
const K = Number(arg("meta-batch", "4"));
const horizons = Number(arg("horizons", String(2 * K)));
const dim = Number(arg("dim", "10"));
const kernel = { engine: "wasm-simd" as const, threads: 1, reduction: "chunks" as const };
if (spawnSync("redis-server", ["--version"]).status !== 0) throw new Error("bench/dist.ts needs redis-server (apt-get install redis-server)");

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

const dir = mkdtempSync(join(tmpdir(), "l2o-bench-dist-"));
function job(name: string, times: number[]): TrainJob {
  return {
    optimizer: learnedKind("lstm").build({ hidden: 20, layers: 2, preprocess: { kind: "none" }, outputScale: 0.1 }, kernel),
    task: "quadratic",
    family: taskFamily("quadratic", { dim, instances: 1 }),
    meta: resolveMetaTrainConfig({ unroll: 20, horizon: 100, epochs: 1, horizonsPerEpoch: horizons, metaBatch: K, validationTasks: 1 }),
    out: join(dir, `${name}.safetensors`),
    details: { engine: "wasm-simd" },
    hooks: { onIteration: () => void times.push(performance.now()) },
  };
}
/** Updates per second between the second update and the last (the first meets cold workers; validation comes after the last). */
const rate = (t: number[]): number => (t.length - 2) / ((t.at(-1)! - t[1]!) / 1000);

const rows: Record<string, number | string>[] = [];
const baseTimes: number[] = [];
runTrainJob(job("single", baseTimes));
rows.push({ workers: "one process, no Redis", itersPerSec: rate(baseTimes) });

const port = await freePort();
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
await new Promise((r) => setTimeout(r, 500));
const url = `redis://127.0.0.1:${port}`;
const workers: ChildProcess[] = [];
try {
  for (const W of counts) {
    while (workers.length < W) workers.push(spawn(process.execPath, ["bin/l2o.js", "worker", "--redis", url, "--queue", "bench", "--quiet"], { stdio: "ignore", detached: true }));
    // A short warm-up run: every worker has forked its child and built the optimizer.
    await runDistTrainJob({ ...job("warm", []), meta: resolveMetaTrainConfig({ ...job("warm", []).meta, horizonsPerEpoch: K * W, horizon: 20 }) }, { redis: url, queue: "bench", kernel, workersExpected: W });
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    const r = await runDistTrainJob(job(`w${W}`, times), { redis: url, queue: "bench", kernel });
    const cpu = process.cpuUsage(cpu0);
    const c = r.counts;
    rows.push({
      workers: W,
      itersPerSec: rate(times),
      computeMsPerJob: c.computeMs / c.results,
      roundTripMsPerJob: c.roundTripMs / c.results,
      overheadMsPerJob: (c.roundTripMs - c.computeMs) / c.results,
      // Validation and setup included: an upper bound of the learner's CPU per job.
      learnerCpuMsPerJob: (cpu.user + cpu.system) / 1000 / c.results,
    });
  }
} finally {
  for (const w of workers) process.kill(-w.pid!, "SIGKILL");
  redis.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
if (process.argv.includes("--json")) console.log(JSON.stringify(rows, null, 1));
else for (const row of rows) console.log(Object.entries(row).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(2) : v}`).join("  "));
process.exit(0);
