/**
 * The meta-training state record as a checkpoint: every field by name, so a run resumes
 * exactly where it stopped (same phi, same outer Adam moments, same next task). Loading checks
 * everything (finite weights of the optimizer's size, the outer Adam's state, counters that
 * fit together): a damaged checkpoint is a `FileFormatError`, never weights that train on as
 * NaN. A checkpoint also records the run it belongs to (`RunRecord`), which a resumed run
 * must match (`checkRunRecord`).
 */
import { ConfigError } from "../core/errors.ts";
import { firstNonFinite } from "../core/finite.ts";
import { keyFromJSON, keyToJSON } from "../core/rng.ts";
import type { OptState } from "../optimizers/transform.ts";
import type { CheckpointRecord, CheckpointValue } from "../io/checkpoint.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { META_LOSS_KINDS, type MetaLossKind, type MetaTrainConfig } from "./config.ts";
import { outerOptimizer } from "./outer.ts";
import type { MetaTrainState } from "./state.ts";

/** Refuses to checkpoint weights or Adam moments that are not finite. */
function checkFinite(a: Float32Array, what: string): void {
  const i = firstNonFinite(a);
  if (i >= 0) throw new ConfigError(`checkpoint: refusing to save ${what} with a non-finite value (${a[i]} at ${i}); meta-training diverged (try a smaller --meta-lr or --clip)`);
}

/** The typed arrays of a record, with their dotted paths. */
function arraysOf(v: unknown, path: string, out: Array<[string, Float32Array]> = []): Array<[string, Float32Array]> {
  if (v instanceof Float32Array) out.push([path, v]);
  else if (Array.isArray(v)) v.forEach((x, i) => arraysOf(x, `${path}.${i}`, out));
  else if (typeof v === "object" && v !== null && !ArrayBuffer.isView(v)) for (const [k, x] of Object.entries(v)) arraysOf(x, `${path}.${k}`, out);
  return out;
}

export function stateToCheckpoint(s: MetaTrainState): CheckpointRecord {
  checkFinite(s.phi, "phi");
  checkFinite(s.bestPhi, "the best phi");
  for (const [path, a] of arraysOf(s.adam, "adam")) checkFinite(a, `the outer Adam's ${path}`);
  return {
    kind: "l2o-meta-train",
    phi: s.phi,
    adam: s.adam as unknown as CheckpointRecord,
    trainKey: keyToJSON(s.trainKey),
    validKey: keyToJSON(s.validKey),
    epoch: s.epoch,
    metaIteration: s.metaIteration,
    horizons: s.horizons,
    epochHorizons: s.epochHorizons,
    epochLoss: s.epochLoss,
    epochUpdates: s.epochUpdates,
    skipped: s.skipped,
    bestPhi: s.bestPhi,
    // JSON has no Infinity: the checkpoint writer tags non-finite numbers itself.
    bestScore: s.bestScore,
    bestEpoch: s.bestEpoch,
    ...(s.scoreKind !== null ? { scoreKind: s.scoreKind } : {}),
    scoreFrom: s.scoreFrom,
  };
}

function bad(what: string): never {
  throw new FileFormatError(`checkpoint: ${what}; it was not written by this version of 'l2o train', or it is damaged. Delete it to start over.`);
}

function num(r: CheckpointRecord, k: string): number {
  const v = r[k];
  if (typeof v !== "number") bad(`field '${k}' is missing or not a number`);
  return v;
}

/** A counter: an integer >= min (0 by default). */
function count(r: CheckpointRecord, k: string, min = 0): number {
  const v = num(r, k);
  if (!Number.isSafeInteger(v) || v < min) bad(`field '${k}' is ${v}, not an integer >= ${min}`);
  return v;
}

function f32(r: CheckpointRecord, k: string, n: number): Float32Array {
  const v = r[k];
  if (!(v instanceof Float32Array) || v.length !== n) bad(`field '${k}' is not ${n} float32 numbers (a different optimizer configuration?)`);
  const i = firstNonFinite(v);
  if (i >= 0) bad(`field '${k}' holds a non-finite value (${v[i]} at ${i})`);
  return v;
}

/** Checkpoints written before `metaLoss` existed do not say (null). */
function scoreKind(r: CheckpointRecord): MetaLossKind | null {
  const v = r.scoreKind;
  if (v === undefined) return null;
  if (!META_LOSS_KINDS.includes(v as MetaLossKind)) bad(`field 'scoreKind' is ${JSON.stringify(v)}, not one of ${META_LOSS_KINDS.join(", ")}`);
  return v as MetaLossKind;
}

function isRecord(v: unknown): v is CheckpointRecord {
  return typeof v === "object" && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v);
}

