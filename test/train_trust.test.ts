/**
 * Training runs and checkpoints a user can trust (library level): a checkpoint belongs to its
 * run, everything loaded from one is checked, a training without an update fails, a stop
 * between horizons resumes exactly, files are locked, stale temporaries go, a resumed log
 * equals an uninterrupted one. The command-line side (signals, kills) is in train_kill.test.ts.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, L2oError } from "../src/core/errors.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { loadLearnedOptimizer, saveLearnedOptimizer } from "../src/learned/file.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import type { TaskFamily } from "../src/tasks/base.ts";
import { resolveMetaTrainConfig, type MetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { metaTrain } from "../src/meta/train.ts";
import { checkRunRecord, RESUME_MAY_CHANGE, stateFromCheckpoint, stateToCheckpoint } from "../src/meta/checkpoint.ts";
import { runRecord, runTrainJob, runTrainJobAsync, TrainingFailedError, type TrainJob } from "../src/meta/job.ts";
import { loadCheckpoint, saveCheckpoint, type CheckpointRecord, type CheckpointValue } from "../src/io/checkpoint.ts";
import { removeStaleTemps, writeFileAtomic } from "../src/io/files.ts";
import { acquireLock, acquireLocks, EMPTY_LOCK_GRACE_MS, FileLockedError } from "../src/io/lock.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import { logLines } from "./log_lines.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-train-trust-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let nextDir = 0;
const fresh = (): string => {
  const d = join(dir, String(nextDir++));
  mkdirSync(d, { recursive: true });
  return d;
};

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const smallLstm = () => lstmOptimizer({ hidden: 6, layers: 2, preprocess: { kind: "none" }, outputScale: 0.1 }, createReferenceEngine);
const meta = (c: Partial<MetaTrainConfig> = {}): MetaTrainConfig =>
  resolveMetaTrainConfig({ unroll: 5, horizon: 10, epochs: 2, horizonsPerEpoch: 3, validationTasks: 1, metaLr: 0.01, seed: 3, ...c });

/** A small training job in `d` (out, checkpoint and log there), overridable. */
function job(d: string, c: Partial<MetaTrainConfig> = {}, extra: Partial<TrainJob> = {}): TrainJob {
  return {
    optimizer: smallLstm(),
    task: "quadratic",
    family: quadraticFamily({ dim: 3, instances: 4 }),
    meta: meta(c),
    out: join(d, "out.safetensors"),
    checkpoint: join(d, "ck.safetensors"),
    log: join(d, "log.jsonl"),
    details: { engine: "ref", threads: 1 },
    ...extra,
  };
}


const outPhi = (path: string): number[] => bits(loadLearnedOptimizer(path, { engine: "ref" }).phi);

