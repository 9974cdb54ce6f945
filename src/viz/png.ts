/**
 * SVG to PNG with resvg, which draws text only with fonts it was given: without them a figure
 * comes out with lines and no labels. So the fonts are chosen here, once per process: the
 * figures' DejaVu Sans where a usual place holds it, else another common sans-serif file, else
 * whatever fonts the system has; and a probe checks that text is drawn at all.
 */
import { existsSync } from "node:fs";
import { Resvg, type ResvgRenderOptions } from "@resvg/resvg-js";
import { FIGURE_FONT } from "./render.ts";

/** Font files looked for, in order, with their family: Debian and Ubuntu, Fedora, Arch, macOS, Windows. */
const FONT_CANDIDATES: ReadonlyArray<{ readonly family: string; readonly files: readonly string[] }> = [
  {
    family: FIGURE_FONT,
    files: ["/usr/share/fonts/truetype/dejavu/", "/usr/share/fonts/dejavu/", "/usr/share/fonts/dejavu-sans-fonts/", "/usr/share/fonts/TTF/"].flatMap((d) => [
      `${d}DejaVuSans.ttf`,
      `${d}DejaVuSans-Bold.ttf`,
    ]),
  },
  {
    family: "Liberation Sans",
    files: ["/usr/share/fonts/truetype/liberation/", "/usr/share/fonts/liberation-sans/", "/usr/share/fonts/TTF/"].flatMap((d) => [
      `${d}LiberationSans-Regular.ttf`,
      `${d}LiberationSans-Bold.ttf`,
    ]),
  },
  { family: "Arial", files: ["/System/Library/Fonts/Supplemental/Arial.ttf", "/Library/Fonts/Arial.ttf", "C:\\Windows\\Fonts\\arial.ttf", "C:\\Windows\\Fonts\\arialbd.ttf"] },
];

/** How PNGs are drawn here: resvg's font options, and what to tell the user when no text can be drawn. */
interface FontSetup {
  readonly font: NonNullable<ResvgRenderOptions["font"]>;
  readonly warning?: string;
}

let setup: FontSetup | undefined;
let warned = false;

/** Whether text drawn with `font` leaves any ink: the check that a font was found. */
function drawsText(font: FontSetup["font"]): boolean {
  const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="16" font-size="16">Hg</text></svg>';
  const px = new Resvg(probe, { font, logLevel: "off" }).render().pixels;
  for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) return true;
  return false;
}

/** The fonts PNGs are drawn with (chosen once per process). */
export function fontSetup(): FontSetup {
  if (setup !== undefined) return setup;
  for (const c of FONT_CANDIDATES) {
    const files = c.files.filter((f) => existsSync(f));
    if (files.length === 0) continue;
    const font = { loadSystemFonts: false, fontFiles: files, defaultFontFamily: c.family };
    if (drawsText(font)) return (setup = { font });
  }
  // resvg falls back to the default family for a family it lacks; a system without DejaVu Sans
  // gets its own first font.
  const font = { loadSystemFonts: true, defaultFontFamily: FIGURE_FONT };
  setup = drawsText(font)
    ? { font }
    : { font, warning: `no font found (looked for ${FONT_CANDIDATES.map((c) => c.family).join(", ")} and the system's fonts): the PNG has no text; install one (Debian: apt-get install fonts-dejavu-core) or write an SVG` };
  return setup;
}

export interface PngOptions {
  /** Pixels per SVG unit (default 2: sharp on a high-density screen and in print). */
  readonly scale?: number;
  /** Called, once per process, when no font was found and the PNG's text is missing. */
  readonly onWarning?: (message: string) => void;
}

/** An SVG figure as PNG bytes, on a white background. */
export function svgToPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const scale = opts.scale ?? 2;
  if (!(scale > 0 && scale <= 16)) throw new RangeError(`svgToPng: scale must be above 0 and at most 16, got ${scale}`);
  const { font, warning } = fontSetup();
  if (warning !== undefined && !warned && opts.onWarning !== undefined) {
    warned = true;
    opts.onWarning(warning);
  }
  const png = new Resvg(svg, { font, background: "white", fitTo: { mode: "zoom", value: scale }, logLevel: "off" }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