/**
 * The outer Adam's state, checked against the shape a fresh one has for `phiSize` weights:
 * the same nesting, arrays of phi's length with finite values (second moments >= 0), a step
 * count that equals the meta-iterations made.
 */
function adamState(v: CheckpointValue | undefined, phiSize: number, metaIteration: number): OptState {
  if (!isRecord(v)) bad("field 'adam' is missing");
  const template = outerOptimizer({ metaLr: 1 }).init(new Float32Array(phiSize)) as unknown as CheckpointValue;
  const walk = (got: CheckpointValue | undefined, want: CheckpointValue, path: string): void => {
    if (want instanceof Float32Array) {
      if (!(got instanceof Float32Array) || got.length !== want.length) bad(`field '${path}' is not ${want.length} float32 numbers`);
      const i = firstNonFinite(got);
      if (i >= 0) bad(`field '${path}' holds a non-finite value (${got[i]} at ${i})`);
      if (path.endsWith(".nu") && got.some((x) => x < 0)) bad(`field '${path}' (second moments) holds a negative value`);
    } else if (typeof want === "number") {
      if (typeof got !== "number" || !Number.isSafeInteger(got) || got < 0) bad(`field '${path}' is ${String(got)}, not an integer >= 0`);
      if (path.endsWith(".count") && got !== metaIteration) bad(`field '${path}' is ${got}, but the checkpoint made ${metaIteration} meta-iterations`);
    } else if (Array.isArray(want)) {
      if (!Array.isArray(got) || got.length !== want.length) bad(`field '${path}' does not hold ${want.length} entries`);
      want.forEach((w: CheckpointValue, i) => walk((got as readonly CheckpointValue[])[i], w, `${path}.${i}`));
    } else if (isRecord(want)) {
      if (!isRecord(got)) bad(`field '${path}' is missing or not a record`);
      const extra = Object.keys(got).filter((k) => !Object.hasOwn(want, k));
      if (extra.length > 0) bad(`field '${path}' holds unexpected entries ${extra.join(", ")}`);
      for (const [k, w] of Object.entries(want)) walk(got[k], w, `${path}.${k}`);
    }
  };
  walk(v, template, "adam");
  return v as unknown as OptState;
}

/**
 * Checks the record and rebuilds the state; `phiSize` must match the optimizer being trained.
 * With `cfg` (the run's settings), the counters are also checked against its epochs: the
 * horizons done in the epoch in progress below `horizonsPerEpoch`, a multiple of `metaBatch`,
 * and the horizons in all equal to the epochs' plus those.
 */
export function stateFromCheckpoint(
  r: CheckpointRecord,
  phiSize: number,
  cfg?: Pick<MetaTrainConfig, "horizonsPerEpoch" | "metaBatch" | "horizon" | "unroll">,
): MetaTrainState {
  if (r.kind !== "l2o-meta-train") bad("it is not a meta-training checkpoint");
  let trainKey, validKey;
  try {
    trainKey = keyFromJSON(r.trainKey);
    validKey = keyFromJSON(r.validKey);
  } catch (e) {
    bad((e as Error).message);
  }
  const phi = f32(r, "phi", phiSize);
  const bestPhi = f32(r, "bestPhi", phiSize);
  const epoch = count(r, "epoch");
  const metaIteration = count(r, "metaIteration");
  const horizons = count(r, "horizons");
  // Checkpoints from before the field always ended on a whole epoch.
  const epochHorizons = r.epochHorizons === undefined ? 0 : count(r, "epochHorizons");
  // Checkpoints from before these fields did not carry an epoch's losses across a cut.
  const epochUpdates = r.epochUpdates === undefined ? 0 : count(r, "epochUpdates");
  const epochLoss = r.epochLoss === undefined ? 0 : num(r, "epochLoss");
  if (Number.isNaN(epochLoss)) bad("field 'epochLoss' is NaN");
  const skipped = count(r, "skipped");
  const bestEpoch = count(r, "bestEpoch", -1);
  const bestScore = num(r, "bestScore");
  // Checkpoints from before `metaLossFrom` scored every step.
  const scoreFrom = r.scoreFrom === undefined ? 1 : count(r, "scoreFrom", 1);
  const adam = adamState(r.adam, phiSize, metaIteration);
  const limit = (ok: boolean, what: string): void => {
    if (!ok) bad(what);
  };
  // An epoch cut by a time limit is validated as the next one, so the best may be epoch + 1.
  limit(bestEpoch <= epoch + (epochHorizons > 0 ? 1 : 0), `field 'bestEpoch' is ${bestEpoch}, after the epochs done (${epoch})`);
  limit(!Number.isNaN(bestScore) && (bestEpoch < 0 ? bestScore === Infinity : bestScore < Infinity), `field 'bestScore' (${bestScore}) does not fit 'bestEpoch' (${bestEpoch})`);
  // A trajectory that diverges drops out of its horizon, so each horizon skips at most once.
  limit(skipped <= horizons, `field 'skipped' (${skipped}) exceeds the horizons done (${horizons})`);
  limit(epochUpdates <= metaIteration, `field 'epochUpdates' (${epochUpdates}) exceeds the meta-iterations (${metaIteration})`);
  limit(epochUpdates > 0 || epochLoss === 0, `field 'epochLoss' is ${epochLoss} with no update in the epoch`);
  if (cfg !== undefined) {
    limit(epochHorizons < cfg.horizonsPerEpoch, `field 'epochHorizons' (${epochHorizons}) is not below the horizons per epoch (${cfg.horizonsPerEpoch})`);
    limit(epochHorizons % cfg.metaBatch === 0, `field 'epochHorizons' (${epochHorizons}) is not a multiple of the meta-batch (${cfg.metaBatch})`);
    limit(horizons === epoch * cfg.horizonsPerEpoch + epochHorizons, `field 'horizons' (${horizons}) is not ${epoch} epochs of ${cfg.horizonsPerEpoch} plus ${epochHorizons}`);
    const most = (horizons / cfg.metaBatch) * (cfg.horizon / cfg.unroll);
    limit(metaIteration <= most, `field 'metaIteration' (${metaIteration}) exceeds the ${most} that ${horizons} horizons allow`);
    limit(scoreFrom <= cfg.horizon, `field 'scoreFrom' (${scoreFrom}) is after the horizon (${cfg.horizon})`);
  }
  return {
    phi,
    adam,
    trainKey,
    validKey,
    epoch,
    metaIteration,
    horizons,
    epochHorizons,
    epochLoss,
    epochUpdates,
    skipped,
    bestPhi,
    bestScore,
    bestEpoch,
    scoreKind: scoreKind(r),
    scoreFrom,
  };
}

