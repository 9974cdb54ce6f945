/**
 * Keeps the structure of src/ honest: no import cycles, layers import downward only, and no
 * source file grows past a size one person can hold in their head. It reads the files as text
 * (node:fs and a regex for the import specifiers), so it needs no build and no TypeScript API.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * The layers: a file in `src/<folder>/` (at any depth) may import from the folders listed for
 * it, and from its own folder. `*` means any file under src/. This table is the rule; change it
 * here, deliberately, when the design changes.
 *
 * `tasks` does not list `io`: no task reads files through it. It lists `kernels` for the
 * convolution layers (`kernels/conv.ts`) that image tasks chain; the WebAssembly MLP of the
 * tasks lives in `tasks/mlp_wasm.ts` and loads `build/mlp.wasm` itself.
 */
const LAYERS: Readonly<Record<string, readonly string[] | "*">> = {
  core: [],
  io: ["core"],
  kernels: ["core"],
  data: ["core"],
  // The CNN task chains the convolution kernels of kernels/conv.ts (reusable by other image tasks).
  tasks: ["core", "data", "kernels"],
  optimizers: ["core", "kernels"],
  learned: ["core", "kernels", "optimizers", "io"],
  // meta's validation reuses eval's instances and rollout.
  meta: ["core", "io", "kernels", "data", "tasks", "optimizers", "learned", "eval"],
  eval: ["core", "tasks", "optimizers", "learned", "kernels"],
  // Distributed meta-training (Redis and BullMQ): the learner drives meta's loop pieces, workers compute trajectories' parts.
  dist: ["core", "io", "kernels", "data", "tasks", "optimizers", "learned", "eval", "meta"],
  // taskFromModel makes a TaskFamily (tasks' types and nothing else); the optimizer adapters drive learned optimizers.
  adapters: ["learned", "io", "core", "optimizers", "tasks"],
  // Few-shot learning (MAML and its learned-optimizer kin, their episodes): jax-js comes through tasks/mlp_jax.ts,
  // image loaders from data, the optimizer-file container from io, test statistics and key roots from eval.
  fewshot: ["core", "io", "data", "tasks", "eval"],
  // Black-box optimisation (Chen et al. 2017's LSTM, GP-BO, random search): its own GP and functions; optimizer files from io.
  blackbox: ["core", "io"],
  // The local dashboard serves logs and reports: it reads report types and draws with viz.
  dashboard: ["core", "eval", "viz"],
  // Li & Malik's optimizer-as-policy: it runs tasks, trains with optimizers' Adam, is a learned optimizer
  // (contract, file), saves through io, and reuses eval's instances and statistics.
  rl: ["core", "io", "tasks", "optimizers", "learned", "eval"],
  cli: "*",
  viz: "*",
};

/**
 * Files directly in src/ that may import anything: the public entry points (`browser.ts`, the
 * entry for browsers, must reach no Node module: test/browser_bundle.test.ts).
 */
const TOP_LEVEL_FILES: readonly string[] = ["src/index.ts", "src/browser.ts"];

/**
 * Most lines a file under src/ may have. `src/kernels/` is exempt: its numeric kernels and their
 * WebAssembly drivers are long by nature (assembly/ is outside src/ and not read at all).
 */
const MAX_LINES = 320;
const LINE_LIMIT_EXEMPT_DIRS: readonly string[] = ["src/kernels/"];

/**
 * A kind's internals (its engines, rows and tape) stay inside src/learned/: the rest of the
 * library drives every kind through the contract (`src/learned/contract.ts`). Each entry is a
 * file and the folder its importers must be in.
 */
const PRIVATE_TO: Readonly<Record<string, string>> = {
  "src/learned/rows.ts": "src/learned/",
  "src/learned/lstm/instance.ts": "src/learned/lstm/",
  "src/learned/lstm/transform.ts": "src/learned/lstm/",
  "src/learned/lstm/types.ts": "src/learned/lstm/",
};

// ---------------------------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SRC = join(ROOT, "src");

