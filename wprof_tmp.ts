import { foldIn, key, split, type Key } from "./src/core/rng.ts";
import { mnistMlpFamily, type MlpBackend } from "./src/tasks/mnist_mlp.ts";
import { lstmOptimizer } from "./src/learned/lstm_optimizer.ts";
import { unrollMetaGrad } from "./src/meta/unroll.ts";
import { adam } from "./src/optimizers/alias.ts";
import { engineFactory } from "./src/kernels/select.ts";
import { applyUpdates } from "./src/optimizers/transform.ts";
const backend = process.argv[2] as MlpBackend;
const threads = Number(process.argv[3] ?? 2);
const fam = mnistMlpFamily({ backend });
const opt = lstmOptimizer({ preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 }, engineFactory("wasm-fma", threads));
const root = key(1);
let phi = opt.init(foldIn(root, "phi"));
const outer = adam(1e-3);
let st = outer.init(phi);
const [tk, ik, bk] = split(foldIn(root, "task"), 3) as [Key, Key, Key];
const task = fam.sample(tk);
let taskMs = 0;
const orig = task.lossAndGrad.bind(task);
(task as { lossAndGrad: typeof task.lossAndGrad }).lossAndGrad = (th, k) => { const t0 = performance.now(); const r = orig(th, k); taskMs += performance.now() - t0; return r; };
const inst = opt.instantiate(phi, task.layout, 20);
let theta = task.init(ik);
let first: ReturnType<typeof task.lossAndGrad> | undefined;
const tot: number[] = [], tm: number[] = [];
for (let it = 0; it < 12; it++) {
  const t0 = performance.now(); taskMs = 0;
  if (it % 5 === 0) { theta = task.init(foldIn(ik, it)); inst.resetState(); first = undefined; }
  const r = unrollMetaGrad({ task, lstm: inst, theta, T: 20, weights: "after", keys: (t) => foldIn(bk, it * 20 + t), ...(first ? { first } : {}) });
  const [u, s] = outer.update(r.dphi, st, phi); st = s; phi = applyUpdates(phi, u); inst.setPhi(phi);
  theta = r.theta; first = r.last;
  if (it >= 2) { tot.push(performance.now() - t0); tm.push(taskMs); }
}
inst.dispose();
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${backend} ${threads}T: meta-iteration median ${med(tot).toFixed(1)} ms, task lossAndGrad ${med(tm).toFixed(1)} ms (${tm.map((x) => x.toFixed(1)).join(" ")})`);
