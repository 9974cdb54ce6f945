/**
 * `l2o train --redis URL`: the flags of distributed training and the run through
 * `runDistTrainJob`, its notices (refused jobs, rejected results, the connection) on
 * standard error and a summary of the jobs at the end.
 */
import type { KernelOptions } from "../learned/kernel_options.ts";
import type { TrainJob, TrainJobResult } from "../meta/job.ts";
import { runDistTrainJob } from "../dist/run.ts";
import { checkQueueName, checkRedisUrl } from "../dist/redis.ts";
import { UsageError } from "./errors.ts";
import { parseCount, parseNumber } from "./options.ts";

export interface DistFlags {
  redis?: string;
  queue: string;
  async?: boolean;
  staleness: string;
  inFlight?: string;
  redisWait: string;
  workersExpected: string;
}

export const DIST_HELP = {
  redis: "meta-train across processes and machines: the Redis whose queue `l2o worker --redis URL` processes serve (docs/DISTRIBUTED.md); synchronous by default, the same bits as this run on one machine (--engine wasm stands for wasm-simd there)",
  queue: "with --redis: the queue's name (one learner per queue)",
  async: "with --redis: asynchronous training: no worker waits for another; each update sums --meta-batch parts computed under any phi version at most --staleness versions old",
  staleness: "with --async: drop parts computed more than this many phi versions ago (counted in the log as dist/stale_dropped) (0 to 1,000)",
  inFlight: "with --async: trajectories out at the workers at once (1 to 100,000; default twice --meta-batch; at least the number of workers)",
  redisWait: "with --redis: seconds to wait for a lost Redis before checkpointing and stopping (1 to 86,400)",
  workersExpected: "with --redis: wait until this many workers are connected before the first job (0 to 100,000; 0: start at once)",
} as const;

/** The command-line name of a distributed flag: `redisWait` is `--redis-wait`. */
const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Whether the flags ask for distributed training. Before any work: a distributed flag typed
 * (`given`; a default is not) without --redis is refused, --staleness and --in-flight without
 * --async too, and every distributed number is checked (runDistributed reads them again).
 */
export function distributed(f: DistFlags, given: (name: keyof DistFlags) => boolean): boolean {
  if (f.redis === undefined && (f.async === true || f.inFlight !== undefined)) throw new UsageError("--async and --in-flight belong to distributed training: add --redis URL");
  const stray = f.redis === undefined ? (["queue", "staleness", "redisWait", "workersExpected"] as const).filter(given).map(flagName) : [];
  if (stray.length > 0) throw new UsageError(`${stray.join(", ")} ${stray.length === 1 ? "belongs" : "belong"} to distributed training: add --redis URL`);
  if (f.async !== true && f.inFlight !== undefined) throw new UsageError("--in-flight sets asynchronous training: add --async");
  if (f.async !== true && given("staleness")) throw new UsageError("--staleness bounds asynchronous training: add --async");
  parseCount("--staleness", f.staleness, { min: 0, max: 1000 });
  if (f.inFlight !== undefined) parseCount("--in-flight", f.inFlight, { min: 1, max: 100000 });
  parseNumber("--redis-wait", f.redisWait, { min: 1, max: 86400 });
  parseCount("--workers-expected", f.workersExpected, { min: 0, max: 100000 });
  return f.redis !== undefined;
}

/** Runs `job` on the workers of `--redis`, telling what goes wrong with jobs on standard error. */
export async function runDistributed(f: DistFlags, job: TrainJob, kernel: KernelOptions, signal: AbortSignal): Promise<TrainJobResult> {
  let redis: string;
  let queue: string;
  try {
    redis = checkRedisUrl(f.redis!);
    queue = checkQueueName(f.queue);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const staleness = parseCount("--staleness", f.staleness, { min: 0, max: 1000 });
  const inFlight = f.inFlight !== undefined ? parseCount("--in-flight", f.inFlight, { min: 1, max: 100000 }) : 2 * job.meta.metaBatch;
  const say = (m: string): void => void process.stderr.write(`\nl2o: ${m}\n`);
  const run = await runDistTrainJob(
    job,
    {
      redis,
      queue,
      kernel,
      ...(f.async === true ? { async: { staleness, inFlight } } : {}),
      waitSeconds: parseNumber("--redis-wait", f.redisWait, { min: 1, max: 86400 }),
      workersExpected: parseCount("--workers-expected", f.workersExpected, { min: 0, max: 100000 }),
      onNotice: say,
    },
    { signal },
  );
  const c = run.counts;
  const mean = (x: number): string => (c.results > 0 ? (x / c.results).toFixed(1) : "-");
  process.stderr.write(
    `l2o: ${c.sent} jobs sent, ${c.results} results used or dropped; ${c.rejected} rejected, ${c.refused} refused, ${c.failed} failed, ${c.duplicates} duplicates ignored` +
      `${f.async === true ? `, ${c.staleDropped} older than ${staleness} versions dropped` : ""}; per job ${mean(c.roundTripMs)} ms round trip, ${mean(c.computeMs)} ms of it computing\n`,
  );
  return run;
}
