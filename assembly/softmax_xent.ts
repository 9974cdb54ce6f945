// Softmax cross-entropy over a batch of logit rows, shared by the MLP task's kernels
// (assembly/mlp.ts) and the convolution layers (assembly/conv.ts). Sums in float64, no fused
// multiply-add: the same bits on every CPU.

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/**
 * The summed softmax cross-entropy of logits z [B][C] with integer labels (i32), and its
 * gradient with respect to the mean loss, dz [B][C] = (softmax - onehot) / B. Returns the sum
 * over the B rows (float64); divide by B for the mean.
 */
export function softmaxXentSum(z: usize, labels: usize, B: i32, C: i32, dz: usize): f64 {
  const invB: f64 = 1.0 / <f64>B;
  let loss: f64 = 0;
  for (let b = 0; b < B; b++) {
    const zr = at(z, b * C);
    const dr = at(dz, b * C);
    let m: f32 = load<f32>(zr);
    for (let c = 1; c < C; c++) m = max(m, load<f32>(at(zr, c)));
    let s: f64 = 0;
    for (let c = 0; c < C; c++) s += Math.exp(<f64>(load<f32>(at(zr, c)) - m));
    const lse: f64 = <f64>m + Math.log(s);
    const y = load<i32>(at(labels, b));
    loss += lse - <f64>load<f32>(at(zr, y));
    for (let c = 0; c < C; c++) {
      const p = Math.exp(<f64>load<f32>(at(zr, c)) - lse);
      store<f32>(at(dr, c), <f32>((p - (c == y ? 1.0 : 0.0)) * invB));
    }
  }
  return loss;
}
