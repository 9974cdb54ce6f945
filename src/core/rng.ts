/**
 * Splittable, counter-based random keys (in the manner of JAX's PRNG keys).
 *
 * A key is an immutable pair of 32-bit words. `split` derives independent child keys and
 * `foldIn` mixes in an integer (a step counter, a role name's hash), so every random draw in
 * l2o is a pure function of a seed and a path of splits. The same seed gives the same
 * numbers on every run and every machine. Library code never uses `Math.random`.
 *
 * The generator is a keyed hash of a counter: word i of the stream under key (a, b) is
 * `mix(a, b, i)`, where `mix` is two rounds of the murmur3 finaliser over the three words.
 * It is not cryptographic; it passes as uniform for simulation work of this size.
 */
import { ConfigError, shownNumber } from "./errors.ts";

/** An immutable random key: two unsigned 32-bit words. */
export type Key = readonly [number, number];

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of (a, b, i) to one unsigned 32-bit word. */
function mix(a: number, b: number, i: number): number {
  let h = fmix32((a ^ Math.imul(i + 0x9e3779b9, 0x27d4eb2f)) >>> 0);
  h = fmix32((h ^ b ^ Math.imul(i, 0x165667b1)) >>> 0);
  return fmix32((h + Math.imul(b ^ 0x5bd1e995, 0x2545f491) + i) >>> 0);
}

/** Makes a key from an integer seed (any safe integer; negative seeds are allowed). */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) {
    throw new ConfigError(`random seed must be an integer from ${-Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}, got ${shownNumber(seed)}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return [mix(lo, hi ^ 0x6a09e667, 0), mix(hi, lo ^ 0xbb67ae85, 1)];
}

/** The most keys one `split` makes (each is a small array: 2^20 of them take about 80 MB). */
export const MAX_SPLIT = 2 ** 20;

/**
 * Splits a key into `n` independent keys (default 2), `n` an integer from 0 to `MAX_SPLIT`
 * (else a ConfigError). The parent should not be reused.
 */
export function split(k: Key, n = 2): Key[] {
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_SPLIT)) {
    throw new ConfigError(`split: the number of keys must be an integer from 0 to ${MAX_SPLIT}, got ${shownNumber(n)}`);
  }
  const out: Key[] = [];
  for (let j = 0; j < n; j++) {
    out.push([mix(k[0], k[1], 2 * j + 0x10000), mix(k[1], k[0], 2 * j + 0x10001)]);
  }
  return out;
}

/** Derives a key from `k` and an integer or a string (for example a step or a role name). */
export function foldIn(k: Key, data: number | string): Key {
  let d: number;
  if (typeof data === "string") {
    d = 0x811c9dc5;
    for (let i = 0; i < data.length; i++) d = Math.imul(d ^ data.charCodeAt(i), 0x01000193) >>> 0;
  } else {
    if (!Number.isSafeInteger(data)) throw new ConfigError(`foldIn needs a safe integer or a string, got ${shownNumber(data)}`);
    d = (data >>> 0) ^ (Math.floor(data / 4294967296) >>> 0);
  }
  return [mix(k[0] ^ d, k[1], 0x20000), mix(k[1], k[0] ^ d, 0x20001)];
}

/** `n` raw unsigned 32-bit words from the stream of `k`. */
export function bits(k: Key, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = mix(k[0], k[1], i);
  return out;
}

/** `n` floats uniform on [lo, hi), 24 bits of resolution. */
export function uniform(k: Key, n: number, lo = 0, hi = 1): Float32Array {
  const out = new Float32Array(n);
  const w = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + w * ((mix(k[0], k[1], i) >>> 8) / 16777216);
  return out;
}

/** `n` standard normal floats (Box-Muller), scaled by `std` and shifted by `mean`. */
export function normal(k: Key, n: number, std = 1, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // u1 in (0, 1]: never log(0).
    const u1 = ((mix(k[0], k[1], i) >>> 8) + 1) / 16777216;
    const u2 = (mix(k[0], k[1], i + 1) >>> 8) / 16777216;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** `n` integers uniform on [lo, hi) (hi - lo at most 2^32; rejection keeps them unbiased). */
export function randint(k: Key, n: number, lo: number, hi: number): Int32Array {
  const span = hi - lo;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || span <= 0 || span > 4294967296) {
    throw new Error(`randint needs integers lo < hi, got [${lo}, ${hi})`);
  }
  const out = new Int32Array(n);
  const limit = 4294967296 - (4294967296 % span);
  let c = 0;
  for (let i = 0; i < n; i++) {
    let v = mix(k[0], k[1], c++);
    while (v >= limit) v = mix(k[0], k[1], c++);
    out[i] = lo + (v % span);
  }
  return out;
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(k: Key, n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    // Modulo bias is at most n / 2^32: negligible for the sizes shuffled here.
    const j = mix(k[0], k[1], i) % (i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** Serialises a key as a JSON-friendly pair, and back (for checkpoints). */
export function keyToJSON(k: Key): [number, number] {
  return [k[0], k[1]];
}
export function keyFromJSON(v: unknown): Key {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0 && x < 4294967296)) {
    throw new Error(`not a random key: ${JSON.stringify(v)}`);
  }
  return [v[0] as number, v[1] as number];
}
