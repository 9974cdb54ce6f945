/**
 * The few-shot tasks by name and their defaults: the episode source a task config describes,
 * and the settings a training starts from (as published where the CPU allows: MAML's sinusoid
 * settings; a smaller meta-batch for classification).
 */
import { ConfigError } from "../core/errors.ts";
import { classificationSource } from "./classification.ts";
import { FEWSHOT_SOURCES } from "./data/index.ts";
import type { TaskConfig } from "./file.ts";
import type { NetConfig } from "./net.ts";
import { sinusoidSource } from "./sinusoid.ts";
import type { EpisodeSource } from "./types.ts";

export const FEWSHOT_TASKS: readonly string[] = ["sinusoid", ...FEWSHOT_SOURCES];

export interface TaskDefaults {
  readonly net: NetConfig;
  readonly steps: number;
  readonly innerLr: number;
  readonly metaBatch: number;
  /** Query points (sinusoid) or query examples per class at training time. */
  readonly query: number;
  /** The same at evaluation. */
  readonly evalQuery: number;
}

/**
 * Sinusoid: MAML's 1-40-40-1 ReLU network, one inner step at 0.01, 25 tasks per meta-batch, as
 * many query points as shots in training (MAML) and 100 at evaluation. Classification: MAML's
 * four conv blocks of 32 filters, 5 inner steps at 0.4 (MAML's Omniglot rate; 0.01 for
 * mini-ImageNet), 15 queries per class, 4 episodes per meta-batch.
 */
export function taskDefaults(task: string, shots: number): TaskDefaults {
  if (task === "sinusoid") return { net: { kind: "mlp", hidden: [40, 40] }, steps: 1, innerLr: 0.01, metaBatch: 25, query: shots, evalQuery: 100 };
  checkTaskName(task);
  return { net: { kind: "conv", filters: 32, blocks: 4 }, steps: 5, innerLr: task === "mini-imagenet" ? 0.01 : 0.4, metaBatch: 4, query: 15, evalQuery: 15 };
}

export function checkTaskName(task: string): void {
  if (!FEWSHOT_TASKS.includes(task)) throw new ConfigError(`unknown few-shot task '${task}' (one of ${FEWSHOT_TASKS.join(", ")})`);
}

/** The episodes of a task config; `data` is the folder of the user's Omniglot or mini-ImageNet. */
export function episodeSource(t: TaskConfig, data?: string): EpisodeSource {
  checkTaskName(t.task);
  if (t.task === "sinusoid") {
    if (t.ways !== undefined) throw new ConfigError(`sinusoid regression has no ways`);
    if (data !== undefined) throw new ConfigError(`sinusoid episodes are generated and read no folder (--data is for omniglot and mini-imagenet)`);
    return sinusoidSource({ shots: t.shots, query: t.query });
  }
  if (t.ways === undefined || t.ways < 2) throw new ConfigError(`${t.task}: classification needs at least 2 ways`);
  return classificationSource({ dataset: t.task, ways: t.ways, shots: t.shots, query: t.query, ...(data !== undefined ? { data } : {}), ...(t.imageSize !== undefined ? { imageSize: t.imageSize } : {}) });
}
