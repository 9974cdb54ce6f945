/** Files the dashboard tests serve: an evaluation report and a training log's lines, as l2o writes them. */

/** An `l2o eval --json` report of two optimizers over 10 steps. */
export function sampleReport(task: string): Record<string, unknown> {
  const row = (optimizer: string, lr: number | null, rate: number) => {
    const meanLoss = Array.from({ length: 11 }, (_, t) => 10 * Math.exp(-rate * t));
    return { optimizer, lr, lrAtGridEdge: false, meanLoss, ci95: meanLoss.map((m) => m / 5), finalMean: meanLoss[10], finalCi95: 0.1, finalLosses: [1, 2, 3, 4], diverged: 0 };
  };
  return { task, steps: 10, instances: 4, seed: 0, results: [row("adam", 0.1, 0.2), row("lstm:pretrained/quadratic", null, 0.4)] };
}

/**
 * `count` meta-iterations of a training log from meta-iteration `from + 1` (a `meta/loss`
 * and a `meta/grad_norm` line each, a `valid/score` after every fourth), each line ending
 * in a newline.
 */
export function trainingLines(from: number, count: number): string[] {
  const out: string[] = [];
  for (let i = from + 1; i <= from + count; i++) {
    const time = 1_800_000_000 + i;
    out.push(JSON.stringify({ step: i, name: "meta/loss", value: 10 / i, time }) + "\n");
    out.push(JSON.stringify({ step: i, name: "meta/grad_norm", value: 1 + i / 100, time }) + "\n");
    if (i % 4 === 0) out.push(JSON.stringify({ step: i / 4, name: "valid/score", value: 5 / i, time }) + "\n");
  }
  return out;
}
