// A shipped learned optimizer against tuned Adam on 10-d quadratics it never saw.
// Run: npx tsx examples/quickstart.ts
import { candidateFor, evaluate, taskFamily } from "l2o";

const report = evaluate(
  taskFamily("quadratic"), // f(x) = ||Wx - y||^2 with a fresh random W and y per instance
  [candidateFor("quadratic"), candidateFor("adam")], // Adam's learning rate is tuned on other instances
  { steps: 100, instances: 50, seed: 7 },
);
for (const r of report.results) console.log(`${r.optimizer.padEnd(10)} mean loss after 100 steps ${r.finalMean.toFixed(4)} (lr ${r.lr ?? "learned"})`);
const [learned, adam] = report.results.map((r) => r.finalLosses) as [number[], number[]];
const lower = learned.filter((loss, i) => loss < adam[i]!).length;
console.log(`the learned optimizer ends lower on ${lower} of ${learned.length} functions`);
