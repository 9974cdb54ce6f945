import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { foldIn, split, type Key } from "../src/core/rng.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { lstmOptimizer, type LstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import type { TaskFamily } from "../src/tasks/base.ts";
import { applyUpdates } from "../src/optimizers/transform.ts";
import { adam } from "../src/optimizers/alias.ts";
import { unrollMetaGrad } from "../src/meta/unroll.ts";
import { metaTrain } from "../src/meta/train.ts";
import { META_LR_MAX, META_TRAIN_DEFAULTS, resolveMetaTrainConfig, type MetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState, type MetaTrainState } from "../src/meta/state.ts";
import { clipByGlobalNorm } from "../src/meta/outer.ts";
import { validationScore } from "../src/meta/validation.ts";
import type { Instance } from "../src/eval/evaluate.ts";
import { stateFromCheckpoint, stateToCheckpoint } from "../src/meta/checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "../src/io/checkpoint.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import { memoryWriter } from "../src/io/metrics.ts";
import type { OptState } from "../src/optimizers/transform.ts";
import { ConfigError } from "../src/core/errors.ts";
import { runL2oSync } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-meta-train-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Raw bits of a float32 array, so that -0 / NaN payloads count and "close" does not. */
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A small LSTM (1 input, 8 units, 2 layers) on the reference engine: quick to train. */
const smallLstm = (outputScale = 0.1): LstmOptimizer =>
  lstmOptimizer({ hidden: 8, layers: 2, preprocess: { kind: "none" }, outputScale }, createReferenceEngine);

const family = (): TaskFamily => quadraticFamily({ dim: 3, instances: 4 });

const config = (c: Partial<MetaTrainConfig> = {}): MetaTrainConfig =>
  resolveMetaTrainConfig({ unroll: 5, horizon: 10, epochs: 2, horizonsPerEpoch: 3, validationTasks: 2, metaLr: 0.01, ...c });

/**
 * The validation tasks metaTrain draws for `state` (the same derivation as `sampleTask` in
 * src/meta/train.ts: task i from foldIn(validKey, i), split in three for task, theta_0, batch).
 */
function validationTasks(fam: TaskFamily, state: MetaTrainState, count: number): Instance[] {
  return Array.from({ length: count }, (_, i) => {
    const [tk, ik, bk] = split(foldIn(state.validKey, i), 3) as [Key, Key, Key];
    const task = fam.sample(tk);
    return { task, theta0: task.init(ik), batchKey: bk };
  });
}

/**
 * A validation score computed by hand: run the optimizer over each task's horizon and
 * average `term(loss per function)` over tasks and the steps from `from` on.
 */
function scoreByHand(opt: LstmOptimizer, phi: Float32Array, valid: Instance[], horizon: number, term: (f: number) => number, from = 1): number {
  let total = 0;
  for (const v of valid) {
    const tx = opt.optFn(phi, v.task.layout);
    let theta = v.theta0;
    let st = tx.init(theta);
    for (let t = 0; t < horizon; t++) {
      const [u, next] = tx.update(v.task.lossAndGrad(theta, foldIn(v.batchKey, t)).grad, st, theta);
      st = next;
      theta = applyUpdates(theta, u);
      if (t + 1 >= from) total += term(v.task.lossAndGrad(theta, foldIn(v.batchKey, t + 1)).loss / v.task.instances);
    }
    tx.dispose();
  }
  return total / (valid.length * (horizon - from + 1));
}

/** The float32 arrays of an outer Adam state, by path, for exact comparison. */
function adamArrays(s: OptState, path = "adam"): Record<string, number[] | number> {
  const out: Record<string, number[] | number> = {};
  for (const [k, v] of Object.entries(s)) {
    const p = `${path}.${k}`;
    if (v instanceof Float32Array) out[p] = bits(v);
    else if (typeof v === "number") out[p] = v;
    else if (Array.isArray(v)) v.forEach((x: OptState, i) => Object.assign(out, adamArrays(x, `${p}.${i}`)));
    else Object.assign(out, adamArrays(v as OptState, p));
  }
  return out;
}