/** A process id that is free: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  assert.equal(r.status, 0);
  return r.pid!;
}

describe("a checkpoint belongs to its run", () => {
  it("resuming under another setting is refused naming it and both values; the settings allowed to change are accepted", () => {
    const d = fresh();
    runTrainJob(job(d, { epochs: 1 }));
    const before = readFileSync(join(d, "ck.safetensors"));
    const cases: Array<[string, TrainJob, RegExp]> = [
      ["metaLr", job(d, { metaLr: 0.02 }), /made with metaLr 0\.01, this run has 0\.02/],
      ["seed", job(d, { seed: 4 }), /made with seed 3, this run has 4/],
      ["validationSeed", job(d, { validationSeed: 7 }), /made with validationSeed \(not set\), this run has 7/],
      ["task config", job(d, {}, { family: quadraticFamily({ dim: 4, instances: 4 }) }), /made with taskConfig\.dim 3, this run has 4/],
      ["optimizer config", job(d, {}, { optimizer: lstmOptimizer({ hidden: 6, layers: 2, preprocess: { kind: "none" }, outputScale: 0.2 }, createReferenceEngine) }), /optimizerConfig\.outputScale 0\.1, this run has 0\.2/],
      ["engine", job(d, {}, { details: { engine: "wasm", threads: 1, reduction: "tree" } }), /made with engine "ref", this run has "wasm"/],
      ["init", job(d, {}, { init: { path: "elsewhere.safetensors", phi: smallLstm().init([1, 2]).flat } }), /made with init null, this run has ".*elsewhere\.safetensors"/],
    ];
    for (const [what, j, msg] of cases) {
      assert.throws(
        () => runTrainJob(j),
        (e: unknown) => e instanceof ConfigError && msg.test(e.message) && !e.message.includes("\n") && /belongs to another run/.test(e.message),
        what,
      );
    }
    // Nothing was touched by the refused runs.
    assert.deepEqual(readFileSync(join(d, "ck.safetensors")), before);
    assert.deepEqual(RESUME_MAY_CHANGE, ["epochs", "maxSeconds", "patience", "threads"]);
    // epochs, maxSeconds, patience and threads may change.
    const resumed = runTrainJob(job(d, { epochs: 2, patience: 5, maxSeconds: 1000 }, { details: { engine: "ref", threads: 4 } }));
    assert.equal(resumed.result.state.epoch, 2);
    const straight = fresh();
    runTrainJob(job(straight, { epochs: 2 }));
    assert.deepEqual(outPhi(join(d, "out.safetensors")), outPhi(join(straight, "out.safetensors")));
  });

  it("the record holds the task, optimizer, every setting, the init file (absolute) and the engine; a checkpoint without one resumes with a caveat", () => {
    const d = fresh();
    const rec = runRecord(job(d, {}, { init: { path: "x/init.safetensors", phi: new Float32Array(0) } }));
    assert.equal(rec.task, "quadratic");
    assert.deepEqual(rec.taskConfig, { dim: 3, instances: 4, initStd: 1 });
    assert.equal(rec.optimizer, "lstm");
    assert.equal(rec.init, resolve("x/init.safetensors"));
    assert.equal(rec.estimator, "tbptt");
    for (const k of ["unroll", "horizon", "metaLr", "clipNorm", "epochs", "horizonsPerEpoch", "metaBatch", "validationTasks", "metaLoss", "metaLossFrom", "seed", "engine"]) {
      assert.ok(Object.hasOwn(rec, k), k);
    }
    assert.equal(checkRunRecord(rec, rec, "c"), undefined);
    assert.match(checkRunRecord(undefined, rec, "old.safetensors")!, /old\.safetensors does not record the settings/);
    assert.throws(() => checkRunRecord(3, rec, "c"), FileFormatError);
    // End to end: an old checkpoint (no record) resumes, and the hook hears the caveat.
    runTrainJob(job(d, { epochs: 1 }));
    const { run: _run, ...old } = loadCheckpoint(join(d, "ck.safetensors"));
    saveCheckpoint(join(d, "ck.safetensors"), old);
    let caveat: string | undefined;
    runTrainJob(job(d, { epochs: 2 }, { hooks: { onResume: (_s, _p, c) => (caveat = c) } }));
    assert.match(caveat ?? "", /does not record the settings/);
    assert.equal(loadCheckpoint(join(d, "ck.safetensors")).epoch, 2);
  });
});

describe("everything loaded from a checkpoint is checked", () => {
  const opt = smallLstm();
  const cfg = meta({ epochs: 1 });
  const trained = metaTrain(opt, quadraticFamily({ dim: 3, instances: 4 }), cfg, initMetaTrainState(opt, cfg)).state;
  const good = stateToCheckpoint(trained);

  /** `good` with `path` (dotted) set to `value`. */
  const damaged = (path: string, value: (old: CheckpointValue) => CheckpointValue): CheckpointRecord => {
    const copy = (v: CheckpointValue): CheckpointValue =>
      v instanceof Float32Array ? new Float32Array(v) : Array.isArray(v) ? v.map(copy) : typeof v === "object" && v !== null && !ArrayBuffer.isView(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)])) : v;
    const rec = copy(good) as Record<string, CheckpointValue>;
    const keys = path.split(".");
    let at = rec as Record<string, CheckpointValue> | CheckpointValue[];
    for (const k of keys.slice(0, -1)) at = (at as Record<string, CheckpointValue>)[k] as Record<string, CheckpointValue>;
    const last = keys[keys.length - 1]!;
    (at as Record<string, CheckpointValue>)[last] = value((at as Record<string, CheckpointValue>)[last]!);
    return rec;
  };
  const withNaN = (v: CheckpointValue): Float32Array => {
    const a = new Float32Array(v as Float32Array);
    a[2] = NaN;
    return a;
  };

  it("accepts the checkpoint as written, and refuses each kind of damage as a FileFormatError", () => {
    assert.equal(stateFromCheckpoint(good, opt.phiSize, cfg).metaIteration, trained.metaIteration);
    const cases: Array<[string, CheckpointRecord, RegExp]> = [
      ["NaN in phi", damaged("phi", withNaN), /'phi' holds a non-finite value/],
      ["Infinity in best phi", damaged("bestPhi", (v) => new Float32Array(v as Float32Array).fill(Infinity)), /'bestPhi' holds a non-finite/],
      ["phi too short", damaged("phi", (v) => (v as Float32Array).subarray(1)), /'phi' is not \d+ float32/],
      ["NaN in Adam's mu", damaged("adam.stages.0.mu", withNaN), /'adam\.stages\.0\.mu' holds a non-finite/],
      ["Adam's nu too short", damaged("adam.stages.0.nu", (v) => (v as Float32Array).subarray(3)), /'adam\.stages\.0\.nu' is not/],
      ["negative second moment", damaged("adam.stages.0.nu", (v) => new Float32Array(v as Float32Array).fill(-1, 0, 1)), /negative/],
      ["Adam's count off", damaged("adam.stages.0.count", (v) => (v as number) + 1), /'adam\.stages\.0\.count' is \d+, but the checkpoint made/],
      ["Adam's count not an integer", damaged("adam.stages.0.count", () => 1.5), /not an integer/],
      ["Adam without its stages", damaged("adam", () => ({})), /'adam\.stages' does not hold 2 entries/],
      ["Adam with an extra stage", damaged("adam.stages", (v) => [...(v as CheckpointValue[]), {}]), /does not hold 2 entries/],
      ["negative epoch", damaged("epoch", () => -1), /'epoch' is -1, not an integer >= 0/],
      ["fractional epoch", damaged("epoch", () => 0.5), /'epoch' is 0\.5/],
      ["NaN counter", damaged("metaIteration", () => NaN), /'metaIteration' is NaN/],
      ["epochHorizons past the epoch", damaged("epochHorizons", () => 3), /'epochHorizons' \(3\) is not below the horizons per epoch \(3\)/],
      ["horizons that do not add up", damaged("horizons", (v) => (v as number) + 1), /'horizons' \(4\) is not 1 epochs of 3/],
      ["best epoch in the future", damaged("bestEpoch", () => 3), /'bestEpoch' is 3, after the epochs done/],
      ["best epoch below -1", damaged("bestEpoch", () => -2), /'bestEpoch' is -2/],
      ["NaN best score", damaged("bestScore", () => NaN), /'bestScore' \(NaN\)/],
      ["infinite best score for a best epoch", damaged("bestScore", () => Infinity), /does not fit 'bestEpoch'/],
      ["more skipped than horizons", damaged("skipped", () => 4), /'skipped' \(4\) exceeds the horizons/],
      ["too many meta-iterations", damaged("metaIteration", () => 1000), /'adam\.stages\.0\.count'.*1000|'metaIteration' \(1000\)/],
      ["a broken key", damaged("trainKey", () => [1, -1]), /not a random key/],
      ["another kind", damaged("kind", () => "l2o-something"), /not a meta-training checkpoint/],
      ["epoch losses without updates", damaged("epochLoss", () => 5), /'epochLoss' is 5 with no update/],
      ["scoreFrom after the horizon", damaged("scoreFrom", () => 11), /'scoreFrom' \(11\) is after the horizon/],
    ];
    for (const [what, rec, msg] of cases) {
      assert.throws(() => stateFromCheckpoint(rec, opt.phiSize, cfg), (e: unknown) => e instanceof FileFormatError && msg.test(e.message), what);
    }
  });

  it("a damaged checkpoint file stops the job before anything is written; no non-finite phi is ever saved", () => {
    const d = fresh();
    runTrainJob(job(d, { epochs: 1 }));
    const ck = join(d, "ck.safetensors");
    const rec = loadCheckpoint(ck);
    const phi = new Float32Array(rec.phi as Float32Array);
    phi[0] = NaN;
    saveCheckpoint(ck, { ...rec, phi });
    rmSync(join(d, "out.safetensors"));
    assert.throws(() => runTrainJob(job(d, { epochs: 2 })), (e: unknown) => e instanceof FileFormatError && /'phi' holds a non-finite value/.test(e.message));
    assert.ok(!existsSync(join(d, "out.safetensors")));
    // Writers refuse non-finite weights outright.
    assert.throws(() => stateToCheckpoint({ ...initMetaTrainState(opt, cfg), phi }), (e: unknown) => e instanceof L2oError && /refusing to save phi/.test(e.message));
    const bad = new Float32Array(opt.phiSize).fill(Infinity);
    assert.throws(() => saveLearnedOptimizer(join(d, "never.safetensors"), opt, bad), (e: unknown) => e instanceof L2oError && /non-finite/.test(e.message));
    assert.ok(!existsSync(join(d, "never.safetensors")));
  });
});

