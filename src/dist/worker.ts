/**
 * `l2o worker`'s engine: a BullMQ worker on the run's queue whose jobs run in a sandboxed
 * child process (`processor.ts`, loaded through tsx), so that a long computation never
 * blocks the renewal of the job's lock; a worker killed mid-job stops renewing it, and after
 * `lockSeconds` another worker's stalled-job check puts the job back in the queue.
 *
 * A refused job (another l2o version, an optimizer kind this build lacks) stops the worker:
 * it cannot serve this run, and the learner gives the job to another.
 */
import { fileURLToPath } from "node:url";
import { Worker, type Job } from "bullmq";
import { L2O_VERSION } from "../io/version.ts";
import type { JobData, ResultData } from "./protocol.ts";
import { checkQueueName, connect, redisLabel } from "./redis.ts";

export interface WorkerOptions {
  readonly redis: string;
  readonly queue: string;
  /** Jobs at once (each in its own child process; default 1). */
  readonly concurrency?: number;
  /** How long a job stays claimed by a worker that stopped renewing its lock (default 30 s). */
  readonly lockSeconds?: number;
  /** Stop after this many seconds without a job (0: never; default 0). */
  readonly maxIdleSeconds?: number;
  /** The l2o version this worker runs as (default: its own; tests pose as an older worker). */
  readonly version?: string;
}

export interface WorkerHooks {
  onDone?(result: ResultData, job: Job<JobData>): void;
  onFailed?(reason: string, job: Job<JobData> | undefined): void;
  onRefused?(reason: string): void;
  onConnection?(message: string): void;
}

export interface RunningWorker {
  /** Resolves when the worker has stopped: why (idle, refused, closed). */
  readonly stopped: Promise<{ readonly why: "idle" | "refused" | "closed"; readonly reason?: string }>;
  /** Finishes the job in hand and stops. */
  close(): Promise<void>;
}

const PROCESSOR = fileURLToPath(new URL("./processor.ts", import.meta.url));
/** How long closing waits on Redis (the worker's own close, then the connection's quit) before giving up on it. */
const CLOSE_WAIT_MS = 5000;

/** Whether `p` settled (resolved or rejected) within `ms`; it is left to settle in the background if not. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** tsx's loader, by absolute URL, so the child finds it wherever it is started. */
const TSX = import.meta.resolve("tsx");

export function startWorker(o: WorkerOptions, hooks: WorkerHooks = {}): RunningWorker {
  const queue = checkQueueName(o.queue);
  let lostSince: number | undefined;
  const connection = connect(o.redis, (e) => {
    if (lostSince === undefined) hooks.onConnection?.(`Redis at ${redisLabel(o.redis)}: ${e.message}; reconnecting`);
    lostSince ??= Date.now();
  });
  connection.on("ready", () => {
    if (lostSince !== undefined) hooks.onConnection?.(`Redis at ${redisLabel(o.redis)}: connected again`);
    lostSince = undefined;
  });
  const lockMs = Math.round((o.lockSeconds ?? 30) * 1000);
  const worker = new Worker<JobData, ResultData>(queue, PROCESSOR, {
    connection,
    concurrency: o.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.round(lockMs / 2)),
    maxStalledCount: 5,
    useWorkerThreads: false,
    workerForkOptions: {
      execArgv: ["--import", TSX],
      env: { ...process.env, L2O_DIST_REDIS: o.redis, L2O_DIST_VERSION: o.version ?? L2O_VERSION },
    },
  });
  let settle!: (v: { why: "idle" | "refused" | "closed"; reason?: string }) => void;
  const stopped = new Promise<{ why: "idle" | "refused" | "closed"; reason?: string }>((res) => (settle = res));
  let last = Date.now();
  let busy = 0;
  let closing: Promise<void> | undefined;
  const stop = (why: "idle" | "refused" | "closed", reason?: string): Promise<void> => {
    closing ??= (async () => {
      clearInterval(idle);
      // A graceful close (and `quit`) waits for Redis, forever if it cannot be reached, so
      // neither --max-idle nor a signal could end a worker whose Redis is gone: such a worker,
      // with no job in hand, closes by force. Otherwise the job in hand is finished first.
      const reachable = connection.status === "ready";
      if (reachable || busy > 0) await worker.close();
      else await settledWithin(worker.close(true), CLOSE_WAIT_MS);
      if (reachable) await connection.quit().catch(() => connection.disconnect());
      else connection.disconnect();
      settle(reason === undefined ? { why } : { why, reason });
    })();
    return closing;
  };
  worker.on("active", () => {
    busy++;
    last = Date.now();
  });
  worker.on("completed", (job, result) => {
    busy--;
    last = Date.now();
    hooks.onDone?.(result, job);
  });
  worker.on("failed", (job, err) => {
    busy--;
    last = Date.now();
    if (err.name === "UnrecoverableError" && err.message.startsWith("refused:")) {
      hooks.onRefused?.(err.message);
      void stop("refused", err.message);
    } else hooks.onFailed?.(err.message, job);
  });
  worker.on("error", (e) => hooks.onConnection?.(`worker: ${e.message}`));
  const idleMs = (o.maxIdleSeconds ?? 0) * 1000;
  const idle = setInterval(() => {
    if (idleMs > 0 && busy <= 0 && Date.now() - last > idleMs) void stop("idle");
  }, 250);
  return { stopped, close: () => stop("closed") };
}
