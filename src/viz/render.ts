/**
 * A vega-lite specification to SVG text. vega-lite compiles it and vega renders it with no
 * canvas; both load only when a figure is drawn, so importing the figures costs nothing.
 */
import type { TopLevelSpec } from "vega-lite";

/** The font every figure asks for; `svgToPng` loads it (or the nearest sans-serif it finds). */
export const FIGURE_FONT = "DejaVu Sans";

/**
 * The colours of a figure's series, in order (vega's tableau10). Fixed here, so that a figure
 * drawn twice colours each series alike and a test can look for a series by its colour.
 */
export const SERIES_COLORS: readonly string[] = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];

/** Renders a vega-lite specification to SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
