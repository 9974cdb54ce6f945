/**
 * Files of the query-proposing LSTM (lstm.ts): the project's optimizer files (src/io, one
 * `.safetensors` with SHA-256 hashes), kind `blackbox-lstm`, its shape in the config and the
 * parameters as float32 tensors named by block. The network runs in float64 after loading.
 */
import { ConfigError } from "../core/errors.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { loadOptimizerFile, saveOptimizerFile, type FlatEntry } from "../io/optimizer_file.ts";
import { META_LOSSES, parameterCount, type LstmShape, type MetaLoss } from "./lstm.ts";

export const BLACKBOX_KIND = "blackbox-lstm";

/** The blocks of the flat parameter vector, in order (lstm.ts's layout). */
export function parameterEntries(s: LstmShape): FlatEntry[] {
  const { dim: d, hidden: h } = s;
  return [
    { name: "lstm.w_x", shape: [4 * h, d + 1] },
    { name: "lstm.w_h", shape: [4 * h, h] },
    { name: "lstm.b", shape: [4 * h] },
    { name: "out.w", shape: [d, h] },
    { name: "out.b", shape: [d] },
  ];
}

export interface BlackboxFile {
  readonly shape: LstmShape;
  /** The meta-loss it was trained on. */
  readonly loss: MetaLoss;
  readonly params: Float64Array;
  readonly training: Record<string, unknown>;
}

export function saveBlackboxFile(path: string, f: BlackboxFile): void {
  const flat = Float32Array.from(f.params);
  if (flat.length !== parameterCount(f.shape)) throw new ConfigError(`blackbox file: ${flat.length} parameters for a network of ${parameterCount(f.shape)}`);
  saveOptimizerFile(path, {
    phi: { flat, entries: parameterEntries(f.shape) },
    meta: { kind: BLACKBOX_KIND, config: { dim: f.shape.dim, hidden: f.shape.hidden, loss: f.loss }, training: f.training },
  });
}

/** Loads and checks a file written by saveBlackboxFile (kind, shape, every tensor's shape). */
export function loadBlackboxFile(path: string): BlackboxFile {
  const file = loadOptimizerFile(path);
  const bad = (problem: string): never => {
    throw new FileFormatError(`${path}: ${problem}`, { path });
  };
  if (file.meta.kind !== BLACKBOX_KIND) bad(`is an optimizer file of kind '${file.meta.kind}', not '${BLACKBOX_KIND}' (write one with l2o blackbox train)`);
  const { dim, hidden, loss } = file.meta.config;
  const intIn = (v: unknown, max: number): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
  if (!intIn(dim, 20) || !intIn(hidden, 1024)) bad(`config dim ${String(dim)} / hidden ${String(hidden)} are not integers in 1..20 / 1..1024`);
  if (!(META_LOSSES as readonly unknown[]).includes(loss)) bad(`config loss '${String(loss)}' is not one of ${META_LOSSES.join(", ")}`);
  const shape = { dim: dim as number, hidden: hidden as number };
  const params = new Float64Array(parameterCount(shape));
  let at = 0;
  for (const e of parameterEntries(shape)) {
    const t = Object.hasOwn(file.phi, e.name) ? file.phi[e.name] : undefined;
    if (t === undefined) bad(`has no tensor '${e.name}'`);
    if (t!.shape.join("x") !== e.shape.join("x")) bad(`tensor '${e.name}' has shape [${t!.shape.join(", ")}], expected [${e.shape.join(", ")}]`);
    params.set(t!.data, at);
    at += t!.data.length;
  }
  if (Object.keys(file.phi).length !== parameterEntries(shape).length) bad(`holds tensors other than ${parameterEntries(shape).map((e) => e.name).join(", ")}`);
  return { shape, loss: loss as MetaLoss, params, training: file.meta.training };
}
