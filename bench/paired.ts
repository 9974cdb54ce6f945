/**
 * `npx tsx bench/paired.ts --base DIR WORKLOAD [ROUNDS]`: this tree against another checkout
 * of l2o (DIR, with its node_modules and build/), timed in one process, one iteration of each
 * in turn (the order alternating every round), so that both see the same load on a shared
 * machine. Prints one JSON line: the medians and the median of the per-round ratios
 * (this tree over DIR's).
 *
 * Workloads: Q and W as in `npm run bench` (one meta-iteration, 2 threads, the default
 * kernel), `step` and `stepNoCopy` (one MNIST MLP training step with the LSTM optimizer, its
 * state copied or passed as a handle). DIR may be a checkout from before the learned-optimizer
 * contract (`src/learned/lstm_optimizer.ts`, `instantiate`, an `lstm` unroll option); both
 * layouts are read.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

type Iter = () => void;
type Mod = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const args = process.argv.slice(2);
const at = args.indexOf("--base");
if (at < 0 || args[at + 1] === undefined) {
  process.stderr.write("usage: npx tsx bench/paired.ts --base DIR Q|W|step|stepNoCopy [ROUNDS]\n");
  process.exit(2);
}
const baseDir = resolve(args[at + 1]!);
const rest = args.filter((_, i) => i !== at && i !== at + 1);
const workload = rest[0] ?? "Q";
const rounds = Number(rest[1] ?? (workload === "W" ? 30 : workload.startsWith("step") ? 300 : 100));
if (!["Q", "W", "step", "stepNoCopy"].includes(workload) || !(Number.isInteger(rounds) && rounds > 0)) {
  process.stderr.write(`unknown workload '${workload}' or rounds '${rest[1]}'\n`);
  process.exit(2);
}
const here = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** The modules a side needs, from the tree at `dir`. */
async function modules(dir: string): Promise<{ rng: Mod; quad: Mod; mnist: Mod; lstm: Mod; unroll: Mod; alias: Mod; tx: Mod; sel: Mod; old: boolean }> {
  const old = existsSync(join(dir, "src/learned/lstm_optimizer.ts"));
  const load = (p: string) => import(join(dir, "src", p)) as Promise<Mod>;
  return {
    rng: await load("core/rng.ts"),
    quad: await load("tasks/quadratic.ts"),
    mnist: await load("tasks/mnist_mlp.ts"),
    lstm: await load(old ? "learned/lstm_optimizer.ts" : "learned/lstm/optimizer.ts"),
    unroll: await load("meta/unroll.ts"),
    alias: await load("optimizers/alias.ts"),
    tx: await load("optimizers/transform.ts"),
    sel: await load("kernels/select.ts"),
    old,
  };
}

const flat = (phi: unknown): Float32Array => (phi instanceof Float32Array ? phi : (phi as { flat: Float32Array }).flat);

/** One W or Q meta-iteration per call, as bench/bench.ts times it. */
function metaIteration(m: Awaited<ReturnType<typeof modules>>): Iter {
  const { rng } = m;
  const family = workload === "W" ? m.mnist.mnistMlpFamily({}) : m.quad.quadraticFamily({ instances: 128 });
  const cfg = workload === "W" ? { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } : { preprocess: { kind: "none" }, outputScale: 0.1 };
  const opt = m.lstm.lstmOptimizer(cfg, m.sel.engineFactory("wasm", 2));
  const root = rng.key(1);
  let phi = flat(opt.init(rng.foldIn(root, "phi")));
  const outer = m.alias.adam(1e-3);
  let state = outer.init(phi);
  const [tk, ik, bk] = rng.split(rng.foldIn(root, "task"), 3);
  const task = family.sample(tk);
  const step = m.old ? opt.instantiate(phi, task.layout, 20) : opt.differentiable(phi, task.layout, 20);
  let theta = task.init(ik);
  let first: unknown;
  let it = 0;
  return () => {
    if (it % 5 === 0) {
      theta = task.init(rng.foldIn(ik, it));
      step.resetState();
      first = undefined;
    }
    const k = it++;
    const r = m.unroll.unrollMetaGrad({ task, [m.old ? "lstm" : "step"]: step, theta, T: 20, weights: "after", keys: (t: number) => rng.foldIn(bk, k * 20 + t), ...(first ? { first } : {}) });
    const [u, s] = outer.update(r.dphi, state, phi);
    state = s;
    phi = m.tx.applyUpdates(phi, u);
    step.setPhi(phi);
    theta = r.theta;
    first = r.last;
  };
}

/** One MNIST MLP training step with the LSTM optimizer per call. */
function mnistStep(m: Awaited<ReturnType<typeof modules>>): Iter {
  const { rng } = m;
  const task = m.mnist.mnistMlpFamily({}).sample(rng.key(3));
  const opt = m.lstm.lstmOptimizer({ preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 }, m.sel.engineFactory("wasm", 2));
  const tx = opt.optFn(flat(opt.init(rng.key(4))), task.layout, { copyState: workload !== "stepNoCopy" });
  let theta = task.init(rng.key(5));
  let state = tx.init(theta);
  let t = 0;
  return () => {
    const { grad } = task.lossAndGrad(theta, rng.foldIn(rng.key(6), t++));
    const [u, s] = tx.update(grad, state, theta);
    state = s;
    theta = m.tx.applyUpdates(theta, u);
  };
}

const make = workload.startsWith("step") ? mnistStep : metaIteration;
const sides: Record<"base" | "this", Iter> = { base: make(await modules(baseDir)), this: make(await modules(here)) };
const times: Record<"base" | "this", number[]> = { base: [], this: [] };
const warmup = workload.startsWith("step") ? 10 : 3;
for (let r = 0; r < rounds + warmup; r++) {
  for (const side of (r % 2 === 0 ? ["base", "this"] : ["this", "base"]) as ("base" | "this")[]) {
    const t0 = performance.now();
    sides[side]();
    if (r >= warmup) times[side].push(performance.now() - t0);
  }
}
const median = (a: readonly number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const ratios = times.this.map((x, i) => x / times.base[i]!);
process.stdout.write(
  `${JSON.stringify({ workload, rounds, base: baseDir, base_ms: median(times.base), this_ms: median(times.this), ratio_of_medians: median(times.this) / median(times.base), median_paired_ratio: median(ratios) })}\n`,
);
process.exit(0);
