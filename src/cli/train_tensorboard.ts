/**
 * `l2o train --tensorboard DIR`: training hooks that write what a training reports to a
 * TensorBoard event file (`src/io/tensorboard.ts`), beside the console's hooks. Per
 * meta-iteration `meta_loss` (step: the meta-iteration, as the log's `meta/loss`); per epoch
 * (step: the epoch) `validation`, `best_validation`, `epoch_meta_loss` (the epoch's mean
 * meta-loss, the log's `meta/epoch_loss`), `skipped_unrolls` and `seconds` (since the start); an
 * epoch cut short by --max-seconds reports `partial_validation` alone. The file is flushed after every epoch
 * and when the training ends; it is opened at the first value, so a run refused before it
 * trains leaves none. A resumed run writes a new file in the same folder.
 */
import type { TrainJobHooks } from "../meta/job.ts";
import { tensorboardWriter, type TensorBoardWriter } from "../io/tensorboard.ts";

export type StoppableHooks = TrainJobHooks & { stop(): void };

export function tensorboardTrainHooks(dir: string): StoppableHooks {
  let writer: TensorBoardWriter | undefined;
  const w = (): TensorBoardWriter => (writer ??= tensorboardWriter(dir));
  // The epoch's meta-losses so far (a resumed run starts from the checkpoint's sums).
  let sum = 0;
  let count = 0;
  return {
    onResume(s) {
      sum = s.epochLoss;
      count = s.epochUpdates;
    },
    onIteration(s, loss) {
      w().scalar("meta_loss", loss, s.metaIteration);
      sum += loss;
      count += 1;
    },
    onEpoch(s, score, partial, epoch, seconds) {
      const out = w();
      if (partial) {
        out.scalar("partial_validation", score, epoch);
      } else {
        out.scalar("validation", score, epoch);
        out.scalar("best_validation", s.bestScore, epoch);
        if (count > 0) out.scalar("epoch_meta_loss", sum / count, epoch);
        out.scalar("skipped_unrolls", s.skipped, epoch);
        out.scalar("seconds", seconds, epoch);
        sum = 0;
        count = 0;
      }
      out.flush();
    },
    stop: () => writer?.close(),
  };
}

/** Hooks that call each of `all` in turn (undefined ones skipped); `stop` stops each. */
export function composeHooks(...all: Array<StoppableHooks | undefined>): StoppableHooks {
  const hooks = all.filter((h): h is StoppableHooks => h !== undefined);
  return {
    onResume: (...a) => hooks.forEach((h) => h.onResume?.(...a)),
    onIteration: (...a) => hooks.forEach((h) => h.onIteration?.(...a)),
    onEpoch: (...a) => hooks.forEach((h) => h.onEpoch?.(...a)),
    stop: () => hooks.forEach((h) => h.stop()),
  };
}
