/**
 * The sandboxed processor (BullMQ runs it in a child process of the worker, so that the
 * CPU-bound computation never blocks the worker's lock renewal): checks the job's versions,
 * fetches its phi version from Redis once (a few kept), computes and returns the result.
 * A refusal fails the job as BullMQ's UnrecoverableError (by name), so it is not retried.
 *
 * Its settings come from the environment the worker gives it: `L2O_DIST_REDIS` (the URL) and
 * `L2O_DIST_VERSION` (the l2o version the worker runs as: tests pose as an older worker).
 */
import type { SandboxedJob } from "bullmq";
import type { Redis } from "ioredis";
import { L2O_VERSION } from "../io/version.ts";
import { checkJob, JobComputer, RefusedJobError } from "./compute.ts";
import { f32FromB64, type JobData, type ResultData } from "./protocol.ts";
import { connect } from "./redis.ts";

// A child whose worker is gone (stopped, or killed with its machine) has nothing left to do:
// without this its Redis connection would keep it alive, an orphan.
process.on("disconnect", () => process.exit(0));

const computer = new JobComputer();
const phis = new Map<string, Float32Array>();
let redis: Redis | undefined;

/** Phi from its key, kept for the next jobs of the same version (the last 4 versions). */
async function phiAt(key: string): Promise<Float32Array> {
  const had = phis.get(key);
  if (had !== undefined) return had;
  redis ??= connect(process.env.L2O_DIST_REDIS ?? "redis://127.0.0.1:6379");
  const text = await redis.get(key);
  // A missing phi (Redis restarted, the learner republishes it): an ordinary failure, retried.
  if (text === null) throw new Error(`phi ${key} is not in Redis (yet)`);
  const phi = f32FromB64(text, `phi ${key}`);
  phis.set(key, phi);
  while (phis.size > 4) phis.delete(phis.keys().next().value!);
  return phi;
}

function unrecoverable(e: RefusedJobError): Error {
  const err = new Error(e.message);
  err.name = "UnrecoverableError";
  return err;
}

export default async function process_(job: SandboxedJob<JobData, ResultData>): Promise<ResultData> {
  try {
    checkJob(job.data, process.env.L2O_DIST_VERSION ?? L2O_VERSION);
    return computer.compute(job.data, await phiAt(job.data.phiKey));
  } catch (e) {
    if (e instanceof RefusedJobError) throw unrecoverable(e);
    throw e;
  }
}
