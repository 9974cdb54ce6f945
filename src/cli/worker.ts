/**
 * `l2o worker --redis URL`: computes meta-gradient jobs of a distributed `l2o train --redis`
 * run on any machine that reaches that Redis, until it is stopped (SIGINT or SIGTERM: the job
 * in hand is finished first), idle for `--max-idle` seconds, or refuses a job (a learner of
 * another l2o version, an optimizer kind this build lacks: exit code 2).
 */
import type { Command } from "commander";
import { checkRedisUrl, redisLabel } from "../dist/redis.ts";
import { startWorker } from "../dist/worker.ts";
import { UsageError } from "./errors.ts";
import { parseCount, parseNumber } from "./options.ts";

interface WorkerFlags {
  redis: string;
  queue: string;
  concurrency: string;
  lockSeconds: string;
  maxIdle: string;
  quiet?: boolean;
}

/**
 * `say` for connection messages: a message once, then the same again at most every `everyMs`
 * with how often it came meanwhile. While Redis cannot be reached the client reports each
 * retry, several a second, which would bury everything else.
 */
export function repeatLimited(say: (line: string) => void, everyMs = 30_000, now: () => number = Date.now): (line: string) => void {
  let last: string | undefined;
  let since = 0;
  let skipped = 0;
  return (line) => {
    const t = now();
    if (line === last && t - since < everyMs) {
      skipped++;
      return;
    }
    say(line === last && skipped > 0 ? `${line} (and ${skipped} times more in the last ${Math.round((t - since) / 1000)} s)` : line);
    last = line;
    since = t;
    skipped = 0;
  };
}

export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("compute meta-gradient jobs for a distributed `l2o train --redis` run (start any number, on any machine, at any time)")
    .requiredOption("--redis <url>", "the Redis the learner uses, e.g. redis://10.0.0.5:6379")
    .option("--queue <name>", "the learner's queue (its --queue)", "l2o")
    .option("--concurrency <n>", "jobs at once, each in its own child process (1 to 64; one per core the worker may use)", "1")
    .option("--lock-seconds <x>", "how long a job stays with a worker that stopped answering before another takes it (0.5 to 600)", "30")
    .option("--max-idle <x>", "stop after this many seconds without a job (at least 0; 0: never; suits a Kubernetes Job)", "0")
    .option("--quiet", "no line per job")
    .action(async (f: WorkerFlags) => {
      let redis: string;
      try {
        redis = checkRedisUrl(f.redis);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const concurrency = parseCount("--concurrency", f.concurrency, { min: 1, max: 64 });
      const lockSeconds = parseNumber("--lock-seconds", f.lockSeconds, { min: 0.5, max: 600 });
      const maxIdleSeconds = parseNumber("--max-idle", f.maxIdle, { min: 0 });
      const say = (line: string): void => void process.stderr.write(`l2o worker: ${line}\n`);
      const w = startWorker(
        { redis, queue: f.queue, concurrency, lockSeconds, maxIdleSeconds },
        {
          onDone: (r) => {
            if (f.quiet !== true) say(`horizon ${r.horizon} truncation ${r.index} phi v${r.phiVersion}: ${r.computeMs.toFixed(0)} ms`);
          },
          onFailed: (reason, job) => say(`job ${job?.id ?? "?"} failed: ${reason}`),
          onRefused: (reason) => say(reason),
          onConnection: repeatLimited(say),
        },
      );
      say(`serving queue '${f.queue}' on ${redisLabel(redis)} (${concurrency} at once)`);
      let signalled: NodeJS.Signals | undefined;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled !== undefined) process.exit(130);
        signalled = sig;
        say(`${sig}: finishing the job in hand`);
        void w.close();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const end = await w.stopped;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (end.why === "refused") throw new UsageError(`this worker cannot serve the run: ${end.reason ?? "a job was refused"}`);
      say(end.why === "idle" ? `idle for ${maxIdleSeconds} s: stopping` : "stopped");
    });
}
