/**
 * The policy network lives with the other learned-optimizer kinds (`src/learned/rl/policy.ts`),
 * since loading a trained policy needs it below this folder's layer; this module keeps the
 * trainers' import path (`gps.ts` imports it from here).
 */
export * from "../learned/rl/policy.ts";
