/**
 * The demo's two drawings, on canvases: the function's contours with every racer's path, and
 * the losses on a log scale. Plain 2-D canvas calls, redrawn whole on every frame.
 */
import type { Function2d } from "../src/browser.ts";
import type { Racer } from "./race.ts";

/** One color per racer, by id. */
export const COLORS: Readonly<Record<string, string>> = {
  learned: "#d62728",
  adam: "#1f77b4",
  rmsprop: "#2ca02c",
  nesterov: "#9467bd",
};

/** Losses below this are drawn at it (some baselines reach 1e-30 and below). */
export const LOSS_FLOOR = 1e-16;

/** A canvas's 2-D context, sized for the screen's pixel ratio; draws in CSS pixels. */
function context(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; w: number; h: number } {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext("2d")!;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { g, w, h };
}

/**
 * The function's landscape as an image (computed once per function and size): log-loss
 * bands in light colors, with a darker line where the band changes (the contours).
 */
export function contourImage(fn: Function2d, width: number, height: number): ImageData {
  const [x0, x1, y0, y1] = fn.box;
  const v = new Float64Array(width * height);
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const x = x0 + ((i + 0.5) / width) * (x1 - x0);
      const y = y1 - ((j + 0.5) / height) * (y1 - y0);
      const l = Math.log10(fn.f(x, y) + 1e-3);
      v[j * width + i] = l;
      lo = Math.min(lo, l);
      hi = Math.max(hi, l);
    }
  }
  const bands = 16;
  const band = (k: number): number => Math.min(bands - 1, Math.floor(((v[k]! - lo) / (hi - lo || 1)) * bands));
  const img = new ImageData(width, height);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const k = j * width + i;
      const b = band(k);
      const edge = (i + 1 < width && band(k + 1) !== b) || (j + 1 < height && band(k + width) !== b);
      const t = b / (bands - 1);
      // From pale blue (low) to pale yellow (high).
      const rgb = [225 + 25 * t, 235 + 10 * t, 250 - 80 * t].map((c) => (edge ? c - 45 : c));
      img.data.set([rgb[0]!, rgb[1]!, rgb[2]!, 255], 4 * k);
    }
  }
  return img;
}

const images = new Map<string, HTMLCanvasElement>();

/** Draws the landscape, the start and the minimum, and each racer's path so far. */
export function drawContours(canvas: HTMLCanvasElement, fn: Function2d, racers: readonly Racer[]): void {
  const { g, w, h } = context(canvas);
  const ratio = canvas.width / w;
  const id = `${fn.name}/${canvas.width}x${canvas.height}`;
  let bg = images.get(id);
  if (bg === undefined) {
    bg = document.createElement("canvas");
    bg.width = canvas.width;
    bg.height = canvas.height;
    bg.getContext("2d")!.putImageData(contourImage(fn, canvas.width, canvas.height), 0, 0);
    images.set(id, bg);
  }
  g.drawImage(bg, 0, 0, canvas.width / ratio, canvas.height / ratio);
  const [x0, x1, y0, y1] = fn.box;
  const px = (x: number): number => ((x - x0) / (x1 - x0)) * w;
  const py = (y: number): number => ((y1 - y) / (y1 - y0)) * h;
  g.save();
  g.beginPath();
  g.rect(0, 0, w, h);
  g.clip();
  // The minimum (a cross) and the start (a ring).
  g.strokeStyle = "#222";
  g.lineWidth = 2;
  const [mx, my] = [px(fn.minimum[0]), py(fn.minimum[1])];
  g.beginPath();
  g.moveTo(mx - 6, my - 6);
  g.lineTo(mx + 6, my + 6);
  g.moveTo(mx + 6, my - 6);
  g.lineTo(mx - 6, my + 6);
  g.stroke();
  g.beginPath();
  g.arc(px(fn.start[0]), py(fn.start[1]), 6, 0, 2 * Math.PI);
  g.stroke();
  for (const r of racers) {
    const color = COLORS[r.id] ?? "#000";
    g.strokeStyle = color;
    g.fillStyle = color;
    g.lineWidth = 1.8;
    g.beginPath();
    r.path.forEach(([x, y], k) => (k === 0 ? g.moveTo(px(x), py(y)) : g.lineTo(px(x), py(y))));
    g.stroke();
    const [x, y] = r.path[r.path.length - 1]!;
    g.beginPath();
    g.arc(px(x), py(y), 4.5, 0, 2 * Math.PI);
    g.fill();
  }
  g.restore();
}

/** Draws every racer's loss so far against the step, on a log scale, with decade grid lines. */
export function drawLosses(canvas: HTMLCanvasElement, racers: readonly Racer[], steps: number): void {
  const { g, w, h } = context(canvas);
  const m = { left: 52, right: 12, top: 12, bottom: 30 };
  g.fillStyle = "#fff";
  g.fillRect(0, 0, w, h);
  const shown = (l: number): number => Math.log10(Math.max(LOSS_FLOOR, l));
  const all = racers.flatMap((r) => r.losses.filter(Number.isFinite).map(shown));
  const top = Math.ceil(Math.max(...all, 1));
  const bottom = Math.min(top - 2, Math.floor(Math.min(...all)));
  const px = (t: number): number => m.left + (t / steps) * (w - m.left - m.right);
  const py = (d: number): number => m.top + ((top - d) / (top - bottom)) * (h - m.top - m.bottom);
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  g.textAlign = "right";
  const every = Math.max(1, Math.ceil((top - bottom) / 10));
  for (let d = bottom; d <= top; d++) {
    if ((d - bottom) % every !== 0) continue;
    g.strokeStyle = "#e4e4e4";
    g.beginPath();
    g.moveTo(m.left, py(d));
    g.lineTo(w - m.right, py(d));
    g.stroke();
    g.fillStyle = "#555";
    g.fillText(`1e${d}`, m.left - 6, py(d));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  for (let k = 0; k <= 4; k++) {
    const t = Math.round((k * steps) / 4);
    g.fillText(String(t), px(t), h - m.bottom + 6);
  }
  g.strokeStyle = "#888";
  g.strokeRect(m.left, m.top, w - m.left - m.right, h - m.top - m.bottom);
  g.save();
  g.beginPath();
  g.rect(m.left, m.top, w - m.left - m.right, h - m.top - m.bottom);
  g.clip();
  for (const r of racers) {
    g.strokeStyle = COLORS[r.id] ?? "#000";
    g.lineWidth = 1.8;
    g.beginPath();
    r.losses.forEach((l, t) => {
      if (Number.isFinite(l)) (t === 0 ? g.moveTo : g.lineTo).call(g, px(t), py(shown(l)));
    });
    g.stroke();
  }
  g.restore();
}
