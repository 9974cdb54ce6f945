/**
 * A learned optimizer from the contents of its file: the kind the file records, built from
 * its config, with phi checked against that config. Nothing here reads a file or imports a
 * Node module: `decodeLearnedOptimizer` takes the file's bytes (a browser page fetches them),
 * and `loadLearnedOptimizer` (`file.ts`) reads them from disk first.
 */
import { ConfigError } from "../core/errors.ts";
import { decodeOptimizerFile, phiToFlat, type OptimizerFile, type OptimizerMeta } from "../io/optimizer_bytes.ts";
import { FileFormatError, clip } from "../io/safetensors.ts";
import type { LearnedOptimizer } from "./contract.ts";
import { checkKernelOptions, type KernelOptions } from "./kernel_options.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "./registry.ts";

/** The kind of the few-shot learners' files (`src/fewshot/file.ts`): the same container, read by `l2o fewshot`. */
const FEWSHOT_FILE_KIND = "fewshot";
/** The kind of the query-proposing LSTM's files (`src/blackbox/file.ts`): the same container, read by `l2o blackbox eval`. */
const BLACKBOX_FILE_KIND = "blackbox-lstm";

/** A learned optimizer rebuilt from its file. */
export interface DecodedLearnedOptimizer<O extends LearnedOptimizer = LearnedOptimizer> {
  readonly optimizer: O;
  readonly phi: Float32Array;
  readonly meta: OptimizerMeta;
  /**
   * What the user should be told about the file (the CLI prints each as `l2o: warning: ...`):
   * e.g. that it predates the hashes that detect damage.
   */
  readonly warnings: readonly string[];
}

/**
 * The optimizer an optimizer file describes (`source` names the file in errors), of any
 * registered kind or, with `expectKind`, only of that kind; `kernel` picks the kernel it runs
 * on. A file that does not describe a working optimizer is a FileFormatError.
 *
 * Nothing is allocated in proportion to a size the file declares until it is checked: the
 * kind checks its config against its `limits` (building an optimizer allocates nothing per
 * weight), and every tensor the config needs must be in the file with its shape before phi is
 * assembled, so phi is never larger than the file.
 */
export function learnedFromFile(file: OptimizerFile, source: string, kernel: KernelOptions = {}, expectKind?: string): DecodedLearnedOptimizer {
  checkKernelOptions(kernel);
  if (expectKind !== undefined && !LEARNED_KIND_NAMES.includes(expectKind)) {
    throw new ConfigError(`unknown learned-optimizer kind '${clip(String(expectKind))}'; known kinds: ${LEARNED_KIND_NAMES.join(", ")}`);
  }
  const kindName = file.meta.kind;
  const refuse = (problem: string): never => {
    throw new FileFormatError(`${source}: ${problem}; re-train or re-download the optimizer file`, { path: source });
  };
  if (expectKind !== undefined && kindName !== expectKind) {
    throw new FileFormatError(`${source} holds a '${clip(kindName)}' optimizer; expected kind '${expectKind}'`, { path: source });
  }
  if (kindName === FEWSHOT_FILE_KIND) {
    throw new FileFormatError(`${source} holds a few-shot learner (kind '${FEWSHOT_FILE_KIND}'), not an optimizer of a task: evaluate it with l2o fewshot eval ${source}`, { path: source });
  }
  if (kindName === BLACKBOX_FILE_KIND) {
    throw new FileFormatError(
      `${source} holds a black-box query-proposing LSTM (kind '${BLACKBOX_FILE_KIND}'), which minimises from function values, not an optimizer of a task: evaluate it with l2o blackbox eval --methods ${source}`,
      { path: source },
    );
  }
  if (!LEARNED_KIND_NAMES.includes(kindName)) {
    throw new FileFormatError(`${source} holds a '${clip(kindName)}' optimizer, a kind this version of l2o does not know (known: ${LEARNED_KIND_NAMES.join(", ")})`, {
      path: source,
    });
  }
  let optimizer: LearnedOptimizer;
  try {
    optimizer = learnedKind(kindName).build(file.meta.config, kernel);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return refuse(`invalid ${kindName} configuration (${clip(e.message, 300)})`);
  }
  // Names and shapes first: phiToFlat allocates what the config asks for.
  const expected = new Set(optimizer.phiEntries.map((e) => e.name));
  const extra = Object.keys(file.phi).filter((n) => !expected.has(n));
  if (extra.length > 0) refuse(`tensors ${clip(extra.join(", "), 300)} do not belong to its configuration`);
  for (const e of optimizer.phiEntries) {
    const t = Object.hasOwn(file.phi, e.name) ? file.phi[e.name] : undefined;
    const want = `[${e.shape.join(", ")}]`;
    if (t === undefined) refuse(`weights do not fit the configuration (no tensor '${e.name}' of shape ${want})`);
    else if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      refuse(`weights do not fit the configuration (tensor '${e.name}' has shape [${clip(t.shape.join(", "))}], expected ${want})`);
    }
  }
  const phi = phiToFlat(file.phi, optimizer.phiEntries);
  if (!phi.every(Number.isFinite)) refuse("weights contain NaN or infinite values");
  return { optimizer, phi, meta: file.meta, warnings: file.warnings };
}

/**
 * The learned optimizer whose file is `bytes` (fetched by a page, say), checked as
 * `loadLearnedOptimizer` checks a file on disk: size, hashes, kind, config and tensors.
 * `source` names it in errors.
 */
export function decodeLearnedOptimizer(bytes: Uint8Array, source = "optimizer file", kernel: KernelOptions = {}, expectKind?: string): DecodedLearnedOptimizer {
  return learnedFromFile(decodeOptimizerFile(bytes, source), source, kernel, expectKind);
}