describe("a training without an update", () => {
  it("fails and writes no optimizer file", () => {
    const d = fresh();
    // Every loss NaN: every unroll diverges (the command-line test does it with a huge initStd).
    const q = quadraticFamily({ dim: 3, instances: 4 });
    const nan: TaskFamily = {
      name: "nan",
      config: {},
      sample(k) {
        const t = q.sample(k);
        return { ...t, lossAndGrad: (th, kk) => ({ loss: NaN, grad: t.lossAndGrad(th, kk).grad }) };
      },
    };
    const { checkpoint: _c, ...noCheckpoint } = job(d, { epochs: 2 }, { family: nan });
    assert.throws(() => runTrainJob(noCheckpoint), (e: unknown) => e instanceof TrainingFailedError && e instanceof L2oError && /made no update/.test(e.message));
    assert.ok(!existsSync(join(d, "out.safetensors")));
    assert.deepEqual(readdirSync(d).filter((n) => n.includes(".lock")), []);
  });
});

describe("a stop between horizons", () => {
  it("checkpoints the state there (no validation) and resumes into the same training and the same log", async () => {
    const straight = fresh();
    runTrainJob(job(straight, { epochs: 3 }));
    for (const at of [1, 4, 7]) {
      const d = fresh();
      const ctl = new AbortController();
      const first = await runTrainJobAsync(job(d, { epochs: 3 }, { hooks: { onIteration: (s) => s.metaIteration === at && ctl.abort() } }), { signal: ctl.signal });
      assert.equal(first.result.stopped, "interrupted", `stop at ${at}`);
      const ck = stateFromCheckpoint(loadCheckpoint(join(d, "ck.safetensors")), smallLstm().phiSize, meta());
      assert.equal(ck.metaIteration, first.result.state.metaIteration);
      assert.ok(ck.epochHorizons > 0, `stopped inside an epoch (${ck.epochHorizons})`);
      const second = await runTrainJobAsync(job(d, { epochs: 3 }));
      assert.equal(second.result.stopped, "epochs");
      assert.deepEqual(outPhi(join(d, "out.safetensors")), outPhi(join(straight, "out.safetensors")), `stop at ${at}`);
      assert.deepEqual(bits(loadCheckpoint(join(d, "ck.safetensors")).phi as Float32Array), bits(loadCheckpoint(join(straight, "ck.safetensors")).phi as Float32Array));
      assert.deepEqual(logLines(join(d, "log.jsonl")), logLines(join(straight, "log.jsonl")), `log, stop at ${at}`);
    }
  });

  it("a resumed run drops the log lines a killed run wrote after its checkpoint", () => {
    const straight = fresh();
    runTrainJob(job(straight, { epochs: 2 }));
    const d = fresh();
    runTrainJob(job(d, { epochs: 1 }));
    // What a run killed during epoch 2 leaves: its lines, the last one cut short.
    appendFileSync(join(d, "log.jsonl"), '{"step":7,"name":"meta/loss","value":1,"time":2}\n{"step":8,"name":"meta/lo');
    runTrainJob(job(d, { epochs: 2 }));
    assert.deepEqual(logLines(join(d, "log.jsonl")), logLines(join(straight, "log.jsonl")));
    // A log at another path is appended to as it is.
    const other = join(d, "other.jsonl");
    writeFileSync(other, '{"kept":true}\n');
    runTrainJob(job(d, { epochs: 3 }, { log: other }));
    assert.equal(readFileSync(other, "utf8").split("\n")[0], '{"kept":true}');
  });

  it("a fresh run (no checkpoint to resume) starts its log afresh instead of appending to an earlier run's", () => {
    const noCheckpoint = (d: string, epochs: number): TrainJob => {
      const { checkpoint: _none, ...rest } = job(d, { epochs });
      return rest;
    };
    const straight = fresh();
    runTrainJob(noCheckpoint(straight, 1));
    const d = fresh();
    runTrainJob(noCheckpoint(d, 2));
    runTrainJob(noCheckpoint(d, 1));
    assert.deepEqual(logLines(join(d, "log.jsonl")), logLines(join(straight, "log.jsonl")));
  });
});

