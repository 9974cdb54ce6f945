/** Turns command-line names into task families and optimizer candidates, with clear errors. */
import { taskFamily } from "../tasks/registry.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { optimizerSpec } from "../optimizers/registry.ts";
import type { Candidate } from "../eval/evaluate.ts";
import { loadLstmOptimizer, type LoadedLstmOptimizer } from "../learned/file.ts";
import { transformsByLayout } from "../learned/lstm_optimizer.ts";
import { defaultEngineFactory, type EngineKind, type ThreadCount } from "../kernels/select.ts";
import { L2oError } from "../core/errors.ts";
import { UsageError } from "./errors.ts";
import { parseNumber } from "./options.ts";

/** A task family by registry name; unknown names and bad configuration are usage errors. */
export function resolveTaskFamily(name: string, config: Record<string, unknown>): TaskFamily {
  try {
    return taskFamily(name, config);
  } catch (e) {
    // The registry reports a bad name or configuration as a plain Error: that is a usage
    // error. User errors of their own class (a missing data file) keep it; anything else
    // (a TypeError) is a bug and stays one.
    if (e instanceof L2oError || !(e instanceof Error) || Object.getPrototypeOf(e) !== Error.prototype) throw e;
    throw new UsageError(e.message);
  }
}

export interface ResolvedCandidate extends Candidate {
  /** The optimizer's suggested learning rate (hand-designed only). */
  readonly defaultLr?: number;
  /** The loaded file (learned only). */
  readonly loaded?: LoadedLstmOptimizer;
}

/**
 * `adam` (learning rate tuned), `adam@0.01` (fixed), or `lstm:FILE` / `lstm:pretrained/NAME`
 * (a trained optimizer file). `lr`, when given, fixes the rate of a hand-designed optimizer;
 * `engine` and `threads` are the LSTM kernel a learned one runs on (default: wasm on one
 * thread). A learned one's `close` frees the engines its runs share.
 */
export function resolveCandidate(spec: string, lr?: number, engine?: EngineKind, threads: ThreadCount = 1): ResolvedCandidate {
  const s = spec.trim();
  if (s.startsWith("lstm:")) {
    const file = s.slice("lstm:".length);
    if (file === "") throw new UsageError(`'${spec}': give the optimizer file after 'lstm:', e.g. lstm:pretrained/quadratic`);
    const loaded = loadLstmOptimizer(file, defaultEngineFactory(engine, threads));
    // One transform per layout, kept across runs: its engines (and worker threads) are made
    // once, and every run starts from the zero state of `init`. runOptimizer passes each
    // state straight back to the next update, so no copy of it is made per step.
    const txs = transformsByLayout(loaded.optimizer, loaded.phi, { copyState: false });
    return {
      label: s,
      tune: false,
      loaded,
      make: (_lr, layout) => {
        const tx = txs.get(layout);
        // Without `dispose`: runCandidate frees what a run made; these engines outlive the run.
        return { init: tx.init, update: tx.update };
      },
      close: () => txs.dispose(),
    };
  }
  const [name, rate] = s.split("@") as [string, string | undefined];
  let o;
  try {
    o = optimizerSpec(name);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; or give a trained optimizer as lstm:FILE`);
  }
  const fixed = rate !== undefined ? parseNumber(`learning rate in '${spec}'`, rate, { positive: true }) : lr;
  return {
    label: rate !== undefined ? s : o.name,
    tune: true,
    defaultLr: o.defaultLr,
    ...(fixed !== undefined ? { lr: fixed } : {}),
    make: (r) => o.make(r ?? o.defaultLr),
  };
}
