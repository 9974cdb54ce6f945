/** Gathering and scattering rows of coordinate-major arrays (an LSTM group's coordinates). */

/** Rows `idx` (each `width` floats) of `src`, or `src` itself when `idx` is null. */
export function gatherRows(src: Float32Array, idx: Int32Array | null, width: number): Float32Array {
  if (idx === null) return src;
  const out = new Float32Array(idx.length * width);
  if (width === 1) {
    for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]!]!;
  } else {
    for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i]! * width, (idx[i]! + 1) * width), i * width);
  }
  return out;
}

/** Writes the rows of `src` to rows `idx` of `dst` (all rows in order when `idx` is null). */
export function scatterRows(src: Float32Array, idx: Int32Array | null, width: number, dst: Float32Array): void {
  if (idx === null) {
    dst.set(src);
    return;
  }
  if (width === 1) {
    for (let i = 0; i < idx.length; i++) dst[idx[i]!] = src[i]!;
  } else {
    for (let i = 0; i < idx.length; i++) dst.set(src.subarray(i * width, (i + 1) * width), idx[i]! * width);
  }
}

/** `dst[i] = src[idx[i]]` (the rows of width 1 that `gatherRows` copies), into `dst`. */
export function gatherInto(src: Float32Array, idx: Int32Array, dst: Float32Array): Float32Array {
  for (let i = 0; i < idx.length; i++) dst[i] = src[idx[i]!]!;
  return dst;
}
