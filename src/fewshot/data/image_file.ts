/**
 * One dataset image file to planar bytes at the dataset's shape: read (bounded), decoded (PNG by
 * png.ts, JPEG by jpeg-js), converted to the wanted channels (grey is the mean of R, G and B;
 * grey repeats into RGB) and resized by area averaging (each output pixel the mean of the source
 * area it covers, which is what shrinking Omniglot's 105 x 105 to 28 x 28 calls for).
 */
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { DataError } from "../../data/idx.ts";
import { type DecodedImage, decodePng, isPng, PNG_LIMITS } from "./png.ts";

/** Largest image file read (bytes); a full-size ImageNet JPEG is well under it. */
export const IMAGE_FILE_MAX_BYTES = 16 * 1024 * 1024;

let jpegModule: typeof import("jpeg-js") | undefined;
function jpeg(): typeof import("jpeg-js") {
  jpegModule ??= createRequire(import.meta.url)("jpeg-js") as typeof import("jpeg-js");
  return jpegModule;
}

/** The file's bytes; a missing, non-regular or oversized file is a DataError naming it. */
export function readImageFile(path: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new DataError(`not a file: ${path}`, path);
    size = st.size;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`image file not found: ${path}`, path);
  }
  if (size > IMAGE_FILE_MAX_BYTES) throw new DataError(`${path}: ${size} bytes, more than the ${IMAGE_FILE_MAX_BYTES} an image file may have`, path);
  return readFileSync(path);
}

/** Decodes PNG or JPEG bytes (told apart by their first bytes); anything else is a DataError. */
export function decodeImageBytes(bytes: Uint8Array, path: string): DecodedImage {
  if (isPng(bytes)) return decodePng(bytes, path);
  if (bytes.length < 3 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new DataError(`${path}: neither a PNG nor a JPEG file`, path);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg().decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: PNG_LIMITS.pixels / 1e6, maxMemoryUsageInMB: 256 });
  } catch (e) {
    throw new DataError(`${path}: damaged or unsupported JPEG (${(e as Error).message})`, path);
  }
  const n = img.width * img.height;
  if (n < 1) throw new DataError(`${path}: a JPEG without pixels`, path);
  // jpeg-js gives RGB for colour and greyscale files alike (3 bytes per pixel without alpha).
  if (img.data.length !== 3 * n) throw new DataError(`${path}: the JPEG decoded to ${img.data.length} bytes, not ${3 * n}`, path);
  return { width: img.width, height: img.height, channels: 3, pixels: img.data };
}

/** Output and source ranges of area averaging along one axis: for each output index, its (source index, weight) pairs. */
function areaWeights(from: number, to: number): { idx: Int32Array; w: Float64Array; start: Int32Array } {
  const scale = from / to;
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(to + 1);
  for (let o = 0; o < to; o++) {
    start[o] = idx.length;
    const a = o * scale;
    const b = (o + 1) * scale;
    for (let s = Math.floor(a); s < Math.min(from, Math.ceil(b)); s++) {
      const overlap = Math.min(b, s + 1) - Math.max(a, s);
      if (overlap > 1e-9) {
        idx.push(s);
        w.push(overlap / scale);
      }
    }
  }
  start[to] = idx.length;
  return { idx: Int32Array.from(idx), w: Float64Array.from(w), start };
}

/**
 * The image as `channels` planes of `height` x `width` bytes (CHW), by area averaging
 * (separable: rows first, then columns). Grey from RGB is the mean of the three.
 */
export function toPlanar(img: DecodedImage, channels: 1 | 3, height: number, width: number): Uint8Array {
  const { width: sw, height: sh } = img;
  const src = new Float64Array(channels * sw * sh);
  for (let i = 0; i < sw * sh; i++) {
    if (channels === img.channels) for (let c = 0; c < channels; c++) src[c * sw * sh + i] = img.pixels[i * channels + c]!;
    else if (channels === 1) src[i] = (img.pixels[3 * i]! + img.pixels[3 * i + 1]! + img.pixels[3 * i + 2]!) / 3;
    else for (let c = 0; c < 3; c++) src[c * sw * sh + i] = img.pixels[i]!;
  }
  const X = areaWeights(sw, width);
  const Y = areaWeights(sh, height);
  const out = new Uint8Array(channels * width * height);
  const tmp = new Float64Array(sh * width);
  for (let c = 0; c < channels; c++) {
    const plane = c * sw * sh;
    for (let y = 0; y < sh; y++) {
      for (let x = 0; x < width; x++) {
        let v = 0;
        for (let j = X.start[x]!; j < X.start[x + 1]!; j++) v += X.w[j]! * src[plane + y * sw + X.idx[j]!]!;
        tmp[y * width + x] = v;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = 0;
        for (let j = Y.start[y]!; j < Y.start[y + 1]!; j++) v += Y.w[j]! * tmp[Y.idx[j]! * width + x]!;
        out[(c * height + y) * width + x] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return out;
}
