/**
 * The figure of a meta-training run, from its log (`l2o train --log`): on the left the
 * meta-loss of every meta-iteration with its running mean (the raw values are noisy: each is
 * one sampled task's truncation), on the right the validation score after every epoch.
 */
import type { TopLevelSpec } from "vega-lite";
import { FIGURE_FONT, renderSvg, SERIES_COLORS } from "./render.ts";
import { FigureInputError, trainingSeries, type SeriesPoint, type TrainingLogRecord } from "./training_log.ts";

export interface TrainingFigureOptions {
  /** Figure title (default: how many meta-iterations and epochs the log holds). */
  readonly title?: string | undefined;
  /** A linear meta-loss axis instead of the log one (always linear when a meta-loss is not positive). */
  readonly linear?: boolean | undefined;
}

/** The series' names in the legend, each with its colour. */
export const TRAINING_SERIES = {
  metaLoss: { label: "meta-loss", color: SERIES_COLORS[9]! },
  runningMean: { label: "meta-loss, running mean", color: SERIES_COLORS[0]! },
  validation: { label: "validation score", color: SERIES_COLORS[1]! },
  partialValidation: { label: "validation, epoch cut short", color: SERIES_COLORS[2]! },
} as const;

/** The mean of each point's last `window` values (fewer at the start). */
export function runningMean(points: readonly SeriesPoint[], window: number): SeriesPoint[] {
  let sum = 0;
  return points.map((p, i) => {
    sum += p.value;
    if (i >= window) sum -= points[i - window]!.value;
    return { x: p.x, value: sum / Math.min(i + 1, window) };
  });
}

type Row = { series: string; x: number; value: number };

/** Points a series is drawn with at most: a long run's figure stays a small file. */
export const MAX_DRAWN_POINTS = 2000;

/** Every k-th point (and the last), k chosen so that at most `MAX_DRAWN_POINTS` are left. */
function thin(points: readonly SeriesPoint[]): readonly SeriesPoint[] {
  const k = Math.ceil(points.length / MAX_DRAWN_POINTS);
  if (k <= 1) return points;
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

const rows = (points: readonly SeriesPoint[], series: string): Row[] => thin(points).map((p) => ({ series, x: p.x, value: p.value }));

/** The vega-lite specification of the figure; a FigureInputError when the records hold nothing to draw. */
export function trainingFigureSpec(records: readonly TrainingLogRecord[], opts: TrainingFigureOptions = {}): TopLevelSpec {
  const s = trainingSeries(records);
  if (s.metaLoss.length === 0 && s.validation.length === 0 && s.partialValidation.length === 0) {
    throw new FigureInputError("the training log has no finite meta-loss or validation score to draw");
  }
  const S = TRAINING_SERIES;
  // About 20 windows over the run: smooth enough to see the trend, short enough to follow it.
  const window = Math.max(1, Math.round(s.metaLoss.length / 20));
  const lossRows = [...rows(s.metaLoss, S.metaLoss.label), ...(window > 1 ? rows(runningMean(s.metaLoss, window), S.runningMean.label) : [])];
  const validRows = [...rows(s.validation, S.validation.label), ...rows(s.partialValidation, S.partialValidation.label)];
  const logLoss = opts.linear !== true && s.metaLoss.every((p) => p.value > 0);
  const present = Object.values(S).filter((x) => [...lossRows, ...validRows].some((r) => r.series === x.label));
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: { domain: present.map((x) => x.label), range: present.map((x) => x.color) },
    legend: { orient: "bottom" as const, symbolType: "stroke", symbolStrokeWidth: 2, labelLimit: 320 },
  };
  const panel = (values: Row[], xTitle: string, yTitle: string, log: boolean, points: boolean) => ({
    width: 400,
    height: 280,
    data: { values: values as unknown as Record<string, unknown>[] },
    mark: { type: "line" as const, strokeWidth: 2, point: points },
    encoding: {
      x: { field: "x", type: "quantitative" as const, title: xTitle, ...(points ? { axis: { tickMinStep: 1 } } : {}) },
      y: { field: "value", type: "quantitative" as const, title: yTitle, scale: log ? { type: "log" as const } : { zero: false } },
      color,
    },
  });
  const panels = [
    ...(lossRows.length > 0 ? [panel(lossRows, "meta-iteration", `meta-loss${logLoss ? " (log scale)" : ""}`, logLoss, false)] : []),
    ...(validRows.length > 0 ? [panel(validRows, "epoch", "validation score (lower is better)", false, true)] : []),
  ];
  const epochs = s.validation.length === 0 ? 0 : s.validation[s.validation.length - 1]!.x;
  const iterations = s.metaLoss.length === 0 ? 0 : s.metaLoss[s.metaLoss.length - 1]!.x;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: opts.title ?? `meta-training: ${iterations} meta-iterations, ${epochs} epochs`,
      subtitle: [
        ...(window > 1 ? [`running mean over ${window} meta-iterations`] : []),
        ...(s.metaLoss.length > MAX_DRAWN_POINTS ? [`1 in ${Math.ceil(s.metaLoss.length / MAX_DRAWN_POINTS)} meta-iterations drawn`] : []),
      ].join("; "),
    },
    background: "white",
    hconcat: panels,
    resolve: { scale: { color: "shared" } },
    config: { font: FIGURE_FONT },
  } as TopLevelSpec;
}

/** The figure of a training log's records as SVG text (what `l2o plot LOG.jsonl` draws). */
export async function trainingFigureSvg(records: readonly TrainingLogRecord[], opts: TrainingFigureOptions = {}): Promise<string> {
  return renderSvg(trainingFigureSpec(records, opts));
}
