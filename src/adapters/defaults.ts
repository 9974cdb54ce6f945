/**
 * What the framework adapters (`l2o/jax`, `l2o/tfjs`) share: the optimizer they use when none
 * is named, and how a parameter's shape picks its layout group.
 */

/**
 * The optimizer an adapter uses when none is named: the shipped `general` LSTM, meta-trained on
 * the broad task mixture (quadratics, least squares, valleys, MNIST MLPs of many shapes), which
 * beat `mnist` on the mixture's validation tasks and on four of five validation problems (not
 * on an MNIST MLP, where `mnist` stays the better choice; docs/RESULTS.md, Held-out suite). One
 * constant for every adapter, so that they change together.
 */
export const DEFAULT_OPTIMIZER = "general";

/**
 * The layout group of a parameter of this shape, for optimizers that treat groups apart (the
 * paper's separate LSTMs for convolutions and fully connected layers): a 3-, 4- or 5-d tensor
 * is a convolution kernel (`conv`), anything else (matrices, biases, scalars) `fc`.
 */
export function groupOfShape(shape: readonly number[]): "conv" | "fc" {
  return shape.length >= 3 && shape.length <= 5 ? "conv" : "fc";
}
