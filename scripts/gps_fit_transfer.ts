/**
 * Whether what the policy learns from some conditions' controllers predicts another's: at
 * every S-step of a GPS training, for each training condition j, the policy is refitted (from
 * the policy before that S-step, the same Adam steps) to the other conditions' rows only, and
 * its weighted squared error on condition j's rows (held out) is set beside
 * - the error on j's rows of the policy before the S-step (no fit at all), and
 * - the error on j's rows of the fit that saw them (in sample).
 * Held-out error below "no fit" means the controllers' behaviour transfers between conditions;
 * above it, the fit to the others makes the policy worse on an unseen condition.
 * Errors are relative: divided by the weighted variance of j's targets. Also printed: the share
 * of the S-step's total weight (the controllers' precisions) that falls on its heaviest condition.
 *
 *   npx tsx scripts/gps_fit_transfer.ts --task logistic-regression --iterations 8 [--variant earlier] [--out FILE.json]
 *
 * Flags otherwise as scripts/rl-results.sh (6 conditions, 4 samples, horizon 100, seed 0).
 */
import { writeFileSync } from "node:fs";
import { key } from "../src/core/rng.ts";
import { resolveTaskFamily } from "../src/cli/resolve.ts";
import { fitPolicy, GPS_DEFAULTS, trainGps, type FitRow } from "../src/rl/gps.ts";
import { initPolicyPhi, policyMean, policyShape, policyStd } from "../src/rl/policy.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const family = resolveTaskFamily(args.get("task") ?? "logistic-regression", JSON.parse(args.get("task-config") ?? "{}") as Record<string, unknown>);
const iterations = Number(args.get("iterations") ?? 8);
const conditions = 6;
const earlier = args.get("variant") === "earlier";
const shape = policyShape({ history: 10, hidden: 20, initLr: 0.3, initStd: 0.05 });
const lr = 0.01;

/** Weighted mean squared error of phi's means on the rows, over the weighted variance of their targets. */
function relError(phi: ArrayLike<number>, rows: readonly FitRow[]): number {
  let w = 0;
  let mean = 0;
  for (const r of rows) {
    w += r.weight;
    mean += r.weight * r.target;
  }
  mean /= w;
  let err = 0;
  let vari = 0;
  for (const r of rows) {
    err += r.weight * (policyMean(shape, phi, r.feats, r.i * shape.F) - r.target) ** 2;
    vari += r.weight * (r.target - mean) ** 2;
  }
  return err / vari;
}

const out: Record<string, number>[] = [];
trainGps(shape, initPolicyPhi(shape, key(0)), {
  family, steps: 100, iterations, conditions, samples: 4, lr, seed: 0,
  ...(earlier ? { dynamicsPrior: "pooled", klEstimate: "samples", stepRule: "fixed" } as const : {}),
  onFit: (it, rows, before, after) => {
    const variance = policyStd(shape, after) ** 2;
    let noFit = 0;
    let held = 0;
    let inSample = 0;
    for (let j = 0; j < conditions; j++) {
      const mine = rows.filter((r) => r.cond === j);
      const others = rows.filter((r) => r.cond !== j);
      const phiJ = fitPolicy(shape, before, others, GPS_DEFAULTS.fitSteps, lr, variance);
      noFit += relError(before, mine) / conditions;
      held += relError(phiJ, mine) / conditions;
      inSample += relError(after, mine) / conditions;
    }
    // How unevenly the precision weights fall on the conditions: the heaviest one's share.
    const sums = new Float64Array(conditions);
    for (const r of rows) sums[r.cond] = sums[r.cond]! + r.weight;
    const heaviestShare = Math.max(...sums) / sums.reduce((a, b) => a + b, 0);
    const row = { iteration: it + 1, noFit, heldOut: held, inSample, heaviestShare };
    out.push(row);
    process.stdout.write(Object.entries(row).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`).join("  ") + "\n");
  },
});
const file = args.get("out");
if (file !== undefined) writeFileSync(file, JSON.stringify({ task: family.name, iterations, conditions, variant: earlier ? "earlier" : "levine", rows: out }, null, 2) + "\n");
