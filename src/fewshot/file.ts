/**
 * Few-shot learners on disk, in the optimizer-file container of `io/optimizer_file.ts` (one
 * safetensors file: tensors by name with a SHA-256 each, the metadata hashed too), under the
 * kind `fewshot`. The meta-parameters are the tensors (the learned initialisation by the
 * network's names, `l0.w`, `conv0.w`, `bn0.scale`; the method's own as `alpha.*`, `lr.*`,
 * `mc.*`, `lstm.*`); `config` holds the learner (method, network, inner steps and rate) and the
 * episodes it was trained on, `training` how. A few-shot learner is not a kind of the
 * learned-optimizer registry: that contract steps a Task through its detached gradient, while
 * these learners differentiate through their own network's inner loop in jax-js.
 */
import { ConfigError } from "../core/errors.ts";
import { loadOptimizerFile, saveOptimizerFile } from "../io/optimizer_file.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { checkLearnerConfig, makeLearner, type Learner, type LearnerConfig } from "./learner.ts";
import type { EpisodeShape, HostTree } from "./types.ts";

export const FEWSHOT_KIND = "fewshot";

/** The episodes a learner was trained on, as files record them. */
export interface TaskConfig {
  /** `sinusoid`, `glyphs`, `omniglot` or `mini-imagenet`. */
  readonly task: string;
  /** Classification only. */
  readonly ways?: number;
  readonly shots: number;
  readonly query: number;
  /** Glyphs only: the image side. */
  readonly imageSize?: number;
}

export interface SavedLearner {
  readonly learner: LearnerConfig;
  readonly task: TaskConfig;
  readonly meta: HostTree;
  readonly training: Record<string, unknown>;
}

export function saveLearner(path: string, s: SavedLearner): void {
  for (const [name, t] of Object.entries(s.meta)) {
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new ConfigError(`save ${path}: refusing to write ${name} with a non-finite value at ${bad}; the training that made it diverged`);
  }
  const phi = Object.fromEntries(Object.entries(s.meta).map(([k, t]) => [k, { shape: [...t.shape], data: t.data }]));
  saveOptimizerFile(path, { phi, meta: { kind: FEWSHOT_KIND, config: JSON.parse(JSON.stringify({ learner: s.learner, task: s.task })) as Record<string, unknown>, training: s.training } });
}

function checkTaskConfig(c: unknown, path: string): TaskConfig {
  const r = (c ?? {}) as Record<string, unknown>;
  const int = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 100_000;
  if (typeof r.task !== "string" || !int(r.shots) || !int(r.query) || (r.ways !== undefined && !int(r.ways)) || (r.imageSize !== undefined && !int(r.imageSize))) {
    throw new FileFormatError(`${path}: the few-shot task in its config is malformed: ${JSON.stringify(c).slice(0, 200)}`, { path });
  }
  return r as unknown as TaskConfig;
}

/** A saved learner, its tensors checked against the learner its config describes. */
export function loadLearner(path: string, shapeOf: (task: TaskConfig) => EpisodeShape): SavedLearner & { built: Learner } {
  const file = loadOptimizerFile(path);
  if (file.meta.kind !== FEWSHOT_KIND) throw new FileFormatError(`${path}: a ${file.meta.kind} optimizer, not a few-shot learner (kind ${FEWSHOT_KIND}); evaluate it with l2o eval`, { path });
  let learner: LearnerConfig;
  try {
    learner = checkLearnerConfig(file.meta.config.learner);
  } catch (e) {
    throw new FileFormatError(`${path}: ${(e as Error).message}`, { path, cause: e });
  }
  const task = checkTaskConfig(file.meta.config.task, path);
  const built = makeLearner(learner, shapeOf(task));
  const meta: HostTree = {};
  for (const s of built.metaSpecs) {
    const t = file.phi[s.name];
    if (t === undefined) throw new FileFormatError(`${path}: no tensor ${s.name}, which a ${learner.method} learner needs`, { path });
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new FileFormatError(`${path}: tensor ${s.name} has shape [${t.shape.join(", ")}], the learner's is [${s.shape.join(", ")}]`, { path });
    }
    meta[s.name] = { shape: s.shape, data: t.data };
  }
  const extra = Object.keys(file.phi).filter((k) => !(k in meta));
  if (extra.length > 0) throw new FileFormatError(`${path}: tensors the learner does not have: ${extra.slice(0, 5).join(", ")}`, { path });
  return { learner, task, meta, training: file.meta.training, built };
}