describe("locks", () => {
  it("a second holder is refused, in this process and from another; release frees the path", () => {
    const d = fresh();
    const path = join(d, "f.safetensors");
    const lock = acquireLock(path, "output file");
    const owner = JSON.parse(readFileSync(`${path}.lock`, "utf8")) as { pid: number; host: string };
    assert.deepEqual([owner.pid, owner.host], [process.pid, hostname()]);
    assert.throws(() => acquireLock(path, "checkpoint"), (e: unknown) => e instanceof FileLockedError && /checkpoint .*f\.safetensors is already in use by this run/.test(e.message));
    lock.release();
    assert.ok(!existsSync(`${path}.lock`));
    // A live process of this machine (the test runner's parent stands in for another run).
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.ppid, host: hostname(), since: "then" }));
    assert.throws(() => acquireLock(path, "output file"), (e: unknown) => e instanceof FileLockedError && new RegExp(`in use by another l2o run \\(process ${process.ppid} on `).test(e.message));
    // Another machine's lock is never taken over.
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: deadPid(), host: "elsewhere.example" }));
    assert.throws(() => acquireLock(path, "output file"), /on elsewhere\.example.*delete .*f\.safetensors\.lock/);
    // A job holding its files: a second job on any of them is refused, and the first's locks all go.
    const locks = acquireLocks([[join(d, "a"), "output file"], [join(d, "b"), "checkpoint"]]);
    assert.throws(() => acquireLocks([[join(d, "c"), "output file"], [join(d, "b"), "checkpoint"]]), FileLockedError);
    assert.ok(!existsSync(join(d, "c.lock")), "a refused job releases what it had locked");
    for (const l of locks) l.release();
    const j = job(d);
    const held = acquireLock(j.checkpoint!, "checkpoint");
    assert.throws(() => runTrainJob(j), FileLockedError);
    assert.ok(!existsSync(j.out), "refused before training");
    assert.ok(!existsSync(`${j.out}.lock`));
    held.release();
  });

  it("a stale lock (its process gone, or left empty long ago) is taken over", () => {
    const d = fresh();
    const path = join(d, "f.safetensors");
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: deadPid(), host: hostname(), since: "then" }));
    const lock = acquireLock(path, "output file");
    assert.equal((JSON.parse(readFileSync(`${path}.lock`, "utf8")) as { pid: number }).pid, process.pid);
    lock.release();
    writeFileSync(`${path}.lock`, "");
    const old = (Date.now() - 2 * EMPTY_LOCK_GRACE_MS) / 1000;
    utimesSync(`${path}.lock`, old, old);
    acquireLock(path, "output file").release();
    // A fresh empty lock is waited for (its writer may be filling it), then taken over.
    writeFileSync(`${path}.lock`, "{garbled");
    const t0 = Date.now();
    acquireLock(path, "output file").release();
    assert.ok(Date.now() - t0 >= EMPTY_LOCK_GRACE_MS - 50);
    assert.deepEqual(readdirSync(d), []);
  });
});

