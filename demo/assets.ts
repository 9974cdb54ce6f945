/**
 * The files the demo page fetches, relative to the page (so that the folder works from any
 * static server, at any path), and where `build.ts` takes each from.
 */
export const ASSETS = {
  /** The LSTM kernel without shared memory, for one thread (the page needs no cross-origin isolation). */
  lstm: { url: "kernels/lstm.wasm", from: "build/web/lstm.wasm" },
  /** The hand-designed optimizers' update rules. */
  rules: { url: "kernels/rules.wasm", from: "build/rules.wasm" },
  /** The shipped learned optimizer (an LSTM meta-trained on 10-d quadratics). */
  optimizer: { url: "optimizers/quadratic.safetensors", from: "pretrained/quadratic.safetensors" },
} as const;
