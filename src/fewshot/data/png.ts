/**
 * A PNG decoder for dataset images (Omniglot's 1-bit greyscale files among them): the chunks,
 * IDAT inflated by node:zlib, each scanline un-filtered (None, Sub, Up, Average, Paeth), then
 * unpacked. Greyscale (1, 2, 4, 8, 16 bits), RGB, palette (1 to 8 bits), greyscale with alpha and
 * RGBA; alpha is composited over white (as images.ts does). Interlaced (Adam7) files are refused.
 * Every problem is a DataError naming the file.
 */
import { inflateSync } from "node:zlib";
import { DataError } from "../../data/idx.ts";

/** A decoded image: `channels` (1 grey, 3 RGB) bytes per pixel, row after row. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly pixels: Uint8Array;
}

/** Largest side and pixel count decoded: a corrupt header cannot ask for gigabytes. */
export const PNG_LIMITS = Object.freeze({ side: 8192, pixels: 16 * 1024 * 1024 });

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Samples per pixel of each colour type. */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

export function decodePng(bytes: Uint8Array, path: string): DecodedImage {
  const fail = (why: string): never => {
    throw new DataError(`${path}: ${why}`, path);
  };
  if (!isPng(bytes)) fail("not a PNG file (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let depth = 0;
  let colour = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let pos = 8; ; ) {
    if (pos + 12 > bytes.length) fail("truncated PNG (no IEND chunk)");
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (pos + 12 + length > bytes.length) fail(`truncated PNG (the ${type} chunk runs past the end)`);
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      if (length !== 13) fail("malformed PNG header");
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = data[8]!;
      colour = data[9]!;
      if (!DEPTHS[colour]?.includes(depth)) fail(`PNG colour type ${colour} with bit depth ${depth} is not valid`);
      if (data[12] !== 0) fail("interlaced PNG (Adam7) is not decoded here; save it without interlacing");
      if (width < 1 || height < 1 || width > PNG_LIMITS.side || height > PNG_LIMITS.side || width * height > PNG_LIMITS.pixels) {
        fail(`a PNG of ${width} x ${height} pixels is outside the limits (sides 1 to ${PNG_LIMITS.side}, at most ${PNG_LIMITS.pixels} pixels)`);
      }
    } else if (type === "PLTE") {
      palette = data;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    pos += 12 + length;
  }
  if (colour < 0) fail("PNG without a header (IHDR) chunk");
  if (colour === 3 && !palette) fail("palette PNG without a palette (PLTE) chunk");
  const samples = SAMPLES[colour]!;
  const bpp = Math.max(1, (samples * depth) >> 3);
  const stride = Math.ceil((width * samples * depth) / 8);
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: height * (stride + 1) + 1 });
  } catch (e) {
    return fail(`damaged PNG data (${(e as Error).message})`);
  }
  if (raw.length !== height * (stride + 1)) fail(`PNG data is ${raw.length} bytes, its header needs ${height * (stride + 1)}`);
  const lines = unfilter(raw, height, stride, bpp, fail);
  return unpack(lines, width, height, stride, depth, colour, palette);
}

/** Undoes the per-scanline filters in place order; returns the bare scanlines (height * stride). */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number, fail: (why: string) => never): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    if (filter > 4) fail(`unknown PNG filter ${filter} on row ${y}`);
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[row - stride + x]! : 0;
      const c = x >= bpp && y > 0 ? out[row - stride + x - bpp]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[row + x] = (line[x]! + pred) & 255;
    }
  }
  return out;
}

/** Samples to 8-bit grey or RGB, alpha over white. */
function unpack(lines: Uint8Array, width: number, height: number, stride: number, depth: number, colour: number, palette: Uint8Array | undefined): DecodedImage {
  const samples = SAMPLES[colour]!;
  const grey = colour === 0 || colour === 4;
  const channels = grey ? 1 : 3;
  const pixels = new Uint8Array(width * height * channels);
  const max = (1 << Math.min(depth, 8)) - 1;
  // Sample s of pixel x on row y, scaled to 0..255 (a palette index is returned raw).
  const sample = (y: number, x: number, s: number): number => {
    const i = x * samples + s;
    if (depth === 16) return lines[y * stride + 2 * i]!;
    if (depth === 8) return lines[y * stride + i]!;
    const bit = i * depth;
    const v = (lines[y * stride + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max;
    return colour === 3 ? v : Math.round((v * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (colour === 3) {
        const p = sample(y, x, 0);
        for (let c = 0; c < 3; c++) pixels[o + c] = palette![3 * p + c] ?? 0;
        continue;
      }
      const alpha = colour === 4 ? sample(y, x, 1) : colour === 6 ? sample(y, x, 3) : 255;
      for (let c = 0; c < channels; c++) {
        const v = sample(y, x, c);
        pixels[o + c] = alpha === 255 ? v : Math.round((v * alpha + 255 * (255 - alpha)) / 255);
      }
    }
  }
  return { width, height, channels, pixels };
}