describe("temporary files of interrupted writes", () => {
  it("are removed when their writer is gone; a live writer's and this process's stay", () => {
    const d = fresh();
    const path = join(d, "ck.safetensors");
    const dead = `${path}.tmp-${deadPid()}`;
    const live = `${path}.tmp-${process.ppid}`;
    const own = `${path}.tmp-${process.pid}`;
    const unrelated = `${path}.tmp-notapid`;
    for (const f of [dead, live, own, unrelated]) writeFileSync(f, "x");
    removeStaleTemps(path);
    assert.ok(!existsSync(dead));
    for (const f of [live, own, unrelated]) assert.ok(existsSync(f), f);
    rmSync(own);
    const dead2 = `${path}.tmp-${deadPid()}`;
    writeFileSync(dead2, "x");
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.ok(!existsSync(dead2), "a later write removes them");
    assert.deepEqual(readdirSync(d).sort(), ["ck.safetensors", "ck.safetensors.tmp-notapid", `ck.safetensors.tmp-${process.ppid}`].sort());
  });
});

describe("loadCheckpoint's bounds", () => {
  it("refuses a path that is not a regular file (a device, a directory) at once, as a MissingFileError", async () => {
    const { MissingFileError } = await import("../src/io/files.ts");
    const folder = mkdtempSync(join(tmpdir(), "l2o-ck-dir-"));
    try {
      for (const path of ["/dev/zero", folder]) {
        const started = performance.now();
        assert.throws(() => loadCheckpoint(path), (e: unknown) => e instanceof MissingFileError && (e as Error).message.includes(path), path);
        assert.ok(performance.now() - started < 2000, `${path} took ${performance.now() - started} ms`);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
