/**
 * A task family from the user's own module: `l2o train|eval|run --task ./my-task.ts`.
 *
 * A `--task` that starts with `./`, `../` or `/`, or ends in `.ts`, `.mts`, `.js` or `.mjs`,
 * is a module path (anything else is a registered name). The module exports, as its default
 * export (else a named `family`, else a named `task`), either
 * - a factory `(config) => TaskFamily`, called with the `--task-config` JSON object (for
 *   `train`, over the module's `training.taskConfig`), or
 * - a `TaskFamily` itself (then `--task-config` must be absent or `{}`);
 * and optionally `training`: `{taskConfig?, optimizer?: {KIND: config}}`, the meta-training
 * defaults a registered task carries (absent: `{}` and each kind's own defaults), and
 * `description`, one line. A family may give `instanceBytes` for the memory checks. A `.ts`
 * module is an ES module inside a package with `"type": "module"`; elsewhere name it `.mts`.
 *
 * The command loads the module before it runs (`loadTaskModule`, awaited by main's hook), so
 * that resolving it later stays synchronous. A module that is missing, fails to import, or
 * exports no TaskFamily is one `UsageError` line (exit 2). The tasks it samples are checked
 * as they are drawn (layout, init's and lossAndGrad's sizes), and what its code throws is
 * reported as one line naming the module.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { L2oError } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import type { Key } from "../core/rng.ts";
import type { Task, TaskFamily } from "../tasks/base.ts";
import type { TaskConfig, TrainingDefaults } from "../tasks/registry.ts";
import { UsageError } from "./errors.ts";

/** Whether `--task NAME` names a module file rather than a registered task. */
export function isTaskModulePath(name: string): boolean {
  return /^(\.{1,2}\/|\/)/.test(name) || /\.(ts|mts|js|mjs)$/.test(name);
}

/** A loaded task module: what it exports, where it is, and the SHA-256 of its bytes. */
export interface TaskModule {
  /** The absolute path of the module file: what the run record names. */
  readonly path: string;
  /** SHA-256 (hex) of the module file's own bytes (not of the files it imports). */
  readonly sha256: string;
  readonly description: string;
  readonly training: TrainingDefaults;
  /** The family for `config` (the `--task-config` object). */
  family(config: TaskConfig): TaskFamily;
}

const loaded = new Map<string, TaskModule>();

/** A first stack frame, for a message about the user's code: ` (at file:line:col)`. */
function where(e: unknown): string {
  const frame = e instanceof Error ? (e.stack ?? "").split("\n").find((l) => /^\s+at /.test(l)) : undefined;
  if (frame === undefined) return "";
  const at = frame.trim();
  const m = /\(([^()]*)\)$/.exec(at) ?? /^at (.*)$/.exec(at);
  return m === null ? "" : ` (at ${m[1]})`;
}
const described = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why `v` is not a TaskFamily, or undefined when it is one. */
function notAFamily(v: unknown): string | undefined {
  if (!isObject(v)) return `it is ${v === null ? "null" : Array.isArray(v) ? "a list" : `a ${typeof v}`}`;
  if (typeof v.name !== "string" || v.name === "") return "it has no 'name' string";
  if (typeof v.sample !== "function") return "it has no 'sample(key)' function";
  const bytes = v.instanceBytes;
  if (bytes !== undefined && !(typeof bytes === "number" && Number.isFinite(bytes) && bytes >= 0)) return `its 'instanceBytes' is ${JSON.stringify(bytes)}, not a number of bytes`;
  return undefined;
}

function readTraining(v: unknown, label: string): TrainingDefaults {
  if (v === undefined) return { taskConfig: {}, optimizer: {} };
  const bad = (what: string): never => {
    throw new UsageError(`task module ${label}: its 'training' export ${what}`);
  };
  if (!isObject(v)) bad("must be an object {taskConfig?, optimizer?}");
  const t = v as Record<string, unknown>;
  const extra = Object.keys(t).filter((k) => k !== "taskConfig" && k !== "optimizer");
  if (extra.length > 0) bad(`has unknown field(s) ${extra.join(", ")} (known: taskConfig, optimizer)`);
  if (t.taskConfig !== undefined && !isObject(t.taskConfig)) bad("field 'taskConfig' must be an object");
  if (t.optimizer !== undefined && (!isObject(t.optimizer) || !Object.values(t.optimizer).every(isObject))) bad("field 'optimizer' must map kinds to config objects, e.g. {lstm: {outputScale: 0.1}}");
  return { taskConfig: (t.taskConfig ?? {}) as TaskConfig, optimizer: (t.optimizer ?? {}) as Record<string, TaskConfig> };
}

