/**
 * Jobs as the learner sees them: one per trajectory and truncation under one phi version,
 * sent with an id that names all three (and the try), and results checked against their job.
 * A malformed result, a refusal (a worker of another version or build) or a failure is told
 * to `onNotice`, counted, and the job is sent again under the next try's id; after
 * `maxTries` tries the run stops with the last reason.
 */
import { L2oError } from "../core/errors.ts";
import type { TrajectoryRecord } from "../meta/trajectory.ts";
import type { Dispatcher } from "./dispatch.ts";
import { decodeResult, encodeRecord, MalformedResultError, PROTOCOL, type JobData, type JobSetup, type Result } from "./protocol.ts";

/** A job failed every try. */
export class JobFailedError extends L2oError {
  override readonly name = "JobFailedError";
}

/** What the learner counts of its jobs (logged as dist/...). */
export interface JobCounts {
  sent: number;
  rejected: number;
  refused: number;
  failed: number;
  /** Wall time from sending to the result, and the workers' compute time within it, summed (ms). */
  roundTripMs: number;
  computeMs: number;
  results: number;
}

export class JobRunner {
  readonly counts: JobCounts = { sent: 0, rejected: 0, refused: 0, failed: 0, roundTripMs: 0, computeMs: 0, results: 0 };
  readonly #tries = new Map<string, number>();
  readonly #sentAt = new Map<string, number>();

  constructor(
    readonly dispatch: Dispatcher,
    readonly run: string,
    readonly l2o: string,
    readonly setup: JobSetup,
    readonly onNotice: (message: string) => void = () => {},
    readonly maxTries = 20,
  ) {}

  /** Sends each trajectory of `records` through truncation `index` under phi `version` (at `phiKey`), in one round trip. */
  async send(records: readonly TrajectoryRecord[], index: number, version: number, phiKey: string): Promise<void> {
    const data = records.map((r): JobData => ({ protocol: PROTOCOL, l2o: this.l2o, run: this.run, phiVersion: version, phiKey, setup: this.setup, index, record: encodeRecord(r) }));
    await this.#send(data, 1);
  }

  async #send(data: readonly JobData[], tryNo: number): Promise<void> {
    const jobs = data.map((d) => ({ id: `${this.run}-v${d.phiVersion}-h${d.record.horizon as number}-t${d.index}-a${tryNo}`, data: d }));
    for (const { id } of jobs) {
      this.#tries.set(id, tryNo);
      this.#sentAt.set(id, performance.now());
    }
    this.counts.sent += jobs.length;
    await this.dispatch.submit(jobs);
  }

  /** The next good result (bad ones are told, counted and their jobs sent again); `stop`: give up waiting (`WaitInterrupted`). */
  async next(stop?: () => boolean): Promise<Result> {
    for (;;) {
      const o = await this.dispatch.next(stop);
      const tryNo = this.#tries.get(o.id) ?? 1;
      const sentAt = this.#sentAt.get(o.id);
      this.#tries.delete(o.id);
      this.#sentAt.delete(o.id);
      const what = `job ${o.id} (horizon ${o.job.record.horizon as number}, truncation ${o.job.index}, phi version ${o.job.phiVersion})`;
      let reason: string;
      if ("value" in o) {
        try {
          const r = decodeResult(o.value, o.job);
          this.counts.results++;
          this.counts.computeMs += r.computeMs;
          if (sentAt !== undefined) this.counts.roundTripMs += performance.now() - sentAt;
          return r;
        } catch (e) {
          if (!(e instanceof MalformedResultError)) throw e;
          this.counts.rejected++;
          reason = `rejected a malformed result of ${what}: ${e.message}`;
        }
      } else if (o.failed.startsWith("refused:")) {
        this.counts.refused++;
        reason = `a worker refused ${what}: ${o.failed.replace(/^refused:\s*/, "")}`;
      } else {
        this.counts.failed++;
        reason = `${what} failed: ${o.failed}`;
      }
      this.onNotice(`${reason}; sending it again`);
      if (tryNo >= this.maxTries) throw new JobFailedError(`${what} went wrong ${tryNo} times; the last: ${reason}`);
      await this.#send([o.job], tryNo + 1);
    }
  }
}
