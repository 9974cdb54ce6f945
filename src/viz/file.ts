/**
 * A figure written to a file: SVG or PNG, by the file's extension (`fig.svg`, `fig.png`), and
 * written whole or not at all.
 */
import { extname } from "node:path";
import { L2oError } from "../core/errors.ts";
import { writeFileAtomic } from "../io/files.ts";
import { svgToPng } from "./png.ts";

/** The formats a figure is written in, by extension. */
export const FIGURE_FORMATS = ["svg", "png"] as const;
export type FigureFormat = (typeof FIGURE_FORMATS)[number];

/** A figure's path with another extension; the message names the option that gave it. */
export class FigureFormatError extends L2oError {
  override readonly name = "FigureFormatError";
}

/** The format `path`'s extension names (any case), or a FigureFormatError naming `flag` and the allowed ones. */
export function figureFormat(path: string, flag: string): FigureFormat {
  const ext = extname(path).slice(1).toLowerCase();
  const format = FIGURE_FORMATS.find((f) => f === ext);
  if (format !== undefined) return format;
  const given = ext === "" ? "has no extension" : `ends in .${extname(path).slice(1)}`;
  throw new FigureFormatError(`${flag} ${path} ${given}: a figure is written as ${FIGURE_FORMATS.map((f) => `.${f}`).join(" or ")}, chosen by the extension`);
}

/** Writes the SVG figure `svg` to `path` in the format its extension names (folders made as needed). */
export function writeFigure(path: string, svg: string, opts: { readonly flag?: string; readonly onWarning?: (message: string) => void } = {}): FigureFormat {
  const format = figureFormat(path, opts.flag ?? "the figure");
  const bytes = format === "png" ? svgToPng(svg, opts.onWarning ? { onWarning: opts.onWarning } : {}) : new TextEncoder().encode(svg);
  writeFileAtomic(path, bytes);
  return format;
}
