/**
 * One rule for turning an optimizer's name into an optimizer, everywhere names are taken:
 *
 * 1. a registered hand-designed name (`adam`, `nag`), optionally at a fixed rate (`adam@0.01`);
 * 2. else a pretrained name (`quadratic` or `pretrained/quadratic`: a file shipped in
 *    `pretrained/`; `lineage/mnist-paper` for the earlier files under `pretrained/lineage/`);
 * 3. else a path to an optimizer file (`.safetensors` may be left off).
 *
 * A file resolves to the kind it records. `KIND:NAME` (`lstm:pretrained/quadratic`,
 * `lstm:runs/q.safetensors`) resolves NAME by rules 2 and 3 and insists on that kind; `rl:` is
 * short for `rl-policy:` (Li & Malik's policies, `l2o rl train`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { L2oError, shownValue } from "../core/errors.ts";
import { OPTIMIZER_NAMES, optimizerSpec, type OptimizerSpec } from "../optimizers/registry.ts";
import { loadLearnedOptimizer, PRETRAINED_DIR, resolveOptimizerPath, type LoadedLearnedOptimizer } from "./file.ts";
import type { KernelOptions } from "./kernel_options.ts";
import { kindOfPrefix } from "./registry.ts";
import { isPretrainedName, pretrainedHint, pretrainedNames } from "./pretrained.ts";

export { pretrainedNames };

/** A name that names nothing: not an optimizer, not a pretrained file, not a file. */
export class UnknownOptimizerError extends L2oError {
  override readonly name: string = "UnknownOptimizerError";
}

export type ResolvedOptimizer =
  /** A hand-designed optimizer: its rate fixed by `@LR`, else left to tuning. */
  | { readonly source: "hand"; readonly spec: OptimizerSpec; readonly lr?: number }
  /** An optimizer file of any kind. */
  | { readonly source: "file"; readonly loaded: LoadedLearnedOptimizer };

function parseRate(spec: string, raw: string): number {
  const v = Number(raw);
  // Decimal only: Number() would also read "0x10" or " 1 ".
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) || !Number.isFinite(v)) {
    throw new UnknownOptimizerError(`the learning rate in '${spec}' expects a decimal number, got '${raw}'`);
  }
  if (!(v > 0)) throw new UnknownOptimizerError(`the learning rate in '${spec}' must be greater than 0, got '${raw}'`);
  return v;
}

/**
 * The path a file name resolves to by rules 2 and 3, or null when a plain name (no folder, no
 * extension) names no file; a name that is a path is returned as a path, missing or not, so
 * that loading it says which file is missing.
 */
function fileFor(name: string): string | null {
  if (isPretrainedName(name)) return join(PRETRAINED_DIR, `${name}.safetensors`);
  const p = resolveOptimizerPath(name);
  if (existsSync(p)) return p;
  // A missing file that a shipped optimizer's name explains says so, rather than "not found".
  const hint = pretrainedHint(name);
  if (hint !== undefined) throw new UnknownOptimizerError(`no optimizer file '${name}': ${hint}`);
  const looksLikePath = /[\\/]/.test(name) || name.endsWith(".safetensors");
  return looksLikePath ? p : null;
}

function notFound(spec: string, name: string, kind?: string): never {
  const hand = kind === undefined ? `a hand-designed optimizer (${OPTIMIZER_NAMES.join(", ")}), ` : "";
  throw new UnknownOptimizerError(`unknown optimizer '${spec}': not ${hand}a pretrained optimizer (${pretrainedNames().join(", ")}) or an optimizer file (no file '${name}')`);
}

/** Resolves `spec` by the rule above; `kernel` is the kernel a learned optimizer runs on. */
export function resolveOptimizer(spec: string, kernel: KernelOptions = {}): ResolvedOptimizer {
  if (typeof spec !== "string") throw new UnknownOptimizerError(`an optimizer name must be a string, got ${typeof spec} ${shownValue(spec)}`);
  const s = spec.trim();
  if (s === "") throw new UnknownOptimizerError("an optimizer name is empty");
  const colon = /^([a-z][a-z0-9-]*):(.*)$/.exec(s);
  const kind = colon === null ? undefined : kindOfPrefix(colon[1]!);
  if (colon !== null && kind !== undefined) {
    const [, prefix, name] = colon as unknown as [string, string, string];
    if (name === "") throw new UnknownOptimizerError(`'${spec}': give the optimizer file after '${prefix}:', e.g. ${prefix === "lstm" ? "lstm:pretrained/quadratic" : `${prefix}:runs/FILE.safetensors`}`);
    const path = fileFor(name) ?? notFound(spec, name, kind);
    return { source: "file", loaded: loadLearnedOptimizer(path, kernel, kind) };
  }
  const at = s.lastIndexOf("@");
  const base = at > 0 ? s.slice(0, at) : s;
  if (isHandDesigned(base)) {
    const spec0 = optimizerSpec(base);
    return at > 0 ? { source: "hand", spec: spec0, lr: parseRate(spec, s.slice(at + 1)) } : { source: "hand", spec: spec0 };
  }
  const path = fileFor(s) ?? notFound(spec, s);
  return { source: "file", loaded: loadLearnedOptimizer(path, kernel) };
}

/** Whether `name` is a registered hand-designed optimizer or one of its aliases. */
function isHandDesigned(name: string): boolean {
  try {
    optimizerSpec(name);
    return true;
  } catch {
    return false;
  }
}
