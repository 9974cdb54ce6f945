/** What a training run shows on the console: a progress bar, a line per epoch, a resume line. */
import type { MetaTrainConfig } from "../meta/config.ts";
import { plannedIterations, type TrainJobHooks } from "../meta/job.ts";
import { progress } from "./progress.ts";

/** Hooks that print to the console; `stop` clears the progress bar. */
export function consoleTrainHooks(meta: MetaTrainConfig): TrainJobHooks & { stop(): void } {
  const bar = progress(plannedIterations(meta), "meta-iterations", " | meta-loss {loss}");
  return {
    onResume(s, path) {
      const within = s.epochHorizons > 0 ? `, ${s.epochHorizons} horizons into epoch ${s.epoch + 1}` : "";
      process.stdout.write(`resuming from ${path} at epoch ${s.epoch}${within}\n`);
    },
    onIteration: (s, loss) => bar.update(s.metaIteration, { loss: loss.toFixed(4) }),
    onEpoch(s, score, partial, epochNo, seconds) {
      const cut = partial ? ` (time limit after ${s.epochHorizons} of ${meta.horizonsPerEpoch} horizons)` : "";
      process.stdout.write(
        `epoch ${String(epochNo).padStart(3)}${cut}  validation ${score.toPrecision(5)}  best ${s.bestScore.toPrecision(5)} (epoch ${s.bestEpoch})  ${seconds.toFixed(0)}s\n`,
      );
    },
    stop: () => bar.stop(),
  };
}
