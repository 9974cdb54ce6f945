// Two truncations of an LSTM engine's recorded steps and their backward passes, with random
// inputs and output gradients from a seed: what the engine tests compare between engines and
// builds (test/wasm_engine.test.ts, test/kernel_source.test.ts).
import assert from "node:assert/strict";
import { key, split, uniform } from "../src/core/rng.ts";
import { phiSize, stateSize, type LstmEngine } from "../src/kernels/types.ts";

/** The float32 arrays `parts` one after the other. */
export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface Trace {
  phi: Float32Array;
  outs: Float32Array;
  states: Float32Array;
  dxs: Float32Array;
  dphi: Float32Array;
}

/**
 * Two truncations of T steps each (the second starting from the first's final state), with
 * random inputs and output gradients; returns everything the engine produced.
 */
export function runTrace(e: LstmEngine, seed: number, T: number, phiScale: number): Trace {
  const { n, shape } = e;
  const I = shape.inputs;
  const ks = split(key(seed), 4);
  const phi = uniform(ks[0]!, phiSize(shape), -phiScale, phiScale);
  const xs = uniform(ks[1]!, 2 * T * n * I, -1, 1);
  const dOut = uniform(ks[2]!, 2 * T * n, -1, 1);
  const s0 = uniform(ks[3]!, n * stateSize(shape), -0.5, 0.5);
  e.setPhi(phi);
  e.setState(s0);
  const outs: Float32Array[] = [];
  const states: Float32Array[] = [];
  const dxs: Float32Array[] = [];
  const dphi = new Float32Array(phiSize(shape));
  for (let cut = 0; cut < 2; cut++) {
    for (let t = 0; t < T; t++) {
      const s = cut * T + t;
      const out = new Float32Array(n);
      e.forward(xs.subarray(s * n * I, (s + 1) * n * I), out, true);
      outs.push(out);
      states.push(e.getState());
    }
    assert.equal(e.recorded, T);
    for (let t = T - 1; t >= 0; t--) {
      const s = cut * T + t;
      const dx = new Float32Array(n * I);
      e.backwardStep(dOut.subarray(s * n, (s + 1) * n), dx);
      dxs.push(dx);
    }
    assert.equal(e.recorded, 0);
    e.finishBackward(dphi);
  }
  return { phi, outs: concat(outs), states: concat(states), dxs: concat(dxs), dphi };
}
