/**
 * What a meta-gradient job and its result carry through Redis, as JSON: the run's setup
 * (task, optimizer kind and config, kernel, estimator settings, training key), the phi
 * version and where phi lies, the truncation, and the trajectory's record (theta and the
 * optimizer's state travel with the job, so any worker can continue any trajectory). Arrays
 * travel as base64 of their bytes, so every bit comes back.
 *
 * Results are untrusted input: `decodeResult` checks every field against the job that was
 * sent and throws `MalformedResultError` naming what is wrong.
 */
import { keyFromJSON, type Key } from "../core/rng.ts";
import { L2oError } from "../core/errors.ts";
import type { KernelOptions } from "../learned/kernel_options.ts";
import type { OptState } from "../optimizers/transform.ts";
import type { MetaLossKind, EstimatorName } from "../meta/config.ts";
import type { TrajectoryPart } from "../meta/estimator.ts";
import type { ParticlePair, TrajectoryRecord } from "../meta/trajectory.ts";

/** The job format's version: a worker refuses a job of another. */
export const PROTOCOL = 1;

/** A result that does not fit its job (or is not a result): rejected and logged. */
export class MalformedResultError extends L2oError {
  override readonly name = "MalformedResultError";
}

/** The meta-training settings a worker needs. */
export interface JobMeta {
  readonly unroll: number;
  readonly horizon: number;
  readonly metaLoss: MetaLossKind;
  readonly metaLossFrom: number;
  readonly estimator: EstimatorName;
  readonly esSigma?: number;
  readonly esPairs?: number;
  readonly secondOrder: boolean;
  readonly secondOrderScale: number;
}

/** What every job of a run shares. */
export interface JobSetup {
  readonly task: string;
  readonly taskConfig: Readonly<Record<string, unknown>>;
  readonly optimizer: { readonly kind: string; readonly config: unknown; readonly phiSize: number };
  readonly kernel: KernelOptions;
  readonly meta: JobMeta;
  readonly trainKey: readonly [number, number];
}

/** One job: trajectory `record` through truncation `index` under phi version `phiVersion`. */
export interface JobData {
  readonly protocol: number;
  /** The learner's l2o version: a worker on another refuses the job. */
  readonly l2o: string;
  readonly run: string;
  readonly phiVersion: number;
  /** The Redis key of that phi (base64 of its float32 bytes). */
  readonly phiKey: string;
  readonly setup: JobSetup;
  readonly index: number;
  readonly record: EncodedRecord;
}

type Encoded = string | number | boolean | null | { readonly [k: string]: Encoded } | readonly Encoded[];
export type EncodedRecord = { readonly [k: string]: Encoded };

/** A worker's answer. */
export interface ResultData {
  readonly protocol: number;
  readonly run: string;
  readonly phiVersion: number;
  readonly horizon: number;
  readonly index: number;
  /** The trajectory's part ("diverged"; null: the truncation only advanced it); the gradient as base64 float64. */
  readonly part: { readonly loss: number; readonly grad: string } | "diverged" | null;
  readonly record: EncodedRecord;
  /** Who computed it (host:pid) and how long the computation took. */
  readonly worker: string;
  readonly computeMs: number;
}

// ---- typed arrays as base64 ------------------------------------------------------------------

export function b64(a: Float32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function fromB64<T extends Float32Array | Float64Array>(s: unknown, C: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, what: string): T {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new MalformedResultError(`${what} is not base64`);
  const bytes = Buffer.from(s, "base64");
  if (bytes.length % C.BYTES_PER_ELEMENT !== 0) throw new MalformedResultError(`${what} holds ${bytes.length} bytes, not whole ${C.BYTES_PER_ELEMENT}-byte numbers`);
  const out = new ArrayBuffer(bytes.length);
  new Uint8Array(out).set(bytes);
  return new C(out);
}

export const f32FromB64 = (s: unknown, what: string): Float32Array => fromB64(s, Float32Array, what);
export const f64FromB64 = (s: unknown, what: string): Float64Array => fromB64(s, Float64Array, what);

// ---- optimizer states and trajectory records -------------------------------------------------

/** An optimizer state as JSON: float32 arrays as {$f32: base64}, numbers that JSON lacks as {$num}. */
function encodeState(v: OptState | Float32Array | number | readonly OptState[]): Encoded {
  if (v instanceof Float32Array) return { $f32: b64(v) };
  if (typeof v === "number") return Number.isFinite(v) ? v : { $num: String(v) };
  if (Array.isArray(v)) return v.map((x) => encodeState(x as OptState));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeState(x)]));
}

function decodeState(v: Encoded, what: string, depth = 0): OptState {
  if (depth > 16) throw new MalformedResultError(`${what} is nested too deep`);
  const one = (x: Encoded, w: string): OptState[string] => {
    if (typeof x === "number") return x;
    if (Array.isArray(x)) return x.map((y, i) => decodeState(y as Encoded, `${w}.${i}`, depth + 1));
    if (typeof x === "object" && x !== null) {
      const o = x as { readonly [k: string]: Encoded };
      if ("$f32" in o) return f32FromB64(o.$f32, w);
      if ("$num" in o) return Number(o.$num);
      return decodeState(o, w, depth + 1);
    }
    throw new MalformedResultError(`${w} is not part of an optimizer state`);
  };
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new MalformedResultError(`${what} is not an optimizer state`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, one(x, `${what}.${k}`)]));
}

