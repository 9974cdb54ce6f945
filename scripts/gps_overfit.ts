/**
 * Where guided policy search's policy stops transferring: trains by GPS and, after every
 * iteration, runs the noise-free policy on its training conditions and on fresh problems of
 * the same family (drawn from keys training never uses), with the controllers' sampled cost
 * beside them. Per iteration it prints the mean relative cost per step on each, and the
 * policy's late steps against its early ones (mean |a_t| over the last quarter of the horizon
 * over that of the first quarter: whether the steps shrink as the run nears a minimum) and its
 * effective rate late in the run (the median of -a / g there).
 *
 *   npx tsx scripts/gps_overfit.ts --task logistic-regression --iterations 20 --conditions 6 --samples 4 \
 *     --fresh 24 [--variant earlier] [--balance 1] [--out docs/results/gps-overfit-....json]
 *
 * The policy and training flags are those of scripts/rl-results.sh (history 10, 20 hidden
 * units, starting as gradient descent at rate 0.3, Adam 0.01 in the fit, horizon 100, seed 0).
 */
import { writeFileSync } from "node:fs";
import { foldIn, key } from "../src/core/rng.ts";
import { resolveTaskFamily } from "../src/cli/resolve.ts";
import { trainGps } from "../src/rl/gps.ts";
import { DIVERGED_COST, relativeCosts, trainingDraw } from "../src/rl/pg.ts";
import { initPolicyPhi, policyShape } from "../src/rl/policy.ts";
import { policyActor, rollout } from "../src/rl/rollout.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const num = (name: string, d: number): number => (args.has(name) ? Number(args.get(name)) : d);
const family = resolveTaskFamily(args.get("task") ?? "logistic-regression", JSON.parse(args.get("task-config") ?? "{}") as Record<string, unknown>);
const iterations = num("iterations", 20);
const conditions = num("conditions", 6);
const samples = num("samples", 4);
const freshCount = num("fresh", 24);
const seed = num("seed", 0);
const steps = 100;
const earlier = args.get("variant") === "earlier";
// --balance 1: every condition's weights in the S-step rescaled to the same total.
const balance = args.get("balance") === "1";
const shape = policyShape({ history: 10, hidden: 20, initLr: 0.3, initStd: 0.05 });
const phi0 = initPolicyPhi(shape, key(seed));

// The training conditions are trainGps's own (its root); the fresh ones come from another root.
const trainRoot = foldIn(key(seed), "rl/gps");
const freshRoot = foldIn(key(seed), "rl/gps-overfit-fresh");
const train = Array.from({ length: conditions }, (_, j) => trainingDraw(family, trainRoot, 0, j));
const fresh = Array.from({ length: freshCount }, (_, j) => trainingDraw(family, freshRoot, 0, j));

interface Measured {
  cost: number;
  lateOverEarly: number;
  lateRate: number;
}

/**
 * Mean relative cost per step of the noise-free policy, its late-to-early step ratio, and its
 * effective rate late in the run: the median of -a_t[i] / g_t[i] over the last quarter.
 */
function measure(phi: ArrayLike<number>, conds: typeof train): Measured {
  let cost = 0;
  let early = 0;
  let late = 0;
  const rates: number[] = [];
  for (const c of conds) {
    const r = rollout(c.task, c.theta0, steps, shape.cfg.history, c.batchKey, policyActor(shape, phi, null), DIVERGED_COST);
    cost += relativeCosts(r).reduce((a, b) => a + b, 0) / steps / conds.length;
    const q = Math.floor(steps / 4);
    r.actions.forEach((a, t) => {
      const m = a.reduce((s, v) => s + Math.abs(v), 0) / a.length;
      if (t < q) early += m;
      else if (t >= steps - q) {
        late += m;
        a.forEach((v, i) => {
          const g = r.grads[t]![i]!;
          if (Math.abs(g) > 1e-12) rates.push(-v / g);
        });
      }
    });
  }
  rates.sort((x, y) => x - y);
  return { cost, lateOverEarly: late / Math.max(early, 1e-300), lateRate: rates.length > 0 ? rates[Math.floor(rates.length / 2)]! : NaN };
}

const rows: Record<string, number>[] = [];
const show = (it: number, trainM: Measured, freshM: Measured, extra: Record<string, number>): void => {
  const row = {
    iteration: it, trainCost: trainM.cost, freshCost: freshM.cost, trainLateOverEarly: trainM.lateOverEarly, freshLateOverEarly: freshM.lateOverEarly,
    trainLateRate: trainM.lateRate, freshLateRate: freshM.lateRate, ...extra,
  };
  rows.push(row);
  process.stdout.write(Object.entries(row).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`).join("  ") + "\n");
};
show(0, measure(phi0, train), measure(phi0, fresh), {});
const started = performance.now();
trainGps(shape, phi0, {
  family, steps, iterations, conditions, samples, lr: 0.01, seed,
  ...(earlier ? { dynamicsPrior: "pooled", klEstimate: "samples", stepRule: "fixed" } as const : {}),
  balanceConditions: balance,
  onIteration: (it, _cost, phi, info) => show(it + 1, measure(phi, train), measure(phi, fresh), { controllerCost: info.controllerCost, policyKl: info.policyKl, nu: info.nu, stepMult: info.stepMult, seconds: (performance.now() - started) / 1000 }),
});
const out = args.get("out");
if (out !== undefined) writeFileSync(out, JSON.stringify({ task: family.name, iterations, conditions, samples, fresh: freshCount, seed, variant: earlier ? "earlier" : "levine", balance, rows }, null, 2) + "\n");
