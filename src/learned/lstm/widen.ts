/**
 * Widening a trained LSTM optimizer's inputs: fine-tuning gives a trained LogAndSign
 * optimizer the moving averages of `logSignMomentum`, whose first two features are
 * LogAndSign's, starting from exactly the optimizer it was.
 */
import { ConfigError } from "../../core/errors.ts";
import { phiSize, type LstmShape } from "../../kernels/types.ts";
import type { ResolvedLstmOptimizerConfig } from "./config.ts";
import { preprocessor, type PreprocessConfig } from "./preprocess.ts";

/**
 * `phi` of an LSTM optimizer with `shape` rewritten for the same LSTM fed `inputs` >=
 * `shape.inputs` features: the first layer's rows for the new features (after the old ones)
 * are zero, so the wider optimizer computes exactly what the old one did until training
 * moves those weights. `lstms` separately weighted LSTMs are widened alike.
 */
export function widenInputs(phi: Float32Array, shape: LstmShape, inputs: number, lstms = 1): Float32Array {
  if (!Number.isInteger(inputs) || inputs < shape.inputs) throw new Error(`widenInputs: cannot go from ${shape.inputs} inputs to ${inputs}`);
  const one = phiSize(shape);
  if (phi.length !== lstms * one) throw new Error(`widenInputs: phi has ${phi.length} floats, expected ${lstms * one}`);
  const wide: LstmShape = { ...shape, inputs };
  const wideOne = phiSize(wide);
  const G = 4 * shape.hidden;
  const out = new Float32Array(lstms * wideOne);
  for (let k = 0; k < lstms; k++) {
    const src = phi.subarray(k * one, (k + 1) * one);
    const dst = out.subarray(k * wideOne, (k + 1) * wideOne);
    // W_0: the old input rows, zero rows, then the recurrent rows; the rest is unchanged.
    dst.set(src.subarray(0, shape.inputs * G));
    dst.set(src.subarray(shape.inputs * G), inputs * G);
  }
  return out;
}

/**
 * A trained LogAndSign optimizer given the moving averages of `logSignMomentum` with the same
 * p: the config with the new preprocessing and phi widened so that the new inputs' weights
 * are zero (training then starts from exactly the trained optimizer). Any other change of
 * preprocessing is a ConfigError.
 */
export function extendPreprocessing(
  config: ResolvedLstmOptimizerConfig,
  phi: Float32Array,
  pre: PreprocessConfig,
): { config: ResolvedLstmOptimizerConfig; phi: Float32Array } {
  const from = config.preprocess;
  if (pre.kind !== "logSignMomentum" || from.kind !== "logSign" || from.p !== pre.p) {
    throw new ConfigError(
      `a trained LSTM optimizer keeps its preprocessing (${JSON.stringify(from)}); it may only be extended from logsign:P to momentum:P:... with the same P, got ${JSON.stringify(pre)}`,
    );
  }
  const shape: LstmShape = { inputs: preprocessor(from).inputs, hidden: config.hidden, layers: config.layers };
  const lstms = config.groups?.length ?? 1;
  return { config: { ...config, preprocess: pre }, phi: widenInputs(phi, shape, preprocessor(pre).inputs, lstms) };
}
