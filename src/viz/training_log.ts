/**
 * A training log (`l2o train --log`, JSONL) as the series its figure draws. The log holds
 * scalars `{step, name, value, time}`: `meta/loss` per meta-iteration, `valid/score` per
 * epoch, and `valid/partial_score` for an epoch cut short by the time limit (validated again
 * when a resumed run finishes it); non-finite values are written as strings ("NaN").
 */
import { L2oError } from "../core/errors.ts";

/** One line of a training log as it was parsed (other fields and other lines are ignored). */
export interface TrainingLogRecord {
  readonly step?: unknown;
  readonly name?: unknown;
  readonly value?: unknown;
  readonly [field: string]: unknown;
}

/** A point of a series: its x (meta-iteration or epoch) and value. */
export interface SeriesPoint {
  readonly x: number;
  readonly value: number;
}

/** The series of a training log. */
export interface TrainingSeries {
  /** The meta-loss of each meta-iteration (finite values only). */
  readonly metaLoss: SeriesPoint[];
  /** The validation score after each epoch. */
  readonly validation: SeriesPoint[];
  /** The validation score of an epoch cut short by the time limit. */
  readonly partialValidation: SeriesPoint[];
}

/** A file given to draw that is neither kind of input, or a training log with nothing to draw. */
export class FigureInputError extends L2oError {
  override readonly name = "FigureInputError";
}

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** The records' values of series `name` by step, the last one kept when a step repeats, finite ones only, by step. */
function series(records: readonly TrainingLogRecord[], name: string): SeriesPoint[] {
  const byStep = new Map<number, number>();
  for (const r of records) {
    if (r.name !== name || typeof r.step !== "number" || !Number.isSafeInteger(r.step)) continue;
    const v = typeof r.value === "string" ? NON_FINITE[r.value] : r.value;
    if (typeof v === "number") byStep.set(r.step, v);
  }
  return [...byStep.entries()].filter(([, v]) => Number.isFinite(v)).sort((a, b) => a[0] - b[0]).map(([x, value]) => ({ x, value }));
}

/** The names a training log's figure draws. */
export const TRAINING_SERIES_NAMES = ["meta/loss", "valid/score", "valid/partial_score"] as const;

/** The series a training log's records hold. */
export function trainingSeries(records: readonly TrainingLogRecord[]): TrainingSeries {
  return { metaLoss: series(records, "meta/loss"), validation: series(records, "valid/score"), partialValidation: series(records, "valid/partial_score") };
}

/**
 * The records of a training log's text, one JSON object per line. A last line cut short (a
 * training killed while writing it) is skipped; any other line that is not a JSON object is a
 * FigureInputError naming it, as is a log with no scalar that a training writes.
 */
export function parseTrainingLog(text: string, source = "the training log"): TrainingLogRecord[] {
  const lines = text.split("\n");
  const out: TrainingLogRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) break; // no newline yet: the last write was cut short
      throw new FigureInputError(`${source}:${i + 1} is not a JSON line; a training log ('l2o train --log') holds one JSON object per line`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FigureInputError(`${source}:${i + 1} is not a JSON object; a training log ('l2o train --log') holds one per line`);
    out.push(v as TrainingLogRecord);
  }
  if (!out.some((r) => (TRAINING_SERIES_NAMES as readonly unknown[]).includes(r.name))) {
    throw new FigureInputError(`${source} has no ${TRAINING_SERIES_NAMES.join(", ")} lines to draw: is it a log written by 'l2o train --log'?`);
  }
  return out;
}

/** What a file given to draw holds, judged from its content. */
export type FigureInputKind = "eval-report" | "training-log";

/**
 * Whether `text` is an evaluation report (one JSON object with `results`, as `l2o eval --json`
 * writes) or a training log (JSON lines, some of them a training's scalars); a FigureInputError
 * for anything else.
 */
export function figureInputKind(text: string, source: string): FigureInputKind {
  try {
    const v = JSON.parse(text) as unknown;
    if (isObject(v) && Array.isArray(v.results)) return "eval-report";
  } catch {
    // not one JSON value: maybe JSON lines
  }
  // A training log's lines are scalars from its first line on; `parseTrainingLog` then names a bad line.
  const first = text.slice(0, 4096).split("\n").find((l) => l.trim() !== "") ?? "";
  let v: unknown;
  try {
    v = JSON.parse(first);
  } catch {
    v = undefined;
  }
  if (isObject(v) && typeof v.name === "string" && typeof v.step === "number") return "training-log";
  throw new FigureInputError(
    `${source} is neither an evaluation report (a JSON object with results, from 'l2o eval --json') nor a training log (JSON lines of meta/loss and valid/score, from 'l2o train --log')`,
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
