/**
 * Evaluation candidates from optimizer names (one rule, `src/learned/resolve.ts`): a
 * hand-designed name is tuned over the learning-rate grid unless `@LR` fixes its rate; a file
 * of any kind runs as it was saved.
 */
import { transformsByLayout } from "../learned/contract.ts";
import type { LoadedLearnedOptimizer } from "../learned/file.ts";
import type { KernelOptions } from "../learned/kernel_options.ts";
import { resolveOptimizer } from "../learned/resolve.ts";
import type { Candidate } from "./evaluate.ts";

export interface NamedCandidate extends Candidate {
  /** The optimizer's suggested learning rate (hand-designed only). */
  readonly defaultLr?: number;
  /** The loaded file (a learned optimizer only). */
  readonly loaded?: LoadedLearnedOptimizer;
}

/**
 * The candidate `spec` names. `lr`, when given, fixes a hand-designed optimizer's rate (a
 * rate in the name, `adam@0.01`, comes first); `kernel` is the kernel a learned optimizer runs
 * on. A learned one's `close` frees the engines its runs share.
 */
export function candidateFor(spec: string, kernel: KernelOptions = {}, lr?: number): NamedCandidate {
  const label = spec.trim();
  const r = resolveOptimizer(label, kernel);
  if (r.source === "file") {
    const { loaded } = r;
    // One transform per layout, kept across runs: its engines (and worker threads) are made
    // once, and every run starts from the zero state of `init`. runOptimizer passes each
    // state straight back to the next update, so no copy of it is made per step.
    const txs = transformsByLayout(loaded.optimizer, loaded.phi, { copyState: false });
    const learnsStart = loaded.optimizer.initialParams?.bind(loaded.optimizer);
    return {
      label,
      tune: false,
      loaded,
      ...(learnsStart !== undefined ? { start: (layout, theta0) => learnsStart(loaded.phi, layout, theta0) } : {}),
      make: (_lr, layout) => {
        const tx = txs.get(layout);
        // Without `dispose`: runCandidate frees what a run made; these engines outlive the run.
        // With `paramsAt` where the kind has it (a look-ahead), so that the run reports its parameters' losses.
        return { init: tx.init, update: tx.update, ...(tx.paramsAt === undefined ? {} : { paramsAt: tx.paramsAt }) };
      },
      close: () => txs.dispose(),
    };
  }
  const o = r.spec;
  const fixed = r.lr ?? lr;
  return {
    label: r.lr !== undefined ? label : o.name,
    tune: true,
    defaultLr: o.defaultLr,
    ...(fixed !== undefined ? { lr: fixed } : {}),
    make: (rate) => o.make(rate ?? o.defaultLr),
  };
}
