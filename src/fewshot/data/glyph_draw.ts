/**
 * Drawing one procedural glyph: a class is a fixed set of pen strokes (cubic Bezier curves and
 * polylines on the unit square, later strokes often starting on earlier ones, as the strokes
 * of a written character join); an example is the class's strokes as one hand would draw them
 * once: every control point moved a little, the whole glyph under a small random affine map
 * (rotation, scale, shear, shift), a different pen width. The strokes are rendered with an
 * anti-aliased pen: a pixel's ink is its coverage by a disc-ended line of the pen's width.
 */
import { foldIn, type Key, uniform } from "../../core/rng.ts";

type Point = [number, number];
/** A stroke as its control points; `curve` strokes are cubic Beziers (4 points), others polylines. */
interface Stroke {
  readonly curve: boolean;
  readonly points: Point[];
}

/** How an example departs from its class: the knobs that set the task's difficulty. */
export const GLYPH_JITTER = Object.freeze({
  /** Standard deviation of each control point's move (unit square). */
  point: 0.045,
  /** Standard deviation of the rotation (radians). */
  rotation: 0.18,
  /** Half-range of the per-axis scale around 1. */
  scale: 0.12,
  /** Half-range of the shear. */
  shear: 0.15,
  /** Half-range of the shift (unit square). */
  shift: 0.06,
  /** Half-range of the pen width's factor around 1. */
  pen: 0.25,
});

/** A stream of uniform [0, 1) numbers from a key, drawn in blocks. */
class Draws {
  #block = 0;
  #at = 0;
  #buf: Float32Array;
  readonly #k: Key;
  constructor(k: Key) {
    this.#k = k;
    this.#buf = uniform(foldIn(k, 0), 64);
  }
  next(): number {
    if (this.#at === this.#buf.length) {
      this.#buf = uniform(foldIn(this.#k, ++this.#block), 64);
      this.#at = 0;
    }
    return this.#buf[this.#at++]!;
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** A standard normal draw (Box-Muller; the first uniform kept away from 0). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

const clampUnit = (v: number): number => Math.min(0.88, Math.max(0.12, v));

/** A point on a stroke at parameter t in [0, 1] (along its flattened path). */
function pointOn(s: Stroke, t: number): Point {
  const path = flatten(s);
  const f = t * (path.length - 1);
  const i = Math.min(path.length - 2, Math.floor(f));
  const u = f - i;
  const a = path[i]!;
  const b = path[i + 1]!;
  return [a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])];
}

/** The class's strokes and its pen width (pixels at 28 x 28), from the class's key. */
export function glyphClass(k: Key): { strokes: Stroke[]; pen: number } {
  const d = new Draws(k);
  const count = 2 + Math.floor(d.next() * 4); // 2 to 5 strokes
  const strokes: Stroke[] = [];
  for (let s = 0; s < count; s++) {
    const curve = d.next() < 0.5;
    let start: Point;
    if (s > 0 && d.next() < 0.6) start = pointOn(strokes[Math.floor(d.next() * s)]!, d.next());
    else start = [d.range(0.2, 0.8), d.range(0.2, 0.8)];
    const n = curve ? 4 : 2 + Math.floor(d.next() * 3); // a Bezier's 4 points, or a 1- to 3-segment polyline
    const points: Point[] = [start];
    let angle = d.range(0, 2 * Math.PI);
    for (let i = 1; i < n; i++) {
      // Each leg turns by up to 100 degrees from the last, so strokes bend without scribbling.
      angle += d.range(-1.75, 1.75);
      const len = d.range(0.18, 0.42);
      const p = points[i - 1]!;
      points.push([clampUnit(p[0] + len * Math.cos(angle)), clampUnit(p[1] + len * Math.sin(angle))]);
    }
    strokes.push({ curve, points });
  }
  return { strokes: centre(strokes, d.range(0.55, 0.75)), pen: d.range(1.2, 2.0) };
}

/** The strokes moved and scaled so that their box is centred with its longer side `side`, as a written character fills its cell. */
function centre(strokes: Stroke[], side: number): Stroke[] {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const s of strokes) {
    for (const [x, y] of flatten(s)) {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const f = side / Math.max(x1 - x0, y1 - y0, 1e-6);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return strokes.map((s) => ({ curve: s.curve, points: s.points.map(([x, y]): Point => [0.5 + f * (x - cx), 0.5 + f * (y - cy)]) }));
}

/** A stroke's path as a polyline: a Bezier sampled at 12 segments, a polyline as it is. */
function flatten(s: Stroke): Point[] {
  if (!s.curve) return s.points;
  const [p0, p1, p2, p3] = s.points as [Point, Point, Point, Point];
  const out: Point[] = [];
  for (let i = 0; i <= 12; i++) {
    const t = i / 12;
    const a = (1 - t) ** 3;
    const b = 3 * (1 - t) ** 2 * t;
    const c = 3 * (1 - t) * t * t;
    const e = t ** 3;
    out.push([a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]]);
  }
  return out;
}

/**
 * One example of a class, `size` x `size` bytes (ink 255 on 0), from the class's key and the
 * example's key. The pen width scales with `size` (its class width is in pixels at 28).
 */
export function drawGlyph(classKey: Key, exampleKey: Key, size: number): Uint8Array {
  const { strokes, pen } = glyphClass(classKey);
  const d = new Draws(exampleKey);
  const J = GLYPH_JITTER;
  const rot = J.rotation * d.normal();
  const sx = 1 + d.range(-J.scale, J.scale);
  const sy = 1 + d.range(-J.scale, J.scale);
  const sh = d.range(-J.shear, J.shear);
  const tx = d.range(-J.shift, J.shift);
  const ty = d.range(-J.shift, J.shift);
  const cos = Math.cos(rot);
  const sin = Math.sin(rot);
  // x' = R (S (H x)) about the centre, then shifted; in pixels.
  const map = (p: Point): Point => {
    const x = sx * (p[0] - 0.5 + sh * (p[1] - 0.5));
    const y = sy * (p[1] - 0.5);
    return [(0.5 + tx + cos * x - sin * y) * size, (0.5 + ty + sin * x + cos * y) * size];
  };
  const half = (pen * (1 + d.range(-J.pen, J.pen)) * size) / 28 / 2;
  const segs: number[] = [];
  for (const s of strokes) {
    const moved: Stroke = { curve: s.curve, points: s.points.map((p) => [p[0] + J.point * d.normal(), p[1] + J.point * d.normal()]) };
    const path = flatten(moved).map(map);
    for (let i = 0; i + 1 < path.length; i++) segs.push(path[i]![0], path[i]![1], path[i + 1]![0], path[i + 1]![1]);
  }
  return render(segs, half, size);
}

/** Ink coverage of each pixel by segments of half-width `half` (a one-pixel linear edge). */
function render(segs: readonly number[], half: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  const reach = half + 0.5;
  for (let s = 0; s < segs.length; s += 4) {
    const ax = segs[s]!;
    const ay = segs[s + 1]!;
    const bx = segs[s + 2]!;
    const by = segs[s + 3]!;
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
    const x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + reach));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
    const y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax;
        const py = y + 0.5 - ay;
        const t = len2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2)) : 0;
        const ex = px - t * dx;
        const ey = py - t * dy;
        const cover = Math.min(1, Math.max(0, reach - Math.sqrt(ex * ex + ey * ey)));
        const v = Math.round(255 * cover);
        if (v > out[y * size + x]!) out[y * size + x] = v;
      }
    }
  }
  return out;
}
