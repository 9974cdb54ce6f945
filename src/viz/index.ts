/**
 * Figures, for the CLI and the dashboard alike: an evaluation report's losses, a generalisation
 * grid's ratios (`l2o generalize`) and a training
 * log's meta-loss and validation score as SVG text (vega-lite, no canvas), and SVG as PNG.
 * `png.ts` (resvg, a native module) and `file.ts` (node:fs) are for Node; a browser build
 * imports `eval_figure.ts`, `grid_figure.ts`, `training_figure.ts` and `training_log.ts` directly.
 */
export { evalFigureSvg, lossFigureSpec, lossPoints, seriesLabel, type LossFigureOptions, type LossPoint } from "./eval_figure.ts";
export { gridFigureCells, gridFigureSpec, gridFigureSvg, type GridFigureCell, type GridFigureOptions } from "./grid_figure.ts";
export { MAX_DRAWN_POINTS, runningMean, trainingFigureSpec, trainingFigureSvg, TRAINING_SERIES, type TrainingFigureOptions } from "./training_figure.ts";
export {
  figureInputKind,
  FigureInputError,
  parseTrainingLog,
  trainingSeries,
  TRAINING_SERIES_NAMES,
  type FigureInputKind,
  type SeriesPoint,
  type TrainingLogRecord,
  type TrainingSeries,
} from "./training_log.ts";
export { FIGURE_FONT, renderSvg, SERIES_COLORS } from "./render.ts";
export { fontSetup, svgToPng, type PngOptions } from "./png.ts";
export { figureFormat, FigureFormatError, FIGURE_FORMATS, writeFigure, type FigureFormat } from "./file.ts";
