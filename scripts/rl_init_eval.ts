/**
 * The untrained start of scripts/rl-general.sh's policy (history 10, 20 hidden units, gradient
 * descent at rate 3 on its linear path, initialised from seed 0 as l2o rl train does) beside
 * gradient descent at rate 3, on the training setting's 50 test instances (seed 0): what
 * policy gradient started from.
 *
 *   npx tsx scripts/rl_init_eval.ts
 */
import { key } from "../src/core/rng.ts";
import { evaluate } from "../src/eval/evaluate.ts";
import { candidateFor } from "../src/eval/candidates.ts";
import { rlPolicyOptimizer } from "../src/learned/rl/optimizer.ts";
import { initPolicyPhi } from "../src/learned/rl/policy.ts";
import { taskFamily } from "../src/tasks/registry.ts";
const opt = rlPolicyOptimizer({ history: 10, hidden: 20, initLr: 3, initStd: 0.002 });
const phi = initPolicyPhi(opt.shape, key(0));
const rep = evaluate(taskFamily("mnist-mlp", { hidden: [8], batchSize: 64 }), [
  { label: "policy at init", tune: false, make: (_lr, layout) => opt.optFn(phi, layout) },
  candidateFor("sgd@3"),
], { steps: 49, instances: 50, seed: 0 });
for (const r of rep.results) console.log(r.optimizer, [9, 24, 49].map((k) => `${r.meanLoss[k]!.toFixed(4)} +- ${r.ci95[k]!.toFixed(4)}`).join(" | "));
