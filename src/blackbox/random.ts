/**
 * A stream of random numbers drawn from one key of core/rng.ts, for the many single draws the
 * black-box methods make (a restart point, a candidate, a random query). Blocks of 256 come
 * from `foldIn(key, block)`, so a stream is a pure function of its key.
 */
import { foldIn, normal, uniform, type Key } from "../core/rng.ts";

export class Rand {
  private block = 0;
  private u: Float32Array = new Float32Array(0);
  private ui = 0;
  private g: Float32Array = new Float32Array(0);
  private gi = 0;
  constructor(private readonly key: Key) {}

  /** Uniform on [0, 1). */
  uniform(): number {
    if (this.ui >= this.u.length) {
      this.u = uniform(foldIn(this.key, this.block++), 256);
      this.ui = 0;
    }
    return this.u[this.ui++]!;
  }

  /** Standard normal. */
  normal(): number {
    if (this.gi >= this.g.length) {
      this.g = normal(foldIn(this.key, this.block++), 256);
      this.gi = 0;
    }
    return this.g[this.gi++]!;
  }

  /** n uniform numbers on [0, 1) in a new array. */
  uniforms(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }
}
