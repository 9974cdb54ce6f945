/** What a training run shows on the console: a progress bar, a line per epoch, a resume line. */
import { existsSync } from "node:fs";
import type { MetaTrainConfig } from "../meta/config.ts";
import type { MetaTrainState } from "../meta/state.ts";
import { plannedIterations, type TrainJobHooks } from "../meta/job.ts";
import { progress } from "./progress.ts";

/**
 * Hooks that print to the console; `stop` clears the progress bar. The bar (or, off a terminal,
 * a line every few seconds) counts meta-iterations and shows the epoch and the last meta-loss;
 * `quiet` leaves it out (the lines per epoch stay).
 */
export function consoleTrainHooks(meta: MetaTrainConfig, opts: { readonly quiet?: boolean } = {}): TrainJobHooks & { stop(): void } {
  // A time-limited run (the demo's) may end in any epoch: no "of N" there.
  const epochs = meta.maxSeconds > 0 ? "" : ` of ${meta.epochs}`;
  const phase = (epoch: number): string => `meta-training, epoch ${epoch + 1}${epochs}`;
  const bar = progress({
    phase: phase(0),
    total: plannedIterations(meta),
    unit: "meta-iterations",
    ...(meta.maxSeconds > 0 ? { limitSeconds: meta.maxSeconds } : {}),
    ...(opts.quiet === true ? { quiet: true } : {}),
  });
  return {
    onResume(s, path, caveat) {
      const within = s.epochHorizons > 0 ? `, ${s.epochHorizons} horizons into epoch ${s.epoch + 1}` : "";
      if (caveat !== undefined) process.stderr.write(`l2o: warning: ${caveat}\n`);
      bar.resumeFrom(s.metaIteration);
      process.stdout.write(`resuming from ${path} at epoch ${s.epoch}${within}\n`);
    },
    onIteration: (s, loss) => bar.update(s.metaIteration, { phase: phase(s.epoch), detail: `meta-loss ${loss.toPrecision(4)}` }),
    onEpoch(s, score, partial, epochNo, seconds) {
      const cut = partial ? ` (time limit after ${s.epochHorizons} of ${meta.horizonsPerEpoch} horizons)` : "";
      process.stdout.write(
        `epoch ${String(epochNo).padStart(3)}${cut}  validation ${score.toPrecision(5)}  best ${s.bestScore.toPrecision(5)} (epoch ${s.bestEpoch})  ${seconds.toFixed(0)}s\n`,
      );
    },
    stop: () => bar.stop(),
  };
}

/**
 * What an interrupted training says (on standard error): where it stopped, where its state is
 * (or that nothing could be saved without a checkpoint), and where the best optimizer so far is.
 */
export function reportInterrupted(s: MetaTrainState, signal: string, files: { readonly out: string; readonly checkpoint?: string | undefined }): void {
  const at = `after ${s.epoch} epochs${s.epochHorizons > 0 ? ` and ${s.epochHorizons} horizons` : ""} (${s.metaIteration} meta-iterations)`;
  const state =
    files.checkpoint !== undefined
      ? `the training state is saved in ${files.checkpoint}; run the same command again to resume`
      : "without --checkpoint the training state could not be saved";
  const best = s.metaIteration > 0 && s.bestEpoch >= 0 && existsSync(files.out) ? `; the best optimizer so far (epoch ${s.bestEpoch}) is in ${files.out}` : "";
  process.stderr.write(`l2o: interrupted by ${signal} ${at}: ${state}${best}\n`);
}
