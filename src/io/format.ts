/**
 * The JSON that l2o keeps under the safetensors `__metadata__` key `l2o`, shared by
 * optimizer files and checkpoints: strict serialisation and the format/version check.
 */
import { FileFormatError, clip, shown } from "./safetensors.ts";
import { L2O_VERSION } from "./version.ts";

/** The `__metadata__` key that holds l2o's JSON. */
export const L2O_METADATA_KEY = "l2o";

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON.stringify that refuses values JSON would silently change (NaN, Infinity, typed arrays). */
export function strictJson(value: unknown, what: string): string {
  return JSON.stringify(value, function (key, v: unknown) {
    const at = key === "" ? what : `${what} field '${key}'`;
    if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError(`${at} is ${v}, which JSON cannot hold; use null or a string`);
    if (ArrayBuffer.isView(v)) throw new TypeError(`${at} is a typed array; store arrays as tensors, or convert with Array.from`);
    if (typeof v === "function" || typeof v === "symbol") throw new TypeError(`${at} is a ${typeof v}, which JSON cannot hold`);
    return v;
  });
}

/**
 * Reads and checks l2o's JSON from safetensors metadata: `format` must be `expected` and
 * `formatVersion` at most `maxVersion`. Shared with checkpoints. Throws `FileFormatError`.
 */
export function readL2oMetadata(
  metadata: Readonly<Record<string, string>>,
  expected: { format: string; maxVersion: number; source: string; advice: string },
): Record<string, unknown> {
  const { source, advice } = expected;
  const fail = (problem: string, cause?: unknown): never => {
    throw new FileFormatError(`${source}: ${problem}. ${advice}`, { path: source, cause });
  };
  const raw = Object.hasOwn(metadata, L2O_METADATA_KEY) ? metadata[L2O_METADATA_KEY] : undefined;
  if (raw === undefined) fail(`is a safetensors file but not an l2o file (no '${L2O_METADATA_KEY}' metadata); expected an ${expected.format} file`);
  let meta: unknown;
  try {
    meta = JSON.parse(raw as string);
  } catch (e) {
    return fail(`its '${L2O_METADATA_KEY}' metadata is not valid JSON (${(e as Error).message})`, e);
  }
  if (!isRecord(meta)) return fail(`its '${L2O_METADATA_KEY}' metadata is not a JSON object`);
  if (meta.format !== expected.format) {
    const problem = `has format ${shown(meta.format)}`;
    // An intact file of the other kind: nothing to re-train, it was given in the wrong place.
    if (meta.format === "l2o-checkpoint") {
      throw new FileFormatError(
        `${source}: ${problem} (a meta-training checkpoint), expected "${expected.format}". A checkpoint holds a training's state; the optimizer it trains is saved to that training's --out file.`,
        { path: source },
      );
    }
    if (meta.format === "l2o-optimizer") {
      throw new FileFormatError(
        `${source}: ${problem} (a trained optimizer), expected "${expected.format}". Give the --checkpoint file of a training; to start a training from this optimizer, pass it as --init.`,
        { path: source },
      );
    }
    fail(`${problem}, expected "${expected.format}"`);
  }
  const v = meta.formatVersion;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) fail(`has an invalid formatVersion ${shown(v)}`);
  if ((v as number) > expected.maxVersion) {
    const by = typeof meta.l2oVersion === "string" ? ` by l2o ${clip(meta.l2oVersion)}` : "";
    throw new FileFormatError(
      `${source}: was written${by} as ${expected.format} version ${v}, but this l2o (${L2O_VERSION}) reads up to version ${expected.maxVersion}. Upgrade l2o to read it.`,
      { path: source },
    );
  }
  return meta;
}