/** `task` with its shape checked and its code's errors reported as one line naming the module. */
function checkedTask(task: unknown, label: string, familyName: string): Task {
  const bad = (what: string): never => {
    throw new UsageError(`task module ${label}: sample(key) returned a task that ${what}`);
  };
  if (!isObject(task)) return bad("is not an object");
  if (!(task.layout instanceof ParamLayout)) bad("has no 'layout' ParamLayout (import { ParamLayout } from \"l2o\")");
  if (typeof task.init !== "function" || typeof task.lossAndGrad !== "function") bad("lacks 'init(key)' or 'lossAndGrad(theta, key)'");
  if (!(Number.isSafeInteger(task.instances) && (task.instances as number) >= 1)) bad(`has 'instances' ${JSON.stringify(task.instances)}, not a count >= 1`);
  const t = task as unknown as Task;
  const n = t.layout.size;
  const call = <R>(what: string, f: () => R): R => {
    try {
      return f();
    } catch (e) {
      if (e instanceof L2oError) throw e;
      throw new UsageError(`task module ${label}: ${what} threw ${described(e)}${where(e)}`);
    }
  };
  const vector = (v: unknown, what: string): Float32Array => {
    if (!(v instanceof Float32Array) || v.length !== n) bad(`gives ${what} that is not a Float32Array of its layout's ${n} numbers`);
    return v as Float32Array;
  };
  return {
    name: typeof t.name === "string" ? t.name : familyName,
    layout: t.layout,
    instances: t.instances,
    init: (key: Key) => vector(call("init(key)", () => t.init(key)), "an init(key)"),
    lossAndGrad: (theta, key) => {
      const r = call("lossAndGrad(theta, key)", () => t.lossAndGrad(theta, key));
      if (!isObject(r) || typeof r.loss !== "number") bad("gives a lossAndGrad result without a numeric 'loss'");
      vector(r.grad, "a gradient");
      return r;
    },
    ...(t.hvp !== undefined ? { hvp: (theta: Float32Array, v: Float32Array, key: Key) => vector(call("hvp", () => t.hvp!(theta, v, key)), "an hvp") } : {}),
    ...(t.evaluate !== undefined ? { evaluate: (theta: Float32Array) => call("evaluate(theta)", () => t.evaluate!(theta)) } : {}),
  };
}

/** `family` (checked to be one) with every task it samples checked. */
function checkedFamily(family: unknown, label: string, from: string): TaskFamily {
  const why = notAFamily(family);
  if (why !== undefined) throw new UsageError(`task module ${label}: ${from} is not a TaskFamily {name, config, sample(key)}: ${why}`);
  const f = family as TaskFamily;
  return {
    name: f.name,
    config: f.config ?? {},
    ...(f.instanceBytes !== undefined ? { instanceBytes: f.instanceBytes } : {}),
    sample: (key) => {
      let task: unknown;
      try {
        task = f.sample(key);
      } catch (e) {
        if (e instanceof L2oError) throw e;
        throw new UsageError(`task module ${label}: sample(key) threw ${described(e)}${where(e)}`);
      }
      return checkedTask(task, label, f.name);
    },
  };
}

/**
 * Loads the module `name` names (once per path), checks what it exports, and keeps it for
 * `taskModule`. Throws a one-line `UsageError` for a missing file, a failed import or a
 * module without a TaskFamily.
 */
export async function loadTaskModule(name: string): Promise<TaskModule> {
  const path = resolve(name);
  const hit = loaded.get(path);
  if (hit !== undefined) return hit;
  if (!existsSync(path)) throw new UsageError(`task module ${name} does not exist (a --task that starts with ./, ../ or / or ends in .ts, .mts, .js or .mjs is a file)`);
  if (!statSync(path).isFile()) throw new UsageError(`task module ${name} is not a file`);
  if (!/\.(ts|mts|js|mjs)$/.test(path)) throw new UsageError(`task module ${name}: a task module is a .ts, .mts, .js or .mjs file`);
  const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    // tsx reads a .ts file outside a "type": "module" package as CommonJS, which cannot load l2o.
    const hint = /\.ts$/.test(path) && /require\(\)|ES Module/.test(String(e)) ? "; a .ts file outside a package with \"type\": \"module\" loads as CommonJS: name it .mts" : "";
    throw new UsageError(`task module ${name} failed to load: ${described(e)}${where(e)}${hint}`);
  }
  const key = ["default", "family", "task"].find((k) => mod[k] !== undefined);
  if (key === undefined) throw new UsageError(`task module ${name} exports no task family: give it a default export (a TaskFamily, or a function from the task config to one)`);
  const exported = mod[key];
  const from = key === "default" ? "its default export" : `its export '${key}'`;
  if (typeof exported !== "function") checkedFamily(exported, name, from);
  const description = typeof mod.description === "string" ? mod.description : `the task family of ${name}`;
  const m: TaskModule = {
    path,
    sha256,
    description,
    training: readTraining(mod.training, name),
    family(config) {
      if (typeof exported !== "function") {
        if (Object.keys(config).length > 0) throw new UsageError(`--task-config: task module ${name} exports a TaskFamily, not a factory, so it takes no task config`);
        return checkedFamily(exported, name, from);
      }
      let made: unknown;
      try {
        made = (exported as (c: TaskConfig) => unknown)(config);
      } catch (e) {
        throw new UsageError(`--task-config: task module ${name} refused ${JSON.stringify(config)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      return checkedFamily(made, name, `what ${from} returns`);
    },
  };
  loaded.set(path, m);
  return m;
}

/** The module `loadTaskModule(name)` loaded; throws if it was not loaded first (a bug). */
export function taskModule(name: string): TaskModule {
  const m = loaded.get(resolve(name));
  if (m === undefined) throw new Error(`task module ${name} was not loaded before use (loadTaskModule runs before every command)`);
  return m;
}
