/**
 * The optimizer a name gives the tfjs adapter, by l2o's one name rule (`src/learned/resolve.ts`),
 * with what a saved model records to find it again: a name that resolves the same way
 * anywhere (a shipped optimizer's plain name, a file's absolute path) and a SHA-256 of the
 * optimizer (kind, config, weights), so that a model reloaded where the name now means other
 * weights is refused instead of continuing with a state that belongs to another optimizer.
 */
import { dirname, relative, isAbsolute } from "node:path";
import type { LearnedOptimizer } from "../../learned/contract.ts";
import { PRETRAINED_DIR } from "../../learned/file.ts";
import { handDesigned } from "../../learned/hand.ts";
import type { KernelOptions } from "../../learned/kernel_options.ts";
import { resolveOptimizer } from "../../learned/resolve.ts";
import { sha256Hex } from "../../io/sha256.ts";

export interface OptimizerSource {
  readonly optimizer: LearnedOptimizer;
  readonly phi: Float32Array;
  /** The name to save in a model's training config (resolves to the same file elsewhere on this machine). */
  readonly savedName: string;
  /** SHA-256 (hex) of the kind, the config and phi's bits. */
  readonly sha256: string;
  /** What loading the file warned about (the library prints nothing). */
  readonly warnings: readonly string[];
}

/** Whether `path` lies inside the shipped `pretrained/` folder. */
function isShipped(path: string): boolean {
  const rel = relative(PRETRAINED_DIR, dirname(path));
  return !rel.startsWith("..") && !isAbsolute(rel);
}

/** The SHA-256 that identifies an optimizer with its weights. */
export function optimizerDigest(opt: LearnedOptimizer, phi: Float32Array): string {
  const head = new TextEncoder().encode(JSON.stringify({ kind: opt.kind, config: opt.config }));
  const bytes = new Uint8Array(head.length + phi.byteLength);
  bytes.set(head);
  bytes.set(new Uint8Array(phi.buffer, phi.byteOffset, phi.byteLength), head.length);
  return sha256Hex(bytes);
}

/**
 * The optimizer `name` names: a shipped one by its plain name (`mnist`), a file by its path (or
 * `KIND:PATH`), a hand-designed one (`adam`, `adam@0.01`; without `@LR` at its default rate).
 * Throws `UnknownOptimizerError` for a name that names nothing, `FileFormatError` for a
 * damaged file.
 */
export function optimizerSource(name: string, kernel: KernelOptions = {}): OptimizerSource {
  const r = resolveOptimizer(name, kernel);
  if (r.source === "hand") {
    const lr = r.lr ?? r.spec.defaultLr;
    const optimizer = handDesigned(r.spec.name, r.spec.make(lr), { optimizer: r.spec.name, lr });
    const phi = new Float32Array(0);
    return { optimizer, phi, savedName: name.trim(), sha256: optimizerDigest(optimizer, phi), warnings: [] };
  }
  const { optimizer, phi, path, warnings } = r.loaded;
  const savedName = isShipped(path) ? name.trim() : `${optimizer.kind}:${path}`;
  return { optimizer, phi, savedName, sha256: optimizerDigest(optimizer, phi), warnings };
}
