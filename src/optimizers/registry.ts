/**
 * The explicit registry of named hand-designed optimizers that the CLI and configs resolve by
 * name. One literal list; options are plain JSON numbers, checked by name.
 */
import { ConfigError, shownNumber, shownValue } from "../core/errors.ts";
import {
  ADAGRAD_DEFAULTS,
  ADAM_DEFAULTS,
  ADDSIGN_DEFAULTS,
  MOMENTUM_DEFAULTS,
  POWERSIGN_DEFAULTS,
  RMSPROP_DEFAULTS,
  adagrad,
  adam,
  addsign,
  momentum,
  nesterov,
  powersign,
  rmsprop,
  sgd,
} from "./alias.ts";
import type { GradientTransformation } from "./transform.ts";

/** Hyperparameters by name (the learning rate aside), as they appear in a JSON config. */
export type OptimizerOptions = Readonly<Record<string, number>>;

export interface OptimizerSpec {
  /** Canonical name, e.g. `adam`. */
  readonly name: string;
  /** Other names that resolve to this optimizer, e.g. `nag` for `nesterov`. */
  readonly aliases: readonly string[];
  /** One line for help text. */
  readonly description: string;
  /** A reasonable starting learning rate (tune it). */
  readonly defaultLr: number;
  /** Default value of every other hyperparameter; also the set of accepted option names. */
  readonly hyper: OptimizerOptions;
  /** The optimizer with learning rate `lr` and `opts` over the defaults. */
  make(lr: number, opts?: OptimizerOptions): GradientTransformation;
}

/** Checks that `opts` names only hyperparameters of `name`, each a number, and returns them. */
function options<K extends string>(
  name: string,
  hyper: Readonly<Record<K, number>>,
  opts: OptimizerOptions = {},
): Partial<Record<K, number>> {
  // `null` or an array in a JSON config would read as no options or as options '0', '1', ...
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) {
    throw new ConfigError(`${name}: options must be an object of numbers by name, got ${shownValue(opts)}`);
  }
  const known = Object.keys(hyper) as K[];
  const out: Partial<Record<K, number>> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (!(known as string[]).includes(k)) {
      const list = known.length > 0 ? known.join(", ") : "none";
      throw new ConfigError(`${name}: unknown option '${k}' (known options: ${list})`);
    }
    if (typeof v !== "number") throw new ConfigError(`${name}: option '${k}' must be a number, got ${shownNumber(v)}`);
    out[k as K] = v;
  }
  return out;
}

/** Every hand-designed optimizer the registry knows, in a fixed order. */
export const OPTIMIZERS: readonly OptimizerSpec[] = [
  {
    name: "sgd",
    aliases: [],
    description: "Stochastic gradient descent, -lr * g",
    defaultLr: 0.01,
    hyper: {},
    make(lr, opts) {
      options("sgd", {}, opts);
      return sgd(lr);
    },
  },
  {
    name: "momentum",
    aliases: [],
    description: "SGD with heavy-ball momentum (PyTorch form)",
    defaultLr: 0.01,
    hyper: MOMENTUM_DEFAULTS,
    make: (lr, opts) => momentum(lr, options("momentum", MOMENTUM_DEFAULTS, opts)),
  },
  {
    name: "nesterov",
    aliases: ["nag"],
    description: "Nesterov accelerated gradient (PyTorch/optax form)",
    defaultLr: 0.01,
    hyper: MOMENTUM_DEFAULTS,
    make: (lr, opts) => nesterov(lr, options("nesterov", MOMENTUM_DEFAULTS, opts)),
  },
  {
    name: "rmsprop",
    aliases: [],
    description: "RMSprop, eps outside the square root",
    defaultLr: 0.001,
    hyper: RMSPROP_DEFAULTS,
    make: (lr, opts) => rmsprop(lr, options("rmsprop", RMSPROP_DEFAULTS, opts)),
  },
  {
    name: "adam",
    aliases: [],
    description: "Adam with bias correction",
    defaultLr: 0.001,
    hyper: ADAM_DEFAULTS,
    make: (lr, opts) => adam(lr, options("adam", ADAM_DEFAULTS, opts)),
  },
  {
    name: "adagrad",
    aliases: [],
    description: "Adagrad, eps outside the square root",
    defaultLr: 0.01,
    hyper: ADAGRAD_DEFAULTS,
    make: (lr, opts) => adagrad(lr, options("adagrad", ADAGRAD_DEFAULTS, opts)),
  },
  {
    name: "powersign",
    aliases: [],
    description: "PowerSign from Neural Optimizer Search, -lr * alpha^(sign(g)sign(m)) * g",
    defaultLr: 0.01,
    hyper: POWERSIGN_DEFAULTS,
    make: (lr, opts) => powersign(lr, options("powersign", POWERSIGN_DEFAULTS, opts)),
  },
  {
    name: "addsign",
    aliases: [],
    description: "AddSign from Neural Optimizer Search, -lr * (alpha + sign(g)sign(m)) * g",
    defaultLr: 0.01,
    hyper: ADDSIGN_DEFAULTS,
    make: (lr, opts) => addsign(lr, options("addsign", ADDSIGN_DEFAULTS, opts)),
  },
];

/** Canonical names of the registered optimizers, in registry order. */
export const OPTIMIZER_NAMES: readonly string[] = OPTIMIZERS.map((o) => o.name);

/** The registry entry for `name` (canonical or alias); throws listing the known names. */
export function optimizerSpec(name: string): OptimizerSpec {
  const spec = OPTIMIZERS.find((o) => o.name === name || o.aliases.includes(name));
  if (spec === undefined) {
    const known = OPTIMIZERS.map((o) =>
      o.aliases.length > 0 ? `${o.name} (${o.aliases.join(", ")})` : o.name,
    ).join(", ");
    throw new ConfigError(`unknown optimizer '${name}'; known optimizers: ${known}`);
  }
  return spec;
}

/** The optimizer registered as `name` with learning rate `lr` and options over its defaults. */
export function optimizerByName(name: string, lr: number, opts?: OptimizerOptions): GradientTransformation {
  return optimizerSpec(name).make(lr, opts);
}
