// Benchmark (not a test): distributed meta-training's speed against the number of worker
// processes, on this machine. A redis-server on a free local port, W `l2o worker` processes,
// and a synchronous learner (this process) meta-training the default LSTM (20 units, 2
// layers) on 10-d quadratics (--dim sets the size, so the job's compute), --meta-batch K (default 4), unroll 20, horizon 100; the same
// run on one process (no Redis) is the baseline.
//
//   npx tsx bench/dist.ts [--workers 1,2,3] [--meta-batch 4] [--horizons 8] [--dim 10] [--json]
//
// For each W, over the updates from the second to the last (the first meets cold workers,
// validation comes after the last): meta-iterations per second; the job's compute time on the
// worker; the time per job when one worker does them all one after another (1 / (its rate *
// K)) and its overhead over the compute (queue round trip, serialisation, process hops); and
// the learner's CPU time per job (encoding, decoding, combining, the outer step).
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
import { arg } from "./args.ts";

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
interface Mark {
  readonly t: number;
  readonly cpu: number;
}
function job(name: string, marks: Mark[]): TrainJob {
  return {
    optimizer: learnedKind("lstm").build({ hidden: 20, layers: 2, preprocess: { kind: "none" }, outputScale: 0.1 }, kernel),
    task: "quadratic",
    family: taskFamily("quadratic", { dim, instances: 1 }),
    meta: resolveMetaTrainConfig({ unroll: 20, horizon: 100, epochs: 1, horizonsPerEpoch: horizons, metaBatch: K, validationTasks: 1 }),
    out: join(dir, `${name}.safetensors`),
    details: { engine: "wasm-simd" },
    hooks: {
      onIteration: () => {
        const u = process.cpuUsage();
        marks.push({ t: performance.now(), cpu: (u.user + u.system) / 1000 });
      },
    },
  };
}
/** Updates per second between the second update and the last. */
const rate = (m: Mark[]): number => (m.length - 2) / ((m.at(-1)!.t - m[1]!.t) / 1000);
/** The learner's CPU ms per job between the second update and the last. */
const cpuPerJob = (m: Mark[]): number => (m.at(-1)!.cpu - m[1]!.cpu) / ((m.length - 2) * K);

const rows: Record<string, number | string>[] = [];
const base: Mark[] = [];
runTrainJob(job("single", base));
rows.push({ workers: "one process, no Redis", itersPerSec: rate(base), msPerJob: 1000 / rate(base) / K });

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
    const marks: Mark[] = [];
    const r = await runDistTrainJob(job(`w${W}`, marks), { redis: url, queue: "bench", kernel });
    const c = r.counts;
    const computeMs = c.computeMs / c.results;
    const msPerJob = 1000 / rate(marks) / K;
    rows.push({
      workers: W,
      itersPerSec: rate(marks),
      computeMsPerJob: computeMs,
      // With one worker the jobs run one after another: the time per job less its compute is the overhead.
      ...(W === 1 ? { msPerJob, overheadMsPerJob: msPerJob - computeMs } : {}),
      learnerCpuMsPerJob: cpuPerJob(marks),
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
