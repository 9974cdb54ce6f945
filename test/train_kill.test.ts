/**
 * `l2o train` killed, interrupted and run twice: a training killed with SIGKILL at random
 * (seeded) moments and resumed each time with the same command ends with the phi and the log
 * of one never killed; SIGINT and SIGTERM save a checkpoint and exit 130 and 143; a second run
 * on a file in use is refused; a resume under other settings is refused naming the setting; a
 * training without an update exits 2 and writes nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import { logLines } from "./log_lines.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
const dir = mkdtempSync(join(tmpdir(), "l2o-train-kill-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<Result>;
  /** Resolves once standard output matches `re` (rejects if the run ends first). */
  waitFor(re: RegExp): Promise<void>;
}

function start(...args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ re: RegExp; ok: () => void }> = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) if (w.re.test(stdout)) w.ok();
    else waiters.push(w);
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<Result>((res, rej) => {
    child.on("error", rej);
    child.on("close", (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    waitFor: (re) =>
      new Promise<void>((ok, fail) => {
        if (re.test(stdout)) return ok();
        waiters.push({ re, ok });
        void done.then((r) => fail(new Error(`the run ended before its output matched ${re}: ${r.stdout} ${r.stderr}`)));
      }),
  };
}

const run = (...args: string[]): Promise<Result> => start(...args).done;

const EPOCHS = 16;
/** A small training of ~1 s on the reference engine, its files in `d`. */
const trainArgs = (d: string, epochs = EPOCHS): string[] => [
  "train", "--task", "quadratic", "--task-config", '{"dim":5,"instances":8}', "--epochs", String(epochs), "--horizons-per-epoch", "6",
  "--horizon", "40", "--unroll", "5", "--validation-tasks", "1", "--engine", "ref", "--hidden", "8", "--seed", "5",
  "--out", join(d, "out.safetensors"), "--checkpoint", join(d, "ck.safetensors"), "--log", join(d, "log.jsonl"),
];

const phiBits = (path: string): number[] => {
  const phi = loadLearnedOptimizer(path, { engine: "ref" }).phi;
  return Array.from(new Uint32Array(phi.buffer, phi.byteOffset, phi.length));
};


/** Lock files and temporaries left in `d`. */
const leftovers = (d: string): string[] => readdirSync(d).filter((n) => /\.lock|\.tmp-/.test(n));

/** A seeded uniform generator in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether script(1) (util-linux) is there to run a command in a terminal. */
function hasScript(): boolean {
  return spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let reference: string;
/** The reference run's start-up (to its first epoch's start) and time per epoch, estimated. */
let startupMs = 0;
let epochMs = 0;
before(async () => {
  reference = join(dir, "reference");
  mkdirSync(reference);
  const t0 = performance.now();
  const p = start(...trainArgs(reference));
  await p.waitFor(/^epoch +1 /m);
  const t1 = performance.now();
  const r = await p.done;
  assert.equal(r.code, 0, r.stderr);
  epochMs = (performance.now() - t1) / (EPOCHS - 1);
  startupMs = Math.max(0, t1 - t0 - epochMs);
});

describe("l2o train killed and resumed", () => {
  it("SIGKILL at seeded random moments, each followed by a resume with the same command: the same phi and log as a run never killed", async (t) => {
    const d = join(dir, "killed");
    mkdirSync(d);
    const random = rng(20240607);
    const kills: string[] = [];
    for (let k = 0; k < 4; k++) {
      // A moment in the first 80% of the training left, or (one time in four) in the start-up.
      const done = existsSync(join(d, "ck.safetensors")) ? (loadCheckpoint(join(d, "ck.safetensors")).epoch as number) : 0;
      const delay = random() < 0.25 ? random() * startupMs : startupMs + random() * 0.8 * (EPOCHS - done) * epochMs;
      const p = start(...trainArgs(d));
      await Promise.race([sleep(delay), p.done]);
      const killed = p.child.kill("SIGKILL");
      const r = await p.done;
      const ck = existsSync(join(d, "ck.safetensors")) ? loadCheckpoint(join(d, "ck.safetensors")) : undefined;
      kills.push(`${delay.toFixed(0)}ms: ${r.signal ?? `exit ${r.code}`}${killed ? "" : " (done first)"}, checkpoint at ${ck ? `${String(ck.epoch)}+${String(ck.epochHorizons)}` : "none"}`);
      assert.ok(r.signal === "SIGKILL" || r.code === 0, `${kills.at(-1)} ${r.stderr}`);
    }
    t.diagnostic(`kills: ${kills.join("; ")}`);
    const last = await run(...trainArgs(d));
    assert.equal(last.code, 0, `${last.stderr} after kills ${kills.join("; ")}`);
    assert.deepEqual(phiBits(join(d, "out.safetensors")), phiBits(join(reference, "out.safetensors")), kills.join("; "));
    assert.deepEqual(logLines(join(d, "log.jsonl")), logLines(join(reference, "log.jsonl")), kills.join("; "));
    assert.deepEqual(leftovers(d), [], kills.join("; "));
  });

  it("SIGINT mid-training saves a checkpoint and exits 130; resuming gives the phi and log of a run never stopped", async () => {
    const d = join(dir, "sigint");
    mkdirSync(d);
    const p = start(...trainArgs(d));
    await p.waitFor(/^epoch +1 /m);
    p.child.kill("SIGINT");
    const r = await p.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /^l2o: interrupted by SIGINT after \d+ epochs( and \d+ horizons)? \(\d+ meta-iterations\): the training state is saved in .*ck\.safetensors; run the same command again to resume; the best optimizer so far \(epoch \d+\) is in .*out\.safetensors\n$/m);
    const ck = loadCheckpoint(join(d, "ck.safetensors"));
    assert.ok((ck.epoch as number) >= 1 && (ck.epoch as number) < 16, `stopped at epoch ${String(ck.epoch)}`);
    assert.deepEqual(leftovers(d), []);
    const resumed = await run(...trainArgs(d));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^resuming from .*ck\.safetensors at epoch \d+/m);
    assert.deepEqual(phiBits(join(d, "out.safetensors")), phiBits(join(reference, "out.safetensors")));
    assert.deepEqual(logLines(join(d, "log.jsonl")), logLines(join(reference, "log.jsonl")));
  });

  it("Ctrl-C in a terminal: the progress bar's hidden cursor is shown again, exit 130", { skip: !hasScript() && "needs script(1) for a terminal" }, async () => {
    const d = join(dir, "terminal");
    mkdirSync(d);
    const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
    const command = [process.execPath, BIN, ...trainArgs(d, 100000)].map(quote).join(" ");
    const child = spawn("script", ["-qefc", command, "/dev/null"], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    const done = new Promise<number | null>((res, rej) => {
      child.on("error", rej);
      child.on("close", (code) => res(code));
    });
    await new Promise<void>((res, rej) => {
      child.stdout.setEncoding("utf8").on("data", (x: string) => {
        out += x;
        if (/epoch +1 +validation/.test(out)) res(); // the first epoch line, not the bar (which names the epoch too)
      });
      void done.then(() => rej(new Error(`ended early: ${out}`)));
    });
    child.stdin.write("\x03"); // Ctrl-C: the terminal sends SIGINT to the training
    const code = await done;
    assert.equal(code, 130, out);
    const hidden = out.indexOf("\x1b[?25l");
    assert.ok(hidden >= 0, "the progress bar hid the cursor");
    assert.ok(out.indexOf("\x1b[?25h", hidden) > hidden, "and it was shown again");
    assert.match(out, /l2o: interrupted by SIGINT/);
    assert.ok(existsSync(join(d, "ck.safetensors")));
    assert.deepEqual(leftovers(d), []);
  });

  it("without --checkpoint, SIGINT says that nothing could be saved", async () => {
    const d = join(dir, "sigint-nock");
    mkdirSync(d);
    const args = trainArgs(d, 1000).filter((a, i, all) => a !== "--checkpoint" && all[i - 1] !== "--checkpoint");
    const p = start(...args);
    await p.waitFor(/^epoch +1 /m);
    p.child.kill("SIGINT");
    const r = await p.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted by SIGINT .*: without --checkpoint the training state could not be saved/);
    assert.deepEqual(leftovers(d), []);
  });
});

describe("l2o train: one run per file, one run per checkpoint", () => {
  it("a second run on a file in use is refused; SIGTERM exits 143 and frees the files; a resume under other settings is refused naming the setting", async () => {
    const d = join(dir, "busy");
    mkdirSync(d);
    const long = trainArgs(d, 100000);
    const p = start(...long);
    await p.waitFor(/^epoch +1 /m);
    const sameOut = long.map((a, i) => (long[i - 1] === "--checkpoint" ? join(d, "other-ck.safetensors") : long[i - 1] === "--log" ? join(d, "other.jsonl") : a));
    const sameCheckpoint = long.map((a, i) => (long[i - 1] === "--out" ? join(d, "other.safetensors") : long[i - 1] === "--log" ? join(d, "other.jsonl") : a));
    const [a, b] = await Promise.all([run(...sameOut), run(...sameCheckpoint)]);
    for (const [r, what] of [[a, "output file .*out\\.safetensors"], [b, "checkpoint .*ck\\.safetensors"]] as const) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^l2o: error: ${what} is in use by another l2o run \\(process ${p.child.pid} on [^\\n]*\\n$`));
    }
    assert.ok(!existsSync(join(d, "other.safetensors")) && !existsSync(join(d, "other-ck.safetensors")));
    p.child.kill("SIGTERM");
    const r = await p.done;
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /interrupted by SIGTERM/);
    assert.deepEqual(leftovers(d), []);
    const withLr = (lr: string) => [...long.slice(0, 1), "--meta-lr", lr, ...long.slice(1)];
    const mismatch = await run(...withLr("0.01"));
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /^l2o: error: .*ck\.safetensors belongs to another run: it was made with metaLr 0\.003, this run has 0\.01; [^\n]*\n$/);
    // epochs may change: a resume that asks for fewer epochs than done stops at once.
    const fewer = await run(...trainArgs(d, 1));
    assert.equal(fewer.code, 0, fewer.stderr);
    assert.match(fewer.stdout, /resuming from/);
  });

  it("a training that made no update exits 2 and writes no file", async () => {
    const d = join(dir, "diverged");
    mkdirSync(d);
    const r = await run("train", "--task", "quadratic", "--task-config", '{"initStd":1e30}', "--epochs", "1", "--horizons-per-epoch", "1", "--validation-tasks", "1", "--horizon", "20", "--out", join(d, "out.safetensors"));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^l2o: error: training made no update of the optimizer's weights: every unroll diverged/m);
    assert.deepEqual(readdirSync(d), []);
  });
});
