/**
 * What a long command shows while it works, on standard error: a bar on a terminal; otherwise
 * (a log file, CI) a plain line every few seconds, `l2o: PHASE: DONE/TOTAL UNIT (P%), Xs
 * elapsed, about Ys left`, or `DONE UNIT (P% of the Ts time limit)` while a time limit will
 * end the work first. Nothing with --quiet. The estimate of the time left is ours (the work
 * done so far, or the time limit when that comes first), so the bar and the lines agree.
 *
 * L2O_PROGRESS_INTERVAL=SECONDS sets how often a plain line is written (default 5; tests use
 * a small one).
 */
import cliProgress from "cli-progress";
import { UsageError } from "./errors.ts";

export interface ProgressOptions {
  /** What is being done, e.g. `testing adam`; changed by `update`. */
  readonly phase: string;
  /** How many units the whole command does. */
  readonly total: number;
  /** The unit, plural: `runs`, `meta-iterations`. */
  readonly unit: string;
  /** A time limit in seconds (a training's --max-seconds): the work ends there if not before. */
  readonly limitSeconds?: number;
  /** Show nothing (--quiet). */
  readonly quiet?: boolean;
  /** Where to show it (default standard error; tests give a stream of their own). */
  readonly stream?: NodeJS.WritableStream & { readonly isTTY?: boolean };
}

export interface Progress {
  /** `done` units so far; `phase` what is being done now, `detail` a note shown after the count (the meta-loss). */
  update(done: number, info?: { readonly phase?: string; readonly detail?: string }): void;
  /** Work done before this process (a resumed training): counted as done, left out of the rate. */
  resumeFrom(done: number): void;
  /** Clears the bar (a terminal) and shows the cursor again. */
  stop(): void;
}

/** Seconds between plain progress lines: L2O_PROGRESS_INTERVAL, default 5. */
export function progressInterval(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.L2O_PROGRESS_INTERVAL;
  if (raw === undefined || raw === "") return 5;
  const v = Number(raw);
  if (!/^[0-9]*\.?[0-9]+$/.test(raw.trim()) || !(v > 0)) throw new UsageError(`L2O_PROGRESS_INTERVAL must be a number of seconds above 0, got '${raw}'`);
  return v;
}

/** A duration as a person reads it: `4.2s`, `45s`, `3m 05s`, `2h 07m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "unknown";
  if (seconds < 9.95) return `${Math.max(0, seconds).toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** How far the work is (0 to 1) and the seconds it has left, from the units done and the time limit. */
export function estimate(done: number, total: number, elapsed: number, limitSeconds = 0): { fraction: number; left: number } {
  const byWork = total > 0 ? Math.min(1, done / total) : 0;
  const byTime = limitSeconds > 0 ? Math.min(1, elapsed / limitSeconds) : 0;
  const leftByWork = done > 0 ? (elapsed * (total - done)) / done : Infinity;
  const leftByTime = limitSeconds > 0 ? Math.max(0, limitSeconds - elapsed) : Infinity;
  return { fraction: Math.max(byWork, byTime), left: Math.min(leftByWork, leftByTime) };
}

const SILENT: Progress = { update: () => {}, resumeFrom: () => {}, stop: () => {} };

/** The progress of one command, shown as the terminal allows (nothing with `quiet`). */
export function progress(opts: ProgressOptions): Progress {
  if (opts.quiet === true) return SILENT;
  const started = performance.now();
  let phase = opts.phase;
  let detail = "";
  let base = 0;
  const state = (done: number) => {
    const elapsed = (performance.now() - started) / 1000;
    const { left } = estimate(done - base, opts.total - base, elapsed, opts.limitSeconds);
    const byWork = opts.total > 0 ? Math.min(1, done / opts.total) : 0;
    const byTime = estimate(0, 0, elapsed, opts.limitSeconds).fraction;
    const pct = Math.floor(100 * Math.max(byWork, byTime));
    // When the time limit comes first, the count is against it, not against work never to be done.
    const count = byTime > byWork ? `${done} ${opts.unit} (${pct}% of the ${formatDuration(opts.limitSeconds!)} time limit)` : `${done}/${opts.total} ${opts.unit} (${pct}%)`;
    return { fraction: Math.max(byWork, byTime), count, elapsed: formatDuration(elapsed), left: Number.isFinite(left) ? `about ${formatDuration(left)}` : "unknown" };
  };
  const stream = opts.stream ?? process.stderr;
  if (stream.isTTY !== true) {
    const interval = progressInterval() * 1000;
    let last = started;
    return {
      update(done, info) {
        phase = info?.phase ?? phase;
        detail = info?.detail ?? detail;
        const now = performance.now();
        if (now - last < interval) return;
        last = now;
        const s = state(done);
        stream.write(`l2o: ${phase}: ${s.count}, ${s.elapsed} elapsed, ${s.left} left${detail === "" ? "" : `, ${detail}`}\n`);
      },
      resumeFrom: (done) => (base = done),
      stop: () => {},
    };
  }
  // The bar draws our fraction in thousandths; every field it shows is in the payload from the start.
  const bar = new cliProgress.SingleBar(
    { stream: stream as NodeJS.WriteStream, format: "{phase} {bar} {count} | {elapsed} elapsed, {left} left{detail}", barsize: 24, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const payload = (done: number) => {
    const s = state(done);
    return { value: Math.round(1000 * s.fraction), fields: { phase, count: s.count, elapsed: s.elapsed, left: s.left, detail: detail === "" ? "" : ` | ${detail}` } };
  };
  const first = payload(0);
  bar.start(1000, first.value, first.fields);
  return {
    update(done, info) {
      phase = info?.phase ?? phase;
      detail = info?.detail ?? detail;
      const p = payload(done);
      bar.update(p.value, p.fields);
    },
    resumeFrom(done) {
      base = done;
      const p = payload(done);
      bar.update(p.value, p.fields);
    },
    // cli-progress shows the cursor again only if its redraw timer is still set; a bar stopped
    // after it went idle (a signal caught in a busy loop) would leave the cursor hidden.
    stop: () => {
      bar.stop();
      stream.write("\x1b[?25h");
    },
  };
}
