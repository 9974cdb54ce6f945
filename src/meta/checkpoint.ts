/**
 * The meta-training state record as a checkpoint: every field by name, so a run resumes
 * exactly where it stopped (same phi, same outer Adam moments, same next task).
 */
import { keyFromJSON, keyToJSON } from "../core/rng.ts";
import type { OptState } from "../optimizers/transform.ts";
import type { CheckpointRecord, CheckpointValue } from "../io/checkpoint.ts";
import { FileFormatError } from "../io/safetensors.ts";
import type { MetaLossKind } from "./config.ts";
import type { MetaTrainState } from "./state.ts";

export function stateToCheckpoint(s: MetaTrainState): CheckpointRecord {
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

function f32(r: CheckpointRecord, k: string, n: number): Float32Array {
  const v = r[k];
  if (!(v instanceof Float32Array) || v.length !== n) bad(`field '${k}' is not ${n} float32 numbers (a different optimizer configuration?)`);
  return v;
}

/** Checkpoints written before `metaLoss` existed do not say (null). */
function scoreKind(r: CheckpointRecord): MetaLossKind | null {
  const v = r.scoreKind;
  if (v === undefined) return null;
  if (v !== "sum" && v !== "log") bad(`field 'scoreKind' is ${JSON.stringify(v)}, not 'sum' or 'log'`);
  return v;
}

/** Checks the record and rebuilds the state; `phiSize` must match the optimizer being trained. */
export function stateFromCheckpoint(r: CheckpointRecord, phiSize: number): MetaTrainState {
  if (r.kind !== "l2o-meta-train") bad("it is not a meta-training checkpoint");
  const adamState = r.adam as CheckpointValue;
  if (typeof adamState !== "object" || adamState === null || ArrayBuffer.isView(adamState) || Array.isArray(adamState)) bad("field 'adam' is missing");
  let trainKey, validKey;
  try {
    trainKey = keyFromJSON(r.trainKey);
    validKey = keyFromJSON(r.validKey);
  } catch (e) {
    bad((e as Error).message);
  }
  return {
    phi: f32(r, "phi", phiSize),
    adam: adamState as unknown as OptState,
    trainKey,
    validKey,
    epoch: num(r, "epoch"),
    metaIteration: num(r, "metaIteration"),
    horizons: num(r, "horizons"),
    // Checkpoints from before the field always ended on a whole epoch.
    epochHorizons: r.epochHorizons === undefined ? 0 : num(r, "epochHorizons"),
    skipped: num(r, "skipped"),
    bestPhi: f32(r, "bestPhi", phiSize),
    bestScore: num(r, "bestScore"),
    bestEpoch: num(r, "bestEpoch"),
    scoreKind: scoreKind(r),
    // Checkpoints from before `metaLossFrom` scored every step.
    scoreFrom: r.scoreFrom === undefined ? 1 : num(r, "scoreFrom"),
  };
}
