/**
 * The untrained start of a policy, as `l2o rl train` initialises it (same flags, same seed),
 * written as a policy file, so that `l2o rl eval` measures what a training started from on the
 * same instances as the trained policies:
 *
 *   npx tsx scripts/rl_init_file.ts OUT.safetensors HISTORY HIDDEN INIT_LR INIT_STD SEED
 *   npx tsx scripts/rl_init_file.ts runs/rl/clustered-mlp-306-init.safetensors 10 20 0.3 0.05 0
 */
import { key } from "../src/core/rng.ts";
import { initPolicyPhi, policyShape } from "../src/learned/rl/policy.ts";
import { saveRlPolicy } from "../src/rl/optimizer.ts";

const [out, history, hidden, initLr, initStd, seed] = process.argv.slice(2);
if (out === undefined || seed === undefined) throw new Error("usage: rl_init_file.ts OUT.safetensors HISTORY HIDDEN INIT_LR INIT_STD SEED");
const shape = policyShape({ history: Number(history), hidden: Number(hidden), initLr: Number(initLr), initStd: Number(initStd) });
saveRlPolicy(out, shape.cfg, initPolicyPhi(shape, key(Number(seed))), { trainer: "none (the untrained start)", seed: Number(seed) });
process.stdout.write(`wrote ${out}\n`);
