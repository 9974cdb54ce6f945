/**
 * The optimizers that ship with the package, in `pretrained/`: one per task under its plain
 * name (`quadratic`, `mnist`, and `general` for the broad task mixture), and under `pretrained/lineage/` the earlier files they descend
 * from, kept so that every result in docs/RESULTS.md can be replayed. Each file's metadata
 * records its lineage (`training.lineage`: its name, former names, real parent, the commands
 * that made it, and how it was chosen); this module reads only what naming needs.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { loadOptimizerFile } from "../io/optimizer_file.ts";
import { PRETRAINED_DIR } from "./file.ts";

/** The folder, under `pretrained/`, of the earlier files. */
export const LINEAGE_FOLDER = "lineage";

const EXT = ".safetensors";

function namesIn(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(EXT))
    .map((f) => `${prefix}${f.slice(0, -EXT.length)}`);
}

/** The shipped optimizers' names, sorted: the plain ones first, then `lineage/NAME`. */
export function pretrainedNames(): string[] {
  return [...namesIn(PRETRAINED_DIR, "").sort(), ...namesIn(join(PRETRAINED_DIR, LINEAGE_FOLDER), `${LINEAGE_FOLDER}/`).sort()];
}

/** Whether `name` (`mnist`, `lineage/mnist-paper`) is a shipped optimizer's name. */
export function isPretrainedName(name: string): boolean {
  return /^(lineage\/)?[A-Za-z0-9_-]+$/.test(name) && pretrainedNames().includes(name);
}

/** The lineage a shipped file records (`training.lineage`), or undefined where it has none. */
export interface Lineage {
  readonly name?: string;
  readonly formerly?: readonly string[];
  readonly parent?: string | null;
  readonly parentNote?: string;
  readonly recipe?: readonly string[];
  readonly chosen?: string;
  readonly doc?: string;
}

export function lineageOf(training: Record<string, unknown> | undefined): Lineage | undefined {
  const l = training?.lineage;
  return typeof l === "object" && l !== null && !Array.isArray(l) ? (l as Lineage) : undefined;
}

/**
 * For a name that names no file, a hint naming the shipped optimizer meant, or undefined:
 * a former name of a shipped file (`quadratic-h100` is now `lineage/quadratic-100steps`), or
 * a path whose file name is a shipped name (`runs/quadratic.safetensors` when only the
 * shipped `quadratic` exists).
 */
export function pretrainedHint(name: string): string | undefined {
  const plain = name.replace(/^pretrained\//, "").replace(/\.safetensors$/, "");
  for (const shipped of pretrainedNames()) {
    const formerly = lineageOf(loadOptimizerFile(join(PRETRAINED_DIR, `${shipped}${EXT}`)).meta.training)?.formerly ?? [];
    // A former name is recorded as `pretrained/NAME`, perhaps with a note after it.
    if (formerly.some((f) => f.split(" ")[0] === `pretrained/${plain}`)) return `'${plain}' was renamed: the shipped optimizer is now '${shipped}'`;
  }
  const base = basename(plain);
  if (base !== plain && isPretrainedName(base)) return `a shipped optimizer is named '${base}': give its name alone, without a folder`;
  const lineage = `${LINEAGE_FOLDER}/${base}`;
  if (isPretrainedName(lineage)) return `a shipped optimizer is named '${lineage}'`;
  return undefined;
}
