/**
 * A classifier's test-set metrics from its logits, batch by batch: the running sum of the
 * softmax cross-entropy and the count of right predictions (the MNIST MLP and the CNN).
 */

/** Sums over the rows seen so far. */
export interface LogitTally {
  lossSum: number;
  correct: number;
}

/**
 * Adds rows 0 .. n-1 of `z` (`classes` logits a row, row-major) to `tally`: each row's
 * cross-entropy max + log sum exp(z - max) - z[label], and whether its first largest logit is
 * its label, `labels[first + i]`.
 */
export function tallyLogits(tally: LogitTally, z: Float32Array, n: number, classes: number, labels: ArrayLike<number>, first: number): void {
  for (let i = 0; i < n; i++) {
    const row = z.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (row[c]! > max) [max, best] = [row[c]!, c];
    let se = 0;
    for (let c = 0; c < classes; c++) se += Math.exp(row[c]! - max);
    const label = labels[first + i]!;
    tally.lossSum += max + Math.log(se) - row[label]!;
    if (best === label) tally.correct++;
  }
}