/**
 * What a run was made with, as its checkpoint records it: the task and its resolved config,
 * the optimizer's kind and config, every meta-training setting (seeds included), the file it
 * started from, and how it runs (engine, reduction). JSON values only.
 */
export type RunRecord = CheckpointRecord;

/**
 * The settings that may differ between a checkpoint's run and the run resuming it (top-level
 * names of the record); the paths of the output, the checkpoint and the log are not recorded,
 * so they may change too. Every other setting changes the bits of the training.
 */
export const RESUME_MAY_CHANGE: readonly string[] = ["epochs", "maxSeconds", "patience", "threads"];

const show = (v: CheckpointValue | undefined): string => (v === undefined ? "(not set)" : JSON.stringify(v));

/**
 * Checks that the checkpoint `source`'s run record (`recorded`, its `run` field) matches
 * `current`: throws a one-line `ConfigError` naming the first setting that differs and both
 * values. A checkpoint older than run records has none: the result is a caveat to show (its
 * settings cannot be checked), and the run resumes.
 */
export function checkRunRecord(recorded: CheckpointValue | undefined, current: RunRecord, source: string): string | undefined {
  if (recorded === undefined) {
    return `${source} does not record the settings it was made with (an older l2o wrote it), so they cannot be checked: resuming with this run's`;
  }
  if (!isRecord(recorded)) throw new FileFormatError(`${source}: field 'run' is not a record; it is damaged. Delete it to start over.`, { path: source });
  type Difference = { path: string; was: CheckpointValue | undefined; now: CheckpointValue | undefined };
  const differ = (was: CheckpointValue | undefined, now: CheckpointValue | undefined, path: string): Difference | undefined => {
    if (isRecord(was) && isRecord(now)) {
      const keys = [...Object.keys(now), ...Object.keys(was).filter((k) => !Object.hasOwn(now, k))];
      for (const k of keys) {
        if (path === "" && RESUME_MAY_CHANGE.includes(k)) continue;
        const d = differ(was[k], now[k], path === "" ? k : `${path}.${k}`);
        if (d !== undefined) return d;
      }
      return undefined;
    }
    return show(was) === show(now) ? undefined : { path, was, now };
  };
  const d = differ(recorded, current, "");
  if (d === undefined) return undefined;
  if (d.path === "taskModuleSha256") {
    throw new ConfigError(
      `${source} was made with another version of the task module: its file's SHA-256 was ${show(d.was)}, it is now ${show(d.now)}; ` +
        `restore the module as it was, or start a new run with another checkpoint path`,
    );
  }
  throw new ConfigError(
    `${source} belongs to another run: it was made with ${d.path} ${show(d.was)}, this run has ${show(d.now)}; ` +
      `resume with the same settings (only ${RESUME_MAY_CHANGE.join(", ")} and the file paths may change), or start a new run with another checkpoint path`,
  );
}
