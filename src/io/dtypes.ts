/**
 * The element types of l2o's safetensors files, the typed arrays that hold them, and small
 * helpers on shapes and bytes shared by the encoder and the decoder (`safetensors.ts`).
 */

/** The element types l2o reads and writes. */
export type Dtype = "F32" | "I32" | "U8";

/** The typed array that holds each dtype. */
export interface DtypeArrays {
  F32: Float32Array;
  I32: Int32Array;
  U8: Uint8Array;
}

/** A tensor as stored: dtype, shape (row-major) and its elements. */
export type Tensor = { [D in Dtype]: { dtype: D; shape: readonly number[]; data: DtypeArrays[D] } }[Dtype];

/** Element size and typed-array constructor per dtype. */
export const DTYPES: { readonly [D in Dtype]: { size: number; make: (b: ArrayBuffer) => DtypeArrays[D] } } = {
  F32: { size: 4, make: (b) => new Float32Array(b) },
  I32: { size: 4, make: (b) => new Int32Array(b) },
  U8: { size: 1, make: (b) => new Uint8Array(b) },
};

/** True where `s` names a dtype l2o supports. */
export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

/** Size in bytes of one element of `dtype`. */
export function dtypeSize(dtype: Dtype): number {
  return DTYPES[dtype].size;
}

/** Whether this host stores numbers little-endian (as safetensors files do). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Reverses each `size`-byte group of `bytes` in place (only needed on big-endian hosts). */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Whether `data` is the typed array that holds `dtype`. */
export function arrayMatches(dtype: Dtype, data: unknown): boolean {
  switch (dtype) {
    case "F32":
      return data instanceof Float32Array;
    case "I32":
      return data instanceof Int32Array;
    case "U8":
      return data instanceof Uint8Array;
  }
}

/** A list of non-negative safe integers. */
export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Sets an own property, even one named `__proto__` (plain assignment would not). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Number of elements in a tensor of shape `shape` (1 for a scalar, shape `[]`). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
