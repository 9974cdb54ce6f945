/** The `rl-policy` entry of the learned-optimizer registry: Li & Malik's policy, trained by `l2o rl train`. */
import type { KindDescription, LearnedKind } from "../kind.ts";
import { rlPolicyOptimizer } from "./optimizer.ts";
import { POLICY_LIMITS, resolvePolicyConfig } from "./policy.ts";

const num = (v: unknown): string | undefined => (typeof v === "number" && Number.isFinite(v) ? String(Number(v.toPrecision(4))) : undefined);

/** What `l2o rl train` records, in words (absent fields are left out). */
function trainingLines(t: Readonly<Record<string, unknown>>): [string, string][] {
  const lines: [string, string][] = [];
  const parts: string[] = [];
  if (t.trainer === "pg") parts.push("policy gradient (REINFORCE with a baseline)");
  else if (t.trainer === "gps") parts.push(t.controllerState === "features" ? `guided policy search, controllers on the feature state (groups: ${String(t.groups)})` : "guided policy search");
  else if (typeof t.trainer === "string") parts.push(t.trainer);
  if (num(t.iterations) !== undefined) {
    const runs = t.trainer === "gps" ? `${num(t.batch) ?? "?"} conditions x ${num(t.samples) ?? "?"} samples` : `${num(t.batch) ?? "?"} fresh runs`;
    parts.push(`${num(t.iterations)} iterations of ${runs}`);
  }
  if (num(t.steps) !== undefined) parts.push(`horizon ${num(t.steps)} steps`);
  if (num(t.lr) !== undefined) parts.push(`Adam ${num(t.lr)}${t.trainer === "gps" ? " (supervised fit)" : ""}`);
  if (num(t.seconds) !== undefined) parts.push(`${num(t.seconds)} s`);
  if (parts.length > 0) lines.push(["trainer", parts.join(", ")]);
  if (num(t.firstCost) !== undefined && num(t.finalCost) !== undefined) {
    lines.push(["training cost", `mean relative objective per step ${num(t.firstCost)} in the first iteration, ${num(t.finalCost)} over the last ones`]);
  }
  return lines;
}

export const RL_POLICY_KIND: LearnedKind = {
  kind: "rl-policy",
  description: "Li & Malik's optimizer as a policy (2016, 2017): a small network per coordinate reads its recent history and gives the step (the mean of its Gaussian); trained by l2o rl train",
  hasKernel: false,
  limits: POLICY_LIMITS,
  build: (config: unknown) => rlPolicyOptimizer(config),
  describe(config: unknown): KindDescription {
    const c = resolvePolicyConfig(config);
    return {
      architecture: `history ${c.history}, ${3 * c.history} features per coordinate; one hidden layer of ${c.hidden} tanh units plus a linear path; the step is the policy's mean (no exploration noise)`,
      inputs: `per coordinate its last ${c.history} gradients and steps, and the last ${c.history} changes of the objective (the loss that each update's step context carries)`,
    };
  },
  trainingLines,
};