describe("resolveMetaTrainConfig", () => {
  it("fills in the defaults", () => {
    assert.deepEqual(resolveMetaTrainConfig(), META_TRAIN_DEFAULTS);
    const c = resolveMetaTrainConfig({ unroll: 5, horizon: 15 });
    assert.equal(c.unroll, 5);
    assert.equal(c.horizon, 15);
    assert.equal(c.metaLr, META_TRAIN_DEFAULTS.metaLr);
  });

  const bad: Array<[string, Partial<MetaTrainConfig>, RegExp]> = [
    ["horizon not a multiple of unroll", { unroll: 20, horizon: 50 }, /horizon \(50\) must be a multiple of unroll \(20\)/],
    ["unroll 0", { unroll: 0 }, /unroll must be a positive integer/],
    ["fractional horizon", { unroll: 1, horizon: 2.5 }, /horizon must be a positive integer/],
    ["epochs 0", { epochs: 0 }, /epochs must be a positive integer/],
    ["horizonsPerEpoch negative", { horizonsPerEpoch: -1 }, /horizonsPerEpoch must be a positive integer/],
    ["validationTasks 0", { validationTasks: 0 }, /validationTasks must be a positive integer/],
    ["metaLr 0", { metaLr: 0 }, /metaLr must be in \(0, 1\], got 0$/],
    ["metaLr negative", { metaLr: -0.01 }, /metaLr must be in \(0, 1\], got -0\.01$/],
    ["metaLr NaN", { metaLr: NaN }, /metaLr must be in \(0, 1\], got NaN$/],
    ["metaLr Infinity", { metaLr: Infinity }, /metaLr must be in \(0, 1\], got Infinity$/],
    ["metaLr 1e300", { metaLr: 1e300 }, /metaLr must be in \(0, 1\], got 1e\+300$/],
    ["metaLr as a string", { metaLr: "0.1" as unknown as number }, /metaLr must be in \(0, 1\], got "0\.1"$/],
    ["clipNorm negative", { clipNorm: -1 }, /clipNorm must be >= 0/],
    ["clipNorm NaN", { clipNorm: NaN }, /clipNorm must be >= 0/],
    ["patience fractional", { patience: 1.5 }, /patience must be an integer >= 0/],
    ["patience negative", { patience: -1 }, /patience must be an integer >= 0/],
    ["maxSeconds negative", { maxSeconds: -1 }, /maxSeconds must be >= 0/],
    ["seed fractional", { seed: 0.5 }, /seed must be an integer/],
    ["an unknown metaLoss", { metaLoss: "mean" as "sum" }, /metaLoss must be one of sum, log, logRatio, got 'mean'/],
    ["metaLossFrom 0", { metaLossFrom: 0 }, /metaLossFrom must be an integer from 1 to the horizon \(100\), got 0/],
    ["metaBatch 0", { metaBatch: 0 }, /metaBatch must be a positive integer/],
    ["secondOrderScale 0", { secondOrder: true, secondOrderScale: 0 }, /secondOrderScale must be in \(0, 1\], got 0/],
    ["secondOrderScale above 1", { secondOrder: true, secondOrderScale: 1.5 }, /secondOrderScale must be in \(0, 1\], got 1.5/],
    ["secondOrderScale without secondOrder", { secondOrderScale: 0.5 }, /secondOrderScale weighs the second-order terms; it needs secondOrder/],
    ["horizonsPerEpoch not a multiple of metaBatch", { horizonsPerEpoch: 5, metaBatch: 2 }, /horizonsPerEpoch \(5\) must be a multiple of metaBatch \(2\)/],
    ["metaLossFrom past the horizon", { unroll: 5, horizon: 10, metaLossFrom: 11 }, /metaLossFrom must be an integer from 1 to the horizon \(10\), got 11/],
    ["a misspelt field, whose default would stay in force", { epoch: 3 } as Partial<MetaTrainConfig>, /meta-training: unknown field\(s\) epoch \(known: unroll, horizon, metaLr, /],
  ];
  for (const [what, c, msg] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => resolveMetaTrainConfig(c), (e: unknown) => e instanceof ConfigError && msg.test(e.message)));
  }

  it("bounds metaLr where l2o train bounds --meta-lr: the library takes the bound itself and refuses just above it, as the CLI does", () => {
    assert.equal(resolveMetaTrainConfig({ metaLr: META_LR_MAX }).metaLr, META_LR_MAX);
    const above = META_LR_MAX * (1 + 1e-6);
    assert.throws(() => resolveMetaTrainConfig({ metaLr: above }), (e: unknown) => e instanceof ConfigError && e.message.includes(`metaLr must be in (0, ${META_LR_MAX}]`));
    const help = runL2oSync(["train", "--help"], 60_000);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout.replace(/\s+/g, " "), new RegExp(`--meta-lr <x> .*\\(above 0, at most ${META_LR_MAX}\\)`));
    const dir = mkdtempSync(join(tmpdir(), "l2o-meta-lr-"));
    try {
      const cli = runL2oSync(["train", "--task", "quadratic", "--out", join(dir, "never.safetensors"), "--meta-lr", String(above)], 60_000);
      assert.equal(cli.code, 2, cli.stderr);
      assert.match(cli.stderr, new RegExp(`^l2o: error: --meta-lr must be at most ${META_LR_MAX}, got '${String(above).replace(".", "\\.")}'\n$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("clipByGlobalNorm", () => {
  it("returns the norm before clipping and scales to exactly max", () => {
    // g = [3, 4, 0]: norm 5; clipped to 1 it is g / 5 = [0.6, 0.8, 0] (each rounded to float32).
    const g = new Float32Array([3, 4, 0]);
    assert.equal(clipByGlobalNorm(g, 1), 5);
    assert.deepEqual([...g], [Math.fround(3 * 0.2), Math.fround(4 * 0.2), 0]);
    const after = Math.hypot(...g);
    assert.ok(Math.abs(after - 1) < 1e-7, `norm after clipping ${after}`);
  });

  it("leaves a gradient below max alone (and reports its norm)", () => {
    const g = new Float32Array([3, -4]);
    assert.equal(clipByGlobalNorm(g, 10), 5);
    assert.deepEqual([...g], [3, -4]);
    // Exactly at max: not scaled either.
    assert.equal(clipByGlobalNorm(g, 5), 5);
    assert.deepEqual([...g], [3, -4]);
  });

  it("max 0 turns clipping off", () => {
    const g = new Float32Array([300, -400]);
    assert.equal(clipByGlobalNorm(g, 0), 500);
    assert.deepEqual([...g], [300, -400]);
  });

  it("a zero gradient has norm 0 and stays zero", () => {
    const g = new Float32Array(4);
    assert.equal(clipByGlobalNorm(g, 1), 0);
    assert.deepEqual([...g], [0, 0, 0, 0]);
  });

  it("reports a non-finite norm for a gradient holding Infinity or NaN", () => {
    assert.equal(clipByGlobalNorm(new Float32Array([1, Infinity]), 1), Infinity);
    assert.ok(Number.isNaN(clipByGlobalNorm(new Float32Array([1, NaN]), 1)));
  });
});

describe("validationScore", () => {
  it("scores each task from the zero state: the mean of the tasks scored one at a time", () => {
    const opt = smallLstm();
    const cfg = config({ validationTasks: 3 });
    const s0 = initMetaTrainState(opt, cfg);
    const valid = validationTasks(family(), s0, 3);
    const alone = valid.map((v) => validationScore(opt, s0.phi, [v], cfg.horizon));
    assert.ok(new Set(alone).size === 3, "three different scores");
    const together = validationScore(opt, s0.phi, valid, cfg.horizon);
    assert.ok(Math.abs(together - (alone[0]! + alone[1]! + alone[2]!) / 3) <= 1e-12 * Math.abs(together), `${together} vs ${alone}`);
  });
});

describe("metaTrain", () => {
  it("lowers the validation score of the initial phi on small quadratics, for several seeds", () => {
    for (const seed of [0, 1, 2]) {
      const opt = smallLstm();
      const fam = family();
      const cfg = config({ epochs: 3, horizonsPerEpoch: 4, seed });
      const s0 = initMetaTrainState(opt, cfg);
      const phi0 = bits(s0.phi);
      const valid = validationTasks(fam, s0, cfg.validationTasks);
      const initial = validationScore(opt, s0.phi, valid, cfg.horizon);
      const scores: number[] = [];
      const { state, stopped } = metaTrain(opt, fam, cfg, s0, { onEpoch: (_s, score) => scores.push(score) });
      assert.equal(stopped, "epochs");
      assert.equal(state.epoch, 3);
      assert.equal(state.horizons, 3 * 4);
      assert.equal(state.metaIteration, 3 * 4 * 2); // 2 unrolls per horizon, none skipped
      assert.equal(state.skipped, 0);
      assert.ok(Number.isFinite(initial));
      // The epoch scores are the validation scores of the phi at the end of each epoch, on the
      // tasks reconstructed above: the reconstruction agrees with what metaTrain scored.
      assert.equal(validationScore(opt, state.phi, valid, cfg.horizon), scores[2]);
      assert.ok(state.bestScore < 0.9 * initial, `seed ${seed}: best ${state.bestScore} vs initial ${initial}`);
      // Nothing was written into the starting state.
      assert.deepEqual(bits(s0.phi), phi0);
    }
  });

  it("refuses secondOrder on tasks without Hessian-vector products with a ConfigError, before any update", () => {
    // The quadratic's tasks with their hvp taken away: what robust-regression or the CNN gives.
    const base = family();
    const noHvp: TaskFamily = {
      ...base,
      sample: (k) => {
        const { hvp: _dropped, ...task } = base.sample(k);
        return task;
      },
    };
    const opt = smallLstm();
    const cfg = config({ epochs: 1, horizonsPerEpoch: 1, secondOrder: true });
    let iterations = 0;
    assert.throws(
      () => metaTrain(opt, noHvp, cfg, initMetaTrainState(opt, cfg), { onIteration: () => iterations++ }),
      (e: unknown) => e instanceof ConfigError && /secondOrder needs .*Hessian-vector products/.test(e.message),
    );
    assert.equal(iterations, 0);
  });

  it("with the log meta-loss, lowers the mean log loss and scores validation by it", () => {
    const opt = smallLstm();
    const fam = family();
    const cfg = config({ epochs: 3, horizonsPerEpoch: 4, seed: 3, metaLoss: "log" });
    const s0 = initMetaTrainState(opt, cfg);
    const valid = validationTasks(fam, s0, cfg.validationTasks);
    const initial = validationScore(opt, s0.phi, valid, cfg.horizon, "log");
    const scores: number[] = [];
    const { state } = metaTrain(opt, fam, cfg, s0, { onEpoch: (_s, score) => scores.push(score) });
    assert.equal(state.skipped, 0);
    assert.equal(validationScore(opt, state.phi, valid, cfg.horizon, "log"), scores[2]);
    // The score is the mean over tasks and steps of log(loss per function): the same number
    // computed by hand from the losses the optimizer reaches.
    const byHand = scoreByHand(opt, state.phi, valid, cfg.horizon, Math.log);
    assert.ok(Math.abs(byHand - scores[2]!) < 1e-9 * Math.abs(byHand), `${byHand} vs ${scores[2]}`);
    assert.ok(state.bestScore < initial - 0.1, `best ${state.bestScore} vs initial ${initial}`);
  });

  it("--validation-seed: the validation tasks come from that seed, the training from --seed", () => {
    const opt = smallLstm();
    const fam = family();
    const cfg = config({ epochs: 1, horizonsPerEpoch: 2, seed: 5, validationSeed: 9 });
    const s0 = initMetaTrainState(opt, cfg);
    const of9 = initMetaTrainState(opt, config({ seed: 9 }));
    const of5 = initMetaTrainState(opt, config({ seed: 5 }));
    assert.deepEqual(s0.validKey, of9.validKey);
    assert.deepEqual(s0.trainKey, of5.trainKey);
    assert.deepEqual(bits(s0.phi), bits(of5.phi));
    assert.notDeepEqual(of5.validKey, of9.validKey);
    const scores: number[] = [];
    const { state } = metaTrain(opt, fam, cfg, s0, { onEpoch: (_s, score) => scores.push(score) });
    assert.equal(validationScore(opt, state.phi, validationTasks(fam, of9, cfg.validationTasks), cfg.horizon, "sum"), scores[0]);
    assert.notEqual(validationScore(opt, state.phi, validationTasks(fam, of5, cfg.validationTasks), cfg.horizon, "sum"), scores[0]);
    assert.throws(() => config({ validationSeed: 1.5 }), /validationSeed must be an integer/);
  });

  it("keeps the best phi, its score and its epoch", () => {
    const opt = smallLstm();
    const fam = family();
    const cfg = config({ epochs: 4, horizonsPerEpoch: 2, seed: 5, metaLr: 0.05 });
    const s0 = initMetaTrainState(opt, cfg);
    assert.equal(s0.bestEpoch, -1);
    assert.equal(s0.bestScore, Infinity);
    const seen: Array<{ score: number; phi: Float32Array; epoch: number; bestEpoch: number }> = [];
    const { state } = metaTrain(opt, fam, cfg, s0, {
      onEpoch: (s, score) => seen.push({ score, phi: new Float32Array(s.phi), epoch: s.epoch, bestEpoch: s.bestEpoch }),
    });
    assert.deepEqual(
      seen.map((e) => e.epoch),
      [1, 2, 3, 4],
    );
    let best = Infinity;
    let bestAt = -1;
    for (const e of seen) {
      if (e.score < best) {
        best = e.score;
        bestAt = e.epoch;
      }
      // The state handed to onEpoch already has the bookkeeping of that epoch.
      assert.equal(e.bestEpoch, bestAt);
    }
    assert.equal(state.bestScore, best);
    assert.equal(state.bestEpoch, bestAt);
    assert.deepEqual(bits(state.bestPhi), bits(seen[bestAt - 1]!.phi));
    // bestPhi is a copy, not the live phi.
    assert.notEqual(state.bestPhi, state.phi);
    const valid = validationTasks(fam, s0, cfg.validationTasks);
    assert.equal(validationScore(opt, state.bestPhi, valid, cfg.horizon), state.bestScore);
  });

  it("is deterministic: the same seed twice gives bit-identical phi, Adam state and counters", () => {
    const run = (): MetaTrainState => {
      const opt = smallLstm();
      const cfg = config({ seed: 7 });
      return metaTrain(opt, family(), cfg, initMetaTrainState(opt, cfg)).state;
    };
    const a = run();
    const b = run();
    assert.deepEqual(bits(a.phi), bits(b.phi));
    assert.deepEqual(bits(a.bestPhi), bits(b.bestPhi));
    assert.deepEqual(adamArrays(a.adam), adamArrays(b.adam));
    assert.equal(a.bestScore, b.bestScore);
    assert.equal(a.metaIteration, b.metaIteration);
    // And a different seed trains differently.
    const opt = smallLstm();
    const cfg = config({ seed: 8 });
    const c = metaTrain(opt, family(), cfg, initMetaTrainState(opt, cfg)).state;
    assert.notDeepEqual(bits(c.phi), bits(a.phi));
  });

  it("resumes exactly from a checkpoint: 1 epoch + save/load + 1 epoch equals 2 epochs straight", () => {
    const opt = smallLstm();
    const fam = family();
    const cfg2 = config({ epochs: 2, seed: 3 });
    const straight = metaTrain(opt, fam, cfg2, initMetaTrainState(opt, cfg2)).state;

    const cfg1 = config({ epochs: 1, seed: 3 });
    const first = metaTrain(opt, fam, cfg1, initMetaTrainState(opt, cfg1)).state;
    assert.equal(first.epoch, 1);
    const path = join(dir, "resume", "ckpt.safetensors");
    saveCheckpoint(path, stateToCheckpoint(first));
    const loaded = stateFromCheckpoint(loadCheckpoint(path), opt.phiSize);
    // The round trip itself is exact.
    assert.deepEqual(bits(loaded.phi), bits(first.phi));
    assert.deepEqual(adamArrays(loaded.adam), adamArrays(first.adam));
    assert.deepEqual(loaded.trainKey, first.trainKey);
    assert.deepEqual(loaded.validKey, first.validKey);
    assert.equal(loaded.bestScore, first.bestScore);

    const resumed = metaTrain(opt, fam, cfg2, loaded).state;
    assert.equal(resumed.epoch, 2);
    assert.equal(resumed.horizons, straight.horizons);
    assert.equal(resumed.metaIteration, straight.metaIteration);
    assert.deepEqual(bits(resumed.phi), bits(straight.phi));
    assert.deepEqual(bits(resumed.bestPhi), bits(straight.bestPhi));
    assert.deepEqual(adamArrays(resumed.adam), adamArrays(straight.adam));
    assert.equal(resumed.bestScore, straight.bestScore);
    assert.equal(resumed.bestEpoch, straight.bestEpoch);
  });

  it("records what its scores measure and refuses to resume a run under another meta-loss", () => {
    const opt = smallLstm();
    const fam = family();
    const logCfg = config({ epochs: 1, seed: 4, metaLoss: "log" });
    const done = metaTrain(opt, fam, logCfg, initMetaTrainState(opt, logCfg)).state;
    assert.equal(done.scoreKind, "log");
    const path = join(dir, "resume", "log.safetensors");
    saveCheckpoint(path, stateToCheckpoint(done));
    const loaded = stateFromCheckpoint(loadCheckpoint(path), opt.phiSize);
    assert.equal(loaded.scoreKind, "log");
    const sumCfg = config({ epochs: 2, seed: 4 });
    assert.throws(() => metaTrain(opt, fam, sumCfg, loaded), /scores are mean log losses, this run's metaLoss is 'sum'; resume with metaLoss 'log'/);
    // A checkpoint from before the option says nothing: it resumes under either.
    const { scoreKind: _kind, ...older } = stateToCheckpoint(done);
    const unknown = stateFromCheckpoint(older, opt.phiSize);
    assert.equal(unknown.scoreKind, null);
    assert.equal(metaTrain(opt, fam, config({ epochs: 2, seed: 4, metaLoss: "log" }), unknown).state.scoreKind, "log");
    assert.throws(() => stateFromCheckpoint({ ...older, scoreKind: "mean" }, opt.phiSize), /field 'scoreKind' is "mean"/);
  });

  it("metaLossFrom: only later steps count; earlier unrolls update nothing; validation scores the same steps", () => {
    const opt = smallLstm();
    const fam = family();
    // horizon 10 = 2 unrolls of 5; from 7: the first unroll only moves on, the second counts steps 7-10.
    const cfg = config({ epochs: 2, horizonsPerEpoch: 3, seed: 6, metaLossFrom: 7 });
    const s0 = initMetaTrainState(opt, cfg);
    assert.equal(s0.scoreFrom, 7);
    const valid = validationTasks(fam, s0, cfg.validationTasks);
    const scores: number[] = [];
    const w = memoryWriter();
    const { state } = metaTrain(opt, fam, cfg, s0, { onEpoch: (_s, score) => scores.push(score), writer: w });
    assert.equal(state.metaIteration, 2 * 3 * 1, "one update per horizon");
    assert.equal(state.horizons, 6);
    // The score is the mean loss per function over steps 7..10, by hand.
    const byHand = scoreByHand(opt, state.phi, valid, cfg.horizon, (f) => f, 7);
    assert.ok(Math.abs(byHand - scores[1]!) < 1e-9 * Math.abs(byHand), `${byHand} vs ${scores[1]}`);
    assert.equal(validationScore(opt, state.phi, valid, cfg.horizon, "sum", 7), scores[1]);
    assert.notEqual(validationScore(opt, state.phi, valid, cfg.horizon, "sum", 1), scores[1]);
    // Training from step 1 instead takes a different path from the same start.
    const all = metaTrain(opt, fam, config({ epochs: 2, horizonsPerEpoch: 3, seed: 6 }), initMetaTrainState(opt, config({ seed: 6 }))).state;
    assert.equal(all.metaIteration, 12);
    assert.notDeepEqual(bits(all.phi), bits(state.phi));
    // The checkpoint keeps what the scores count; resuming under another metaLossFrom is refused.
    const path = join(dir, "resume", "from7.safetensors");
    saveCheckpoint(path, stateToCheckpoint(state));
    const loaded = stateFromCheckpoint(loadCheckpoint(path), opt.phiSize);
    assert.equal(loaded.scoreFrom, 7);
    assert.throws(() => metaTrain(opt, fam, config({ epochs: 3, seed: 6 }), loaded), /scores count the steps from 7, this run's metaLossFrom is 1; resume with metaLossFrom 7/);
    assert.equal(metaTrain(opt, fam, config({ epochs: 3, horizonsPerEpoch: 3, seed: 6, metaLossFrom: 7 }), loaded).state.metaIteration, 9);
    // Checkpoints from before the option scored every step.
    const { scoreFrom: _from, ...older } = stateToCheckpoint(state);
    assert.equal(stateFromCheckpoint(older, opt.phiSize).scoreFrom, 1);
  });

  it("metaBatch 2 averages two trajectories per update: the same phi as two engines run in lockstep by hand", () => {
    const opt = smallLstm();
    const fam = family();
    // Two horizons of two truncations each: the LSTM state of each trajectory must survive the
    // other's unroll in between.
    const cfg = config({ epochs: 1, horizonsPerEpoch: 2, metaBatch: 2, seed: 9, clipNorm: 0.05 });
    const s0 = initMetaTrainState(opt, cfg);
    const { state } = metaTrain(opt, fam, cfg, s0);
    assert.equal(state.horizons, 2);
    assert.equal(state.metaIteration, 2, "one update per truncation, for both trajectories together");
    // By hand: trajectory k is horizon k, drawn as sampleTask draws it.
    const trajs = [0, 1].map((k) => {
      const [tk, ik, bk] = split(foldIn(s0.trainKey, k), 3) as [Key, Key, Key];
      const task = fam.sample(tk);
      return { task, theta: task.init(ik), bk, inst: opt.differentiable(s0.phi, task.layout, cfg.unroll), first: undefined as ReturnType<typeof task.lossAndGrad> | undefined };
    });
    const outer = adam(cfg.metaLr);
    let phi: Float32Array = new Float32Array(s0.phi);
    let st = outer.init(phi);
    for (let u = 0; u < 2; u++) {
      const acc = new Float32Array(opt.phiSize);
      for (const tr of trajs) {
        const r = unrollMetaGrad({
          task: tr.task,
          step: tr.inst,
          theta: tr.theta,
          T: cfg.unroll,
          weights: "after",
          keys: (t) => foldIn(tr.bk, u * cfg.unroll + t),
          ...(tr.first ? { first: tr.first } : {}),
          from: 0,
        });
        const norm = cfg.unroll * tr.task.instances;
        for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + r.dphi[i]! / norm;
        tr.theta = r.theta;
        tr.first = r.last;
      }
      for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / 2;
      const gnorm = clipByGlobalNorm(acc, cfg.clipNorm);
      assert.ok(gnorm > cfg.clipNorm, "the test should exercise clipping");
      const [upd, next] = outer.update(acc, st, phi);
      st = next;
      phi = applyUpdates(phi, upd);
      for (const tr of trajs) tr.inst.setPhi(phi);
    }
    trajs.forEach((tr) => tr.inst.dispose());
    assert.deepEqual(bits(state.phi), bits(phi));
    // One trajectory per update (the default) trains differently from the same start.
    const one = metaTrain(opt, fam, config({ epochs: 1, horizonsPerEpoch: 2, seed: 9, clipNorm: 0.05 }), initMetaTrainState(opt, cfg)).state;
    assert.equal(one.metaIteration, 4);
    assert.notDeepEqual(bits(one.phi), bits(state.phi));
  });

  it("checkpoints a fresh state (bestScore Infinity) and reads it back", () => {
    const opt = smallLstm();
    const s0 = initMetaTrainState(opt, config());
    const path = join(dir, "fresh.safetensors");
    saveCheckpoint(path, stateToCheckpoint(s0));
    const s = stateFromCheckpoint(loadCheckpoint(path), opt.phiSize);
    assert.equal(s.bestScore, Infinity);
    assert.equal(s.bestEpoch, -1);
    assert.equal(s.epoch, 0);
    assert.deepEqual(bits(s.phi), bits(s0.phi));
  });

  it("stateFromCheckpoint rejects a wrong phi size, a wrong kind and missing fields with FileFormatError", () => {
    const opt = smallLstm();
    const rec = stateToCheckpoint(initMetaTrainState(opt, config()));
    assert.throws(() => stateFromCheckpoint(rec, opt.phiSize + 1), (e: unknown) => e instanceof FileFormatError && /'phi'/.test(e.message));
    assert.throws(() => stateFromCheckpoint({ ...rec, kind: "something-else" }, opt.phiSize), (e: unknown) => e instanceof FileFormatError && /not a meta-training checkpoint/.test(e.message));
    const { epoch: _epoch, ...noEpoch } = rec;
    assert.throws(() => stateFromCheckpoint(noEpoch, opt.phiSize), (e: unknown) => e instanceof FileFormatError && /'epoch'/.test(e.message));
    assert.throws(() => stateFromCheckpoint({ ...rec, adam: 3 }, opt.phiSize), (e: unknown) => e instanceof FileFormatError && /'adam'/.test(e.message));
    assert.throws(() => stateFromCheckpoint({ ...rec, trainKey: "x" }, opt.phiSize), FileFormatError);
    assert.throws(() => stateFromCheckpoint({ ...rec, bestPhi: new Float32Array(3) }, opt.phiSize), (e: unknown) => e instanceof FileFormatError && /'bestPhi'/.test(e.message));
    // A phi of the other optimizer's size (bigger LSTM) is refused too.
    const big = lstmOptimizer({ hidden: 9, layers: 2, preprocess: { kind: "none" } }, createReferenceEngine);
    assert.throws(() => stateFromCheckpoint(rec, big.phiSize), FileFormatError);
  });

  it("stops with reason 'time' after the first horizon when maxSeconds is tiny, the epoch still in progress", () => {
    const opt = smallLstm();
    const cfg = config({ epochs: 5, maxSeconds: 1e-9 });
    const calls: Array<[number, boolean]> = [];
    const r = metaTrain(opt, family(), cfg, initMetaTrainState(opt, cfg), { onEpoch: (s, _score, partial) => calls.push([s.epoch, partial]) });
    assert.equal(r.stopped, "time");
    // Time is checked between horizons: one whole horizon of 2 unrolls ran.
    assert.equal(r.state.metaIteration, 2);
    assert.equal(r.state.horizons, 1);
    // The interrupted epoch is validated (so its phi can be kept, as epoch 1) but not closed.
    assert.deepEqual(calls, [[0, true]]);
    assert.equal(r.state.epoch, 0);
    assert.equal(r.state.epochHorizons, 1);
    assert.ok(Number.isFinite(r.state.bestScore));
    assert.equal(r.state.bestEpoch, 1);
  });

  it("a run stopped by its time limit part-way through an epoch resumes into the same training as one never stopped", () => {
    const opt = smallLstm();
    const fam = family();
    const cfg = config({ epochs: 2, seed: 6 });
    const straight = metaTrain(opt, fam, cfg, initMetaTrainState(opt, cfg)).state;
    const cut = metaTrain(opt, fam, { ...cfg, maxSeconds: 1e-9 }, initMetaTrainState(opt, cfg));
    assert.equal(cut.stopped, "time");
    assert.equal(cut.state.epochHorizons, 1);
    const path = join(dir, "resume", "cut.safetensors");
    saveCheckpoint(path, stateToCheckpoint(cut.state));
    const loaded = stateFromCheckpoint(loadCheckpoint(path), opt.phiSize);
    assert.equal(loaded.epochHorizons, 1);
    const calls: Array<[number, boolean]> = [];
    const w = memoryWriter();
    const resumed = metaTrain(opt, fam, cfg, loaded, { onEpoch: (s, _score, partial) => calls.push([s.epoch, partial]), writer: w }).state;
    // Each epoch has one validation line; the cut epoch's early one went to its own series.
    assert.deepEqual(w.series("valid/score").map((e) => e.step), [1, 2]);
    const wCut = memoryWriter();
    metaTrain(opt, fam, { ...cfg, maxSeconds: 1e-9 }, initMetaTrainState(opt, cfg), { writer: wCut });
    assert.deepEqual(wCut.series("valid/score"), []);
    assert.deepEqual(wCut.series("valid/partial_score").map((e) => e.step), [1]);
    // It finishes epoch 1 (2 more horizons), then runs epoch 2.
    assert.deepEqual(calls, [[1, false], [2, false]]);
    assert.equal(resumed.epoch, 2);
    assert.equal(resumed.epochHorizons, 0);
    assert.equal(resumed.horizons, straight.horizons);
    assert.equal(resumed.metaIteration, straight.metaIteration);
    assert.deepEqual(bits(resumed.phi), bits(straight.phi));
    assert.deepEqual(adamArrays(resumed.adam), adamArrays(straight.adam));
    // A checkpoint written before the field existed ended on a whole epoch.
    const { epochHorizons: _h, ...older } = stateToCheckpoint(straight);
    assert.equal(stateFromCheckpoint(older, opt.phiSize).epochHorizons, 0);
  });

  it("skips diverging unrolls without touching phi, and patience then stops training", () => {
    // outputScale 1e20: theta grows to ~1e21, so dL/dout = scale * dL/dtheta overflows float32
    // and every meta-gradient is infinite; the losses (float64) stay finite, so validation
    // scores are finite and, with phi never changing, identical every epoch.
    const opt = smallLstm(1e20);
    const cfg = config({ epochs: 10, horizonsPerEpoch: 2, patience: 2 });
    const s0 = initMetaTrainState(opt, cfg);
    const w = memoryWriter();
    const scores: number[] = [];
    const r = metaTrain(opt, family(), cfg, s0, { writer: w, onEpoch: (_s, score) => scores.push(score) });
    assert.equal(r.stopped, "patience");
    // Epoch 1 sets the best; epochs 2 and 3 do not beat it; 3 - 1 >= patience 2 stops.
    assert.equal(r.state.epoch, 3);
    assert.equal(r.state.bestEpoch, 1);
    assert.equal(scores.length, 3);
    assert.ok(scores.every((s) => s === scores[0] && Number.isFinite(s)));
    // Each horizon's first unroll diverges and drops the rest of the horizon.
    assert.equal(r.state.skipped, 3 * 2);
    assert.equal(r.state.horizons, 3 * 2);
    assert.equal(r.state.metaIteration, 0);
    assert.deepEqual(bits(r.state.phi), bits(s0.phi));
    assert.ok(r.state.phi.every(Number.isFinite));
    assert.ok(r.state.bestPhi.every(Number.isFinite));
    assert.deepEqual(adamArrays(r.state.adam), adamArrays(s0.adam));
    assert.deepEqual(
      w.series("meta/skipped").map((e) => e.value),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(w.series("meta/loss").length, 0);
    assert.equal(w.series("valid/score").length, 3);
  });

  it("patience counts from the start when no epoch ever scores finite", () => {
    // Every loss is Infinity: every unroll is skipped, every validation score is Infinity, so
    // bestEpoch stays -1 and no epoch improves; patience p must still allow p epochs.
    const q = family();
    const inf: TaskFamily = {
      name: "infinite",
      config: {},
      sample(k) {
        const t = q.sample(k);
        return { ...t, lossAndGrad: (th, kk) => ({ loss: Infinity, grad: t.lossAndGrad(th, kk).grad }) };
      },
    };
    for (const patience of [1, 2, 3]) {
      const opt = smallLstm();
      const cfg = config({ epochs: 10, horizonsPerEpoch: 1, validationTasks: 1, patience });
      const r = metaTrain(opt, inf, cfg, initMetaTrainState(opt, cfg));
      assert.equal(r.stopped, "patience");
      assert.equal(r.state.epoch, patience, `patience ${patience}`);
      assert.equal(r.state.bestEpoch, -1);
      assert.equal(r.state.bestScore, Infinity);
      assert.equal(r.state.skipped, patience);
    }
  });

  it("patience 0 never stops early", () => {
    const opt = smallLstm(1e20);
    const cfg = config({ epochs: 3, horizonsPerEpoch: 1, patience: 0 });
    const r = metaTrain(opt, family(), cfg, initMetaTrainState(opt, cfg));
    assert.equal(r.stopped, "epochs");
    assert.equal(r.state.epoch, 3);
  });

  it("writes meta/loss and meta/grad_norm per meta-iteration and calls onIteration", () => {
    const opt = smallLstm();
    const cfg = config({ epochs: 1, horizonsPerEpoch: 2, clipNorm: 1e-3 });
    const w = memoryWriter();
    const iters: number[] = [];
    const r = metaTrain(opt, family(), cfg, initMetaTrainState(opt, cfg), {
      writer: w,
      onIteration: (s, loss) => {
        assert.ok(Number.isFinite(loss));
        iters.push(s.metaIteration);
      },
    });
    assert.deepEqual(iters, [1, 2, 3, 4]);
    assert.deepEqual(
      w.series("meta/loss").map((e) => e.step),
      [1, 2, 3, 4],
    );
    const norms = w.series("meta/grad_norm").map((e) => e.value);
    assert.equal(norms.length, 4);
    // The norm reported is the one before clipping (clipNorm is far below it).
    assert.ok(norms.every((n) => n > 1e-3), `grad norms ${norms.join(", ")}`);
    assert.equal(w.series("meta/epoch_loss").length, 1);
    assert.equal(r.state.metaIteration, 4);
  });
});
