/**
 * Generated style images for the neural-art task. No public-domain painting is on the npm
 * registry in a package we use, so the styles are procedural, drawn at any size from a fixed
 * seed (the same picture at 64 and 128 pixels, up to resolution):
 * - `strokes`: short thick brush strokes in blues and yellows that follow a swirling flow
 *   field over a dark ground (a stand-in for an impressionist painting);
 * - `mosaic`: irregular tiles (Voronoi cells) in warm reds and ochres with dark grout.
 * Planar RGB in [0, 1], as `RgbImage` in images.ts.
 */
import { key, uniform } from "../core/rng.ts";

export const PATTERN_NAMES: readonly string[] = ["strokes", "mosaic"];

const STROKE_COLOURS: readonly (readonly [number, number, number])[] = [
  [0.12, 0.22, 0.55], [0.2, 0.35, 0.75], [0.45, 0.62, 0.9], [0.95, 0.85, 0.3], [0.98, 0.95, 0.7], [0.1, 0.15, 0.3],
];
const TILE_COLOURS: readonly (readonly [number, number, number])[] = [
  [0.75, 0.2, 0.12], [0.88, 0.55, 0.2], [0.95, 0.8, 0.45], [0.55, 0.25, 0.15], [0.35, 0.45, 0.3],
];

function strokes(size: number): Float32Array {
  const N = size * size;
  const out = new Float32Array(3 * N);
  for (let i = 0; i < N; i++) {
    out[i] = 0.06;
    out[N + i] = 0.08;
    out[2 * N + i] = 0.16;
  }
  const count = 900;
  const r = uniform(key(20_160_601), 4 * count);
  for (let s = 0; s < count; s++) {
    const cx = r[4 * s]!;
    const cy = r[4 * s + 1]!;
    // Direction from a swirling flow field; length and width in units of the image side.
    const angle = 3 * Math.sin(4 * cx) + 2.5 * Math.cos(5 * cy) + 0.4 * r[4 * s + 2]!;
    const half = 0.045;
    const width = 0.018;
    const col = STROKE_COLOURS[Math.floor(r[4 * s + 3]! * STROKE_COLOURS.length) % STROKE_COLOURS.length]!;
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    const reach = (half + width) * size;
    for (let y = Math.max(0, Math.floor(cy * size - reach)); y < Math.min(size, Math.ceil(cy * size + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx * size - reach)); x < Math.min(size, Math.ceil(cx * size + reach)); x++) {
        const px = (x + 0.5) / size - cx;
        const py = (y + 0.5) / size - cy;
        const along = Math.max(-half, Math.min(half, px * dx + py * dy));
        const ex = px - along * dx;
        const ey = py - along * dy;
        const d = Math.sqrt(ex * ex + ey * ey);
        // Soft edge one pixel wide.
        const cover = Math.max(0, Math.min(1, (width - d) * size + 0.5));
        if (cover === 0) continue;
        const i = y * size + x;
        for (let c = 0; c < 3; c++) out[c * N + i] = (1 - cover) * out[c * N + i]! + cover * col[c]!;
      }
    }
  }
  return out;
}

function mosaic(size: number): Float32Array {
  const N = size * size;
  const out = new Float32Array(3 * N);
  const cells = 60;
  const r = uniform(key(20_160_602), 3 * cells);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = (x + 0.5) / size;
      const py = (y + 0.5) / size;
      let best = Infinity;
      let second = Infinity;
      let which = 0;
      for (let k = 0; k < cells; k++) {
        const d = Math.hypot(px - r[3 * k]!, py - r[3 * k + 1]!);
        if (d < best) {
          second = best;
          best = d;
          which = k;
        } else if (d < second) second = d;
      }
      const col = TILE_COLOURS[Math.floor(r[3 * which + 2]! * TILE_COLOURS.length) % TILE_COLOURS.length]!;
      // Dark grout where two cells meet, a shade across each tile.
      const grout = Math.max(0, Math.min(1, ((second - best) * size - 0.6) / 1.2));
      const shade = 0.85 + 0.15 * Math.sin(9 * px + 7 * py + which);
      for (let c = 0; c < 3; c++) out[c * N + y * size + x] = 0.1 + grout * (col[c]! * shade - 0.1);
    }
  }
  return out;
}

/** The named generated style at `size` x `size`; undefined for an unknown name. */
export function pattern(name: string, size: number): Float32Array | undefined {
  if (name === "strokes") return strokes(size);
  if (name === "mosaic") return mosaic(size);
  return undefined;
}
