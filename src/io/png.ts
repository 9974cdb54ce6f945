/**
 * A small PNG encoder for raster images (the styled pictures of `l2o art`): 8-bit RGB,
 * no interlacing, every scanline with filter 0 (None), the pixels deflated by node:zlib.
 * Figures (SVG) become PNG through resvg instead (viz/png.ts).
 */
import { crc32, deflateSync } from "node:zlib";

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

/** PNG bytes of an RGB image given as `width * height * 3` bytes, row after row. */
export function encodePngRgb(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && width <= 65_535 && height <= 65_535)) {
    throw new RangeError(`encodePngRgb: sides must be integers from 1 to 65,535, got ${width} x ${height}`);
  }
  if (rgb.length !== width * height * 3) throw new RangeError(`encodePngRgb: ${width} x ${height} RGB needs ${width * height * 3} bytes, got ${rgb.length}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace
  const raw = new Uint8Array(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * 3 * width, (y + 1) * 3 * width), y * (1 + 3 * width) + 1);
  const parts = [SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Interleaved 8-bit RGB of a planar float image `[3, height, width]`, each value clipped to
 * [0, 1] and rounded (NaN as 0).
 */
export function planarToRgb8(planar: Float32Array, width: number, height: number): Uint8Array {
  const n = width * height;
  if (planar.length !== 3 * n) throw new RangeError(`planarToRgb8: ${width} x ${height} needs ${3 * n} values, got ${planar.length}`);
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const x = planar[c * n + i]!;
      out[3 * i + c] = x > 0 ? (x < 1 ? Math.round(255 * x) : 255) : 0;
    }
  }
  return out;
}