export function encodeRecord(r: TrajectoryRecord): EncodedRecord {
  const particle = (p: ParticlePair["plus"]): Encoded => ({ theta: b64(p.theta), state: p.state === null ? null : encodeState(p.state) });
  return {
    horizon: r.horizon,
    position: r.position,
    theta: b64(r.theta),
    state: r.state === null ? null : b64(r.state),
    live: r.live,
    ...(r.particles !== undefined ? { particles: r.particles.map((p) => ({ plus: particle(p.plus), minus: particle(p.minus), acc: b64(p.acc) })) } : {}),
  };
}

const isObj = (v: unknown): v is { readonly [k: string]: Encoded } => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

export function decodeRecord(v: unknown, what = "record"): TrajectoryRecord {
  if (!isObj(v)) throw new MalformedResultError(`${what} is not an object`);
  if (!isCount(v.horizon) || !isCount(v.position)) throw new MalformedResultError(`${what}: horizon and position must be counts`);
  if (typeof v.live !== "boolean") throw new MalformedResultError(`${what}: live must be true or false`);
  const particle = (p: Encoded, w: string): ParticlePair["plus"] => {
    if (!isObj(p)) throw new MalformedResultError(`${w} is not a particle`);
    return { theta: f32FromB64(p.theta, `${w}.theta`), state: p.state === null ? null : decodeState(p.state!, `${w}.state`) };
  };
  let particles: ParticlePair[] | undefined;
  if (v.particles !== undefined) {
    if (!Array.isArray(v.particles)) throw new MalformedResultError(`${what}.particles is not a list`);
    particles = v.particles.map((p, j) => {
      if (!isObj(p)) throw new MalformedResultError(`${what}.particles.${j} is not a pair`);
      return { plus: particle(p.plus!, `${what}.particles.${j}.plus`), minus: particle(p.minus!, `${what}.particles.${j}.minus`), acc: f32FromB64(p.acc, `${what}.particles.${j}.acc`) };
    });
  }
  return {
    horizon: v.horizon,
    position: v.position,
    theta: f32FromB64(v.theta, `${what}.theta`),
    state: v.state === null ? null : f32FromB64(v.state, `${what}.state`),
    live: v.live,
    ...(particles !== undefined ? { particles } : {}),
  };
}

export function trainKeyOf(setup: JobSetup): Key {
  return keyFromJSON(setup.trainKey);
}

// ---- results ---------------------------------------------------------------------------------

/** A decoded, checked result. */
export interface Result {
  readonly phiVersion: number;
  readonly horizon: number;
  readonly index: number;
  readonly part: TrajectoryPart | "diverged" | null;
  readonly record: TrajectoryRecord;
  readonly worker: string;
  readonly computeMs: number;
}

/**
 * Checks a worker's answer against the job it answers: the same run, phi version, horizon
 * and truncation; a gradient of phi's size with finite numbers and a finite loss; a record of
 * the same horizon moved forward, with a theta of the same size.
 */
export function decodeResult(v: unknown, job: Pick<JobData, "run" | "phiVersion" | "index" | "setup" | "record">): Result {
  if (!isObj(v)) throw new MalformedResultError("the result is not an object");
  if (v.protocol !== PROTOCOL) throw new MalformedResultError(`the result's protocol is ${JSON.stringify(v.protocol)}, not ${PROTOCOL}`);
  const sent = decodeRecord(job.record, "the job's record");
  if (v.run !== job.run || v.phiVersion !== job.phiVersion || v.horizon !== sent.horizon || v.index !== job.index) {
    throw new MalformedResultError(`the result answers run ${String(v.run)}, phi ${String(v.phiVersion)}, horizon ${String(v.horizon)}, truncation ${String(v.index)}: not its job`);
  }
  const record = decodeRecord(v.record, "the result's record");
  if (record.horizon !== sent.horizon || record.position <= sent.position || record.position > job.setup.meta.horizon || record.theta.length !== sent.theta.length) {
    throw new MalformedResultError(`the result's record (horizon ${record.horizon}, position ${record.position}, ${record.theta.length} floats) does not continue the job's`);
  }
  let part: Result["part"];
  if (v.part === null || v.part === "diverged") part = v.part;
  else if (isObj(v.part)) {
    const grad = f64FromB64(v.part.grad, "the result's gradient");
    const loss = v.part.loss;
    if (grad.length !== job.setup.optimizer.phiSize) throw new MalformedResultError(`the result's gradient has ${grad.length} numbers, phi ${job.setup.optimizer.phiSize}`);
    if (typeof loss !== "number" || !Number.isFinite(loss) || !grad.every(Number.isFinite)) throw new MalformedResultError("the result's loss or gradient is not finite");
    part = { loss, grad };
  } else throw new MalformedResultError("the result's part is neither a gradient, 'diverged' nor null");
  if (part === "diverged" && record.live) throw new MalformedResultError("the result says diverged but its trajectory lives");
  const worker = typeof v.worker === "string" ? v.worker.slice(0, 200) : "?";
  const computeMs = typeof v.computeMs === "number" && v.computeMs >= 0 ? v.computeMs : 0;
  return { phiVersion: job.phiVersion, horizon: sent.horizon, index: job.index, part, record, worker, computeMs };
}
