/**
 * Sinusoid regression as in MAML (Finn et al. 2017, section 5.1) and Meta-SGD (Li et al. 2017,
 * section 4.1): each task is y = A sin(x - phase) with A uniform on [0.1, 5.0], phase uniform
 * on [0, pi] and inputs uniform on [-5, 5]; K support points to adapt on, `query` points to
 * score the adapted network on.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, uniform, type Key } from "../core/rng.ts";
import type { Episode, EpisodeSource } from "./types.ts";

export const SINUSOID = Object.freeze({ amplitude: [0.1, 5.0], phase: [0, Math.PI], x: [-5.0, 5.0] } as const);

/** The most points per set (support or query) an episode may have. */
export const MAX_SINUSOID_POINTS = 10_000;

export interface SinusoidOptions {
  readonly shots: number;
  readonly query: number;
}

export function sinusoidSource(opts: SinusoidOptions): EpisodeSource {
  for (const [name, v] of [["shots", opts.shots], ["query", opts.query]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SINUSOID_POINTS) throw new ConfigError(`sinusoid: ${name} must be an integer in [1, ${MAX_SINUSOID_POINTS}], got ${v}`);
  }
  const { shots, query } = opts;
  return {
    name: "sinusoid",
    inputShape: [1],
    outputs: 1,
    support: shots,
    query,
    loss: "mse",
    sample(key: Key): Episode {
      const [a, phase] = uniform(foldIn(key, "task"), 2);
      const amp = SINUSOID.amplitude[0] + (SINUSOID.amplitude[1] - SINUSOID.amplitude[0]) * a!;
      const ph = SINUSOID.phase[0] + (SINUSOID.phase[1] - SINUSOID.phase[0]) * phase!;
      const points = (k: Key, n: number): [Float32Array, Float32Array] => {
        const x = uniform(k, n, SINUSOID.x[0], SINUSOID.x[1]);
        const y = new Float32Array(n);
        for (let i = 0; i < n; i++) y[i] = amp * Math.sin(x[i]! - ph);
        return [x, y];
      };
      const [xs, ys] = points(foldIn(key, "support"), shots);
      const [xq, yq] = points(foldIn(key, "query"), query);
      return { xs, ys, xq, yq, support: shots, query };
    },
  };
}
