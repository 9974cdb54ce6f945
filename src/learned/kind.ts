/** What the learned-optimizer registry holds for each kind (`src/learned/registry.ts`). */
import type { LearnedOptimizer } from "./contract.ts";
import type { KernelOptions } from "./kernel_options.ts";

export interface LearnedKind {
  /** The name files record and the command line takes (`lstm`, `mlp`, `hand`). */
  readonly kind: string;
  /** One line for help text. */
  readonly description: string;
  /** Whether `KernelOptions` pick its kernel (and a training file records them). */
  readonly hasKernel: boolean;
  /**
   * What a training file records of the kernel that `kernel` picks for this kind (its
   * `training` details: the engine that actually ran, and what else decides its bits).
   * Absent on a kind without a kernel: nothing is recorded.
   */
  kernelRecord?(kernel: KernelOptions): Readonly<Record<string, unknown>>;
  /**
   * The largest sizes its config may declare (by field), checked by `build` before anything
   * is allocated, so that a hostile file or argument cannot ask for gigabytes.
   */
  readonly limits: Readonly<Record<string, number>>;
  /**
   * The optimizer a configuration describes (read from a file or given by a caller, so it is
   * checked: a bad one throws `ConfigError`). `kernel` picks the kernel where the kind has one.
   */
  build(config: unknown, kernel?: KernelOptions): LearnedOptimizer;
  /** Its architecture and what it reads, in words, for `l2o info` (config as `build` accepts it). */
  describe(config: unknown): KindDescription;
  /**
   * Lines (label, text) for `l2o info` about what this kind's own trainer recorded in a file's
   * `training` details, beyond the settings every kind shares; absent: none.
   */
  trainingLines?(training: Readonly<Record<string, unknown>>): readonly (readonly [string, string])[];
}

export interface KindDescription {
  readonly architecture: string;
  readonly inputs: string;
}
