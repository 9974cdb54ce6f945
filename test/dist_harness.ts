/**
 * The distributed tests' harness: a real `redis-server` on a free local port (no persistence,
 * so a restart loses everything, as a crashed Redis does), stopped and restarted at will,
 * and `l2o worker` processes started in their own process groups (so that a kill takes
 * their sandboxed children too).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { learnedKind } from "../src/learned/registry.ts";
import { resolveMetaTrainConfig, type MetaTrainConfig } from "../src/meta/config.ts";
import type { TrainJob } from "../src/meta/job.ts";
import { taskFamily } from "../src/tasks/registry.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Whether redis-server is installed (the tests are skipped with a reason when it is not). */
export const HAVE_REDIS = spawnSync("redis-server", ["--version"]).status === 0;

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, "close");
  return port;
}

export class RedisServer {
  #proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.restart();
    return r;
  }

  /** Starts it (again) on its port and waits until it answers. */
  async restart(): Promise<void> {
    const p = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = p;
    let out = "";
    p.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    const until = Date.now() + 10000;
    while (!/Ready to accept connections/.test(out)) {
      if (Date.now() > until || p.exitCode !== null) throw new Error(`redis-server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (p === undefined || p.exitCode !== null) return;
    p.kill("SIGKILL");
    await once(p, "exit");
    this.#proc = undefined;
  }
}

/** An `l2o worker` process (its own process group). */
export interface WorkerProc {
  readonly proc: ChildProcess;
  output(): string;
  /** SIGKILL to the whole group: the worker and its sandboxed children, as a lost machine. */
  kill(): void;
  exited(): Promise<number | null>;
}

export function startWorkerProc(url: string, queue: string, extra: readonly string[] = []): WorkerProc {
  const proc = spawn(process.execPath, ["bin/l2o.js", "worker", "--redis", url, "--queue", queue, "--lock-seconds", "2", ...extra], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exit = once(proc, "exit").then(([code]) => code as number | null);
  return {
    proc,
    output: () => out,
    kill: () => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    },
    exited: () => exit,
  };
}

export const KERNEL = { engine: "wasm-simd" as const, threads: 1, reduction: "chunks" as const };

/** A tiny run: an LSTM of 4 units on 3-d quadratics, two horizons per update. */
export function tinyJob(dir: string, name: string, c: Partial<MetaTrainConfig> = {}): TrainJob {
  return {
    optimizer: learnedKind("lstm").build({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 }, KERNEL),
    task: "quadratic",
    family: taskFamily("quadratic", { dim: 3, instances: 4 }),
    meta: resolveMetaTrainConfig({ unroll: 5, horizon: 10, epochs: 1, horizonsPerEpoch: 4, metaBatch: 2, validationTasks: 2, ...c }),
    out: join(dir, `${name}.safetensors`),
    checkpoint: join(dir, `${name}.ckpt`),
    log: join(dir, `${name}.jsonl`),
    details: { engine: "wasm-simd" },
  };
}

export const bitsOf = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

/** The log's lines of one series, values only (times differ between runs). */
export function series(path: string, name: string): number[] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { name: string; value: number })
    .filter((e) => e.name === name)
    .map((e) => e.value);
}