/** A path relative to the repository root, with forward slashes (`src/core/rng.ts`). */
const rel = (abs: string): string => relative(ROOT, abs).split(sep).join("/");

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/**
 * The text with comments blanked out (newlines kept, so offsets and line numbers stay), and
 * which offsets lie inside a string or template literal: an import written in a doc comment or
 * in a message is no import.
 */
function scan(text: string): { code: string; inString: Uint8Array } {
  const out = text.split("");
  const inString = new Uint8Array(text.length);
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      const start = i;
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
      inString.fill(1, start + 1, i);
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      for (; i < text.length && text[i] !== "\n"; i++) out[i] = " ";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) if (text[i] !== "\n") out[i] = " ";
    } else {
      i++;
    }
  }
  return { code: out.join(""), inString };
}

/** One import or re-export: its specifier and the 1-based line it is on. */
interface ImportRef {
  readonly specifier: string;
  readonly line: number;
}

const IMPORT_PATTERNS: readonly RegExp[] = [
  // import x from "m", import { a } from "m", import type { T } from "m", import * as n from "m",
  // export { a } from "m", export type { T } from "m", export * from "m", export * as n from "m"
  /\b(?:import|export)\s+[\w\s{},*$]*?\bfrom\s*(["'])([^"'\n]+)\1/g,
  // import "m" (side effect only)
  /\bimport\s*(["'])([^"'\n]+)\1/g,
  // import("m"), also `typeof import("m")` in types
  /\bimport\s*\(\s*(["'])([^"'\n]+)\1\s*\)/g,
];

/** Every import and re-export specifier in a TypeScript source text, type-only ones included. */
function importsOf(text: string): ImportRef[] {
  const { code, inString } = scan(text);
  const byOffset = new Map<number, ImportRef>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      if (inString[m.index] === 1) continue;
      const offset = m.index + m[0].lastIndexOf(m[1]! + m[2]!);
      const line = code.slice(0, offset).split("\n").length;
      byOffset.set(offset, { specifier: m[2]!, line });
    }
  }
  return [...byOffset.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

/** The src file a relative specifier names, or undefined for a package or a missing file (tsc reports those). */
function resolveImport(fromAbs: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(fromAbs), specifier);
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((p) => p.endsWith(".ts") && existsSync(p) && statSync(p).isFile());
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
  readonly line: number;
}

interface SourceTree {
  /** Repository-relative paths of every `.ts` file under src/. */
  readonly files: readonly string[];
  readonly lines: ReadonlyMap<string, number>;
  /** Imports between src files, one per import statement. */
  readonly edges: readonly Edge[];
}

function readSourceTree(): SourceTree {
  const abs = listTs(SRC);
  const lines = new Map<string, number>();
  const edges: Edge[] = [];
  for (const file of abs) {
    const text = readFileSync(file, "utf8");
    lines.set(rel(file), text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length);
    for (const { specifier, line } of importsOf(text)) {
      const target = resolveImport(file, specifier);
      if (target !== undefined && target.startsWith(SRC + sep)) edges.push({ from: rel(file), to: rel(target), specifier, line });
    }
  }
  return { files: abs.map(rel), lines, edges };
}

/** The strongly connected components (Tarjan) with a cycle in them: more than one file, or a self-import. */
function cyclicComponents(files: readonly string[], next: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

/** A shortest cycle through `start` inside `members`, as `a -> b -> a`. */
function cycleThrough(start: string, members: ReadonlySet<string>, next: ReadonlyMap<string, readonly string[]>): string {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = parent.get(u)!) path.unshift(u);
        path.unshift(start);
        return path.join(" -> ");
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return start;
}

/** The layer of a src file (its first folder under src/), or undefined for a file directly in src/. */
function layerOf(file: string): string | undefined {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1] : undefined;
}

/** Why `from` may not import `to`, or undefined when the layer table allows it. */
function layerRuleBroken(from: string, to: string): string | undefined {
  if (TOP_LEVEL_FILES.includes(from)) return undefined;
  const source = layerOf(from);
  if (source === undefined) return `${from} sits directly in src/ and is not in TOP_LEVEL_FILES`;
  const allowed = LAYERS[source];
  if (allowed === undefined) return `src/${source}/ is not a layer in the LAYERS table`;
  if (allowed === "*") return undefined;
  const target = layerOf(to);
  if (target === source) return undefined;
  const may = allowed.length === 0 ? "nothing of ours" : allowed.join(", ");
  if (target === undefined) return `layer '${source}' may import ${may}, not the top-level ${to}`;
  if (!allowed.includes(target)) return `layer '${source}' may import ${may}, not '${target}'`;
  return undefined;
}

function successors(tree: SourceTree): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const e of tree.edges) {
    const list = next.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    next.set(e.from, list);
  }
  return next;
}

describe("import parsing", () => {
  test("finds every kind of import and re-export, and none in comments or strings", () => {
    const text = [
      'import a from "./a.ts";',
      "import type { B } from './b.ts';",
      "import {",
      "  c,",
      "  type C,",
      '} from "./c.ts";',
      'import * as d from "./d.ts";',
      'export { e } from "./e.ts";',
      'export type { F } from "./f.ts";',
      'export * from "./g.ts";',
      'export * as h from "./h.ts";',
      'import "./i.ts";',
      'const j = await import("./j.ts");',
      'type K = typeof import("./k.ts");',
      'import { readFileSync } from "node:fs";',
      '// import x from "./commented.ts";',
      '/** import y from "./doc.ts"; */',
      'const s = "import z from \'./string.ts\'";',
      "export const value = 1;",
    ].join("\n");
    const found = importsOf(text);
    assert.deepEqual(
      found.map((r) => r.specifier),
      ["./a.ts", "./b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts", "./h.ts", "./i.ts", "./j.ts", "./k.ts", "node:fs"],
    );
    assert.equal(found.find((r) => r.specifier === "./c.ts")?.line, 6);
  });

  test("reads src/ and finds imports there", () => {
    const tree = readSourceTree();
    assert.ok(tree.files.length > 20, `only ${tree.files.length} files found under src/`);
    assert.ok(tree.edges.length > 50, `only ${tree.edges.length} imports between src files found`);
  });
});

describe("source tree structure", () => {
  const tree = readSourceTree();
  const next = successors(tree);

  test("has no import cycles among src files, type-only imports included", () => {
    const failures: string[] = [];
    for (const scc of cyclicComponents(tree.files, next)) {
      const cycle = cycleThrough(scc[0]!, new Set(scc), next);
      const all = cycle.split(" -> ").length - 1 < scc.length ? ` (the cycles there span ${scc.join(", ")})` : "";
      failures.push(`import cycle: ${cycle}${all}`);
    }
    if (failures.length > 0) assert.fail(`${failures.length} found:\n${failures.join("\n")}`);
  });

  test("layers import downward only", () => {
    const failures: string[] = [];
    for (const e of tree.edges) {
      const broken = layerRuleBroken(e.from, e.to);
      if (broken !== undefined) failures.push(`${e.from}:${e.line} imports "${e.specifier}": ${broken}`);
    }
    if (failures.length > 0) assert.fail(`${failures.length} found:\n${failures.join("\n")}`);
  });

  test("a learned-optimizer kind's internals are imported only inside its folder", () => {
    const failures: string[] = [];
    for (const e of tree.edges) {
      const home = PRIVATE_TO[e.to];
      if (home !== undefined && !e.from.startsWith(home)) failures.push(`${e.from}:${e.line} imports "${e.specifier}", which is private to ${home}`);
    }
    if (failures.length > 0) assert.fail(`${failures.length} found:\n${failures.join("\n")}`);
  });

  test(`source files have at most ${MAX_LINES} lines`, () => {
    const failures: string[] = [];
    for (const [file, n] of tree.lines) {
      if (n <= MAX_LINES || LINE_LIMIT_EXEMPT_DIRS.some((d) => file.startsWith(d))) continue;
      failures.push(`${file} has ${n} lines (limit ${MAX_LINES}): split it`);
    }
    if (failures.length > 0) assert.fail(`${failures.length} found:\n${failures.join("\n")}`);
  });
});
