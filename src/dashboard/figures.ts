/**
 * The figure of each file the dashboard lists, as SVG text, drawn by `src/viz/` from a bounded
 * read: an evaluation report whole (it is at most `CATALOG_LIMITS.reportBytes`), a training
 * log from its last `LOG_BYTES`, a run file (`l2o run --out`: the per-step mean loss with its
 * 95% interval) from its first `LOG_BYTES`, drawn as a one-row report. Figures are kept by the
 * file's size and time, so a page that asks again costs nothing until the file changes.
 */
import { statSync } from "node:fs";
import type { EvalReport } from "../eval/evaluate.ts";
import { evalFigureSvg, parseTrainingLog, trainingFigureSvg } from "../viz/index.ts";
import { asReport, CATALOG_LIMITS, parseL2oJson, type EntryKind } from "./catalog.ts";
import { readHead, readTailLines } from "./files.ts";

/** Most bytes of a log a figure is drawn from (the last ones of a training log). */
export const LOG_BYTES = 8 * 2 ** 20;

/** A file whose figure cannot be drawn (not what its kind says, nothing to draw). */
export class FigureError extends Error {
  override readonly name = "FigureError";
}

function evalFigure(path: string, file: string): Promise<string> {
  const report = asReport(parseL2oJson(readHead(path, CATALOG_LIMITS.reportBytes).text));
  if (report === undefined) throw new FigureError(`${file} is not an evaluation report`);
  return evalFigureSvg(report as unknown as EvalReport);
}

function runFigure(path: string, file: string): Promise<string> {
  const { text, cut } = readHead(path, LOG_BYTES);
  const meanLoss: number[] = [];
  const ci95: number[] = [];
  let n = 0;
  const lines = text.split("\n");
  if (cut) lines.pop(); // the last line read may be cut short
  for (const line of lines) {
    if (line.trim() === "") continue;
    let r: Record<string, unknown>;
    try {
      r = parseL2oJson(line) as Record<string, unknown>;
    } catch {
      continue; // a line being written
    }
    if (typeof r.step !== "number" || typeof r.meanLoss !== "number") continue;
    meanLoss[r.step] = r.meanLoss;
    ci95[r.step] = typeof r.ci95 === "number" ? r.ci95 : 0;
    if (typeof r.n === "number") n = Math.max(n, r.n);
  }
  if (meanLoss.length === 0) throw new FigureError(`${file} holds no per-step mean loss ('l2o run --out' lines)`);
  const filled = (xs: number[]): number[] => Array.from(xs, (x) => x ?? NaN);
  const report = {
    task: file,
    steps: meanLoss.length - 1,
    instances: n,
    seed: 0,
    results: [{ optimizer: "mean loss", lr: null, meanLoss: filled(meanLoss), ci95: filled(ci95) }],
  };
  return evalFigureSvg(report as unknown as EvalReport, { title: `${file}: ${n} instances` });
}

async function trainingFigure(path: string, file: string): Promise<string> {
  const { text, cut } = readTailLines(path, LOG_BYTES);
  try {
    return await trainingFigureSvg(parseTrainingLog(text, file), cut ? { title: `${file} (its last ${LOG_BYTES / 2 ** 20} MiB)` } : {});
  } catch (e) {
    throw new FigureError((e as Error).message);
  }
}

const cache = new Map<string, { key: string; svg: Promise<string> }>();
const CACHED = 32;

/** The figure of `path` (a real path inside the folder, named `file` in messages) as `kind`. */
export function figureSvg(path: string, file: string, kind: EntryKind): Promise<string> {
  const st = statSync(path);
  const key = `${kind}:${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.key === key) return hit.svg;
  const draw = kind === "eval" ? evalFigure : kind === "run" ? runFigure : trainingFigure;
  let svg: Promise<string>;
  try {
    svg = draw(path, file);
  } catch (e) {
    svg = Promise.reject(e instanceof FigureError ? e : new FigureError((e as Error).message));
  }
  svg.catch(() => {
    if (cache.get(path)?.svg === svg) cache.delete(path); // a failed drawing is tried again next time
  });
  cache.delete(path);
  cache.set(path, { key, svg });
  while (cache.size > CACHED) cache.delete(cache.keys().next().value!);
  return svg;
}
