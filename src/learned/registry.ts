/**
 * The registry of learned-optimizer kinds: one literal list. A file records its kind, and
 * loading it builds that kind from the file's config. Adding a kind is one folder and one
 * line here.
 */
import { ConfigError } from "../core/errors.ts";
import { handFromConfig, resolveHandConfig } from "./hand.ts";
import type { LearnedKind } from "./kind.ts";
import { HRNN_KIND } from "./hrnn/kind.ts";
import { LSTM_KIND } from "./lstm/kind.ts";
import { MLP_KIND } from "./mlp/kind.ts";
import { RL_POLICY_KIND } from "./rl/kind.ts";

const HAND_KIND: LearnedKind = {
  kind: "hand",
  description: "a hand-designed optimizer at a fixed learning rate (empty phi): {optimizer, lr, options}",
  hasKernel: false,
  limits: {},
  build: (config) => handFromConfig(config),
  describe(config) {
    const c = resolveHandConfig(config);
    const options = c.options === undefined ? "" : ` ${JSON.stringify(c.options)}`;
    return { architecture: `${c.optimizer} at learning rate ${c.lr}${options} (no learned weights)`, inputs: "the gradient" };
  },
};

/** Every kind, in a fixed order. */
export const LEARNED_KINDS: readonly LearnedKind[] = [LSTM_KIND, MLP_KIND, HRNN_KIND, RL_POLICY_KIND, HAND_KIND];

/** Names of the registered kinds. */
export const LEARNED_KIND_NAMES: readonly string[] = LEARNED_KINDS.map((k) => k.kind);

/** Short names a `KIND:FILE` prefix may use for a kind: `rl:FILE` for `rl-policy:FILE`. */
export const LEARNED_KIND_ALIASES: Readonly<Record<string, string>> = Object.freeze({ rl: "rl-policy" });

/** The kind a `KIND:` prefix names (a kind's name or an alias), or undefined. */
export function kindOfPrefix(prefix: string): string | undefined {
  if (LEARNED_KIND_NAMES.includes(prefix)) return prefix;
  return Object.hasOwn(LEARNED_KIND_ALIASES, prefix) ? LEARNED_KIND_ALIASES[prefix] : undefined;
}

/** The kind called `name`; throws a ConfigError listing the known kinds. */
export function learnedKind(name: string): LearnedKind {
  const k = LEARNED_KINDS.find((x) => x.kind === name);
  if (k === undefined) throw new ConfigError(`unknown learned-optimizer kind '${name}'; known kinds: ${LEARNED_KIND_NAMES.join(", ")}`);
  return k;
}
