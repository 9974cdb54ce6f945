/**
 * Hostile command-line arguments: output paths that cannot be written, sizes out of range,
 * numbers in other bases, huge or deeply nested values, long names. Each is refused before
 * any work starts: exit code 2, exactly one `l2o: error:` line naming the flag, within a few
 * seconds, and nothing written.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkOutputPath, checkOutputPaths, OutputPathError } from "../src/io/paths.ts";
import { parseCount, parseEvalThreads, parseJsonObject, parseNumber, parseSeed } from "../src/cli/options.ts";
import { oneLine } from "../src/cli/format.ts";
import { LIMITS } from "../src/cli/limits.ts";
import { L2oError } from "../src/core/errors.ts";
import { learnedKind } from "../src/learned/registry.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
// Readable by every user: the not-writable cases run as `nobody` when the tests run as root
// (root may write anywhere).
const dir = mkdtempSync(join(tmpdir(), "l2o-cli-inputs-"));
chmodSync(dir, 0o755);
after(() => {
  chmodSync(join(dir, "readonly"), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A refusal must come this fast: the CLI starts in about a second, while any of these
 * commands, had it started its work, would run for minutes. On a loaded machine start-up
 * alone can take several seconds, so the bound is also at least 4x the slowest of four
 * concurrent `l2o --help` runs measured before the cases (they run four at a time too).
 */
const QUICK_FLOOR_MS = 10_000;
let QUICK_MS = QUICK_FLOOR_MS;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

const asNobody = process.getuid?.() === 0;

/** Runs `node bin/l2o.js ...args`; `unprivileged` runs it as `nobody` when the tests run as root. */
function l2o(args: readonly string[], unprivileged = false): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const ids = unprivileged && asNobody ? { uid: 65534, gid: 65534 } : {};
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], ...ids });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr, ms: performance.now() - start }));
  });
}

before(async () => {
  const starts = await runAll(Array.from({ length: 4 }, () => ({ args: ["--help"] })));
  for (const r of starts) assert.equal(r.code, 0, `l2o --help: ${r.stderr}`);
  QUICK_MS = Math.max(QUICK_FLOOR_MS, 4 * Math.max(...starts.map((r) => r.ms)));
});

/** Runs the cases a few at a time (each is a CLI start-up). */
async function runAll(cases: ReadonlyArray<{ args: readonly string[]; unprivileged?: boolean }>, width = 4): Promise<Result[]> {
  const out: Result[] = new Array(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      out[i] = await l2o(cases[i]!.args, cases[i]!.unprivileged);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

/** Exit code 2, exactly one `l2o: error:` line naming `flag` (and matching `msg`), quickly. */
function assertRefused(r: Result, flag: string, msg: RegExp | undefined, what: string): void {
  assert.equal(r.code, 2, `${what}: exit code ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, /^l2o: error: [^\n]+\n$/, `${what}: stderr is not one 'l2o: error:' line: ${JSON.stringify(r.stderr.slice(0, 2000))}`);
  assert.ok(r.stderr.includes(flag), `${what}: the message does not name ${flag}: ${r.stderr}`);
  if (msg !== undefined) assert.match(r.stderr, msg, what);
  assert.ok(r.ms < QUICK_MS, `${what}: took ${r.ms.toFixed(0)} ms`);
  assert.equal(r.stdout, "", `${what}: printed ${r.stdout}`);
}

const QUAD = ["--task", "quadratic", "--task-config", '{"dim":3,"instances":2}'];
const TRAIN = ["train", ...QUAD, "--epochs", "1", "--horizons-per-epoch", "1", "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--engine", "ref"];
const EVAL = ["eval", ...QUAD, "--optimizers", "adam@0.1", "--steps", "3", "--instances", "2", "--quiet"];
const RUN = ["run", ...QUAD, "--optimizer", "adam", "--steps", "3", "--instances", "2"];
const DEMO = ["demo", "--seconds", "0.001", "--instances", "3", "--engine", "ref"];

describe("output paths are checked before any work", () => {
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const folder = join(dir, "a-folder");
  mkdirSync(folder);
  const readonly = join(dir, "readonly");
  mkdirSync(readonly);
  writeFileSync(join(readonly, "locked.json"), "{}");
  chmodSync(join(readonly, "locked.json"), 0o444);
  chmodSync(readonly, 0o555);
  symlinkSync("/proc/self", join(dir, "to-proc"));
  symlinkSync("/dev/null", join(dir, "to-null"));
  const report = join(dir, "missing-report.json");

  // Where train's --out goes when its --checkpoint or --log is the path under test: a folder
  // that `nobody` may write too.
  const open = join(dir, "open");
  mkdirSync(open);
  chmodSync(open, 0o777);
  /** Each command's output flags, with the arguments that come before them. */
  const outputs: Array<[string, readonly string[]]> = [
    ["--out", RUN],
    ["--json", EVAL],
    ["--json", ["compare", report]],
    ["--out", ["plot", report]],
    ["--out", DEMO],
    ["--out", TRAIN],
    ["--checkpoint", [...TRAIN, "--out", join(open, "never", "t1.safetensors")]],
    ["--log", [...TRAIN, "--out", join(open, "never", "t2.safetensors")]],
  ];
  const bad: Array<[string, string, RegExp, boolean?]> = [
    ["empty", "", /is empty/],
    ["under /proc", "/proc/l2o-test/out.json", /lies under \/proc/],
    ["in a folder that is not writable", join(readonly, "sub", "out.json"), /the folder .*readonly is not writable/, true],
    ["a folder", folder, /is a folder/],
    ["a folder by its trailing slash", `${join(dir, "new-folder")}/`, /names a folder/],
    ["under a file", join(file, "out.json"), /lies under .*a-file, which is a file/],
    ["under /sys", "/sys/l2o-test.json", /lies under \/sys/],
    ["/dev/null", "/dev/null", /lies under \/dev/],
    ["under /proc through a link", join(dir, "to-proc", "out.json"), /lies under \/proc \(through /],
    ["a link to /dev/null", join(dir, "to-null"), /leads to \/dev/],
    ["an existing file that is not writable", join(readonly, "locked.json"), /exists and cannot be written/, true],
  ];

  it("every output flag of every command refuses an unwritable path at once, naming the flag; run --out each kind of one", async () => {
    // The check is shared: every kind on one flag, three kinds on each of the others.
    const cases = outputs.flatMap(([flag, args], k) =>
      (k === 0 ? bad : bad.slice(0, 3)).map(([what, path, msg, unprivileged]) => ({ flag, what, msg, args: [...args, flag, path], unprivileged: unprivileged === true })),
    );
    const results = await runAll(cases);
    cases.forEach((c, i) => assertRefused(results[i]!, c.flag, c.msg, `${c.args[0]} ${c.flag} ${c.what}`));
    assert.deepEqual(readdirSync(folder), [], "nothing written into the folder");
    assert.deepEqual(readdirSync(open), [], "train wrote nothing before refusing its --checkpoint or --log");
    assert.equal(existsSync(join(dir, "new-folder")), false);
  });

  it("train refuses two flags that name the same file", async () => {
    const same = join(dir, "same.safetensors");
    const r = await l2o([...TRAIN, "--out", same, "--checkpoint", same]);
    assertRefused(r, "--checkpoint", /--checkpoint and --out name the same file/, "--checkpoint = --out");
    assert.equal(existsSync(same), false);
  });

  it("a report, a log or a figure never replaces an optimizer file: refused at once, the file's bytes kept", async () => {
    const shipped = readFileSync(join(REPO, "pretrained", "quadratic.safetensors"));
    const kept = join(dir, "kept");
    mkdirSync(kept);
    chmodSync(kept, 0o777);
    // The file under any name: a user who typed runs/quad.safetensors for runs/quad.json.
    const victim = join(kept, "quad.safetensors");
    const renamed = join(kept, "quad.json");
    writeFileSync(victim, shipped);
    writeFileSync(renamed, shipped);
    const cases: Array<[string, string[]]> = [
      ["--out", [...RUN, "--out", victim]],
      ["--json", [...EVAL, "--json", renamed]],
      ["--json", ["compare", report, "--json", victim]],
      ["--log", [...TRAIN, "--out", join(open, "never", "t3.safetensors"), "--log", victim]],
      ["--json", ["generalize", "--layers", "1", "--units", "5", "--steps", "3", "--instances", "2", "--json", renamed]],
      ["--out", ["suite", "--optimizers", "adam", "--quick", "--out", victim]],
    ];
    const results = await runAll(cases.map(([, args]) => ({ args })));
    cases.forEach(([flag, args], i) =>
      assertRefused(results[i]!, flag, /is a safetensors file \(an optimizer, a checkpoint or a learner\), which this output would destroy/, `${args[0]} ${flag}`),
    );
    assert.ok(readFileSync(victim).equals(shipped) && readFileSync(renamed).equals(shipped), "the optimizer files are unchanged");
    // Where the output is itself such a file (train --out, --checkpoint) replacing one stays allowed.
    checkOutputPaths([[victim, "--out", { trained: true }], [renamed, "--checkpoint", { trained: true }]]);
    checkOutputPath(file, "--json", { report: true });
  });

  it("an optimizer, checkpoint or learner never replaces a report, a log or a figure: refused at once, naming what the file is; an earlier optimizer file is replaced", async () => {
    const kept = join(dir, "kept-reports");
    mkdirSync(kept);
    chmodSync(kept, 0o777);
    const files: Record<string, string | Buffer> = {
      "quad.json": `${JSON.stringify({ task: "quadratic", steps: 3, optimizers: [{ name: "adam", finalLosses: [0.5, 0.25] }] }, null, 2)}\n`,
      "quad.jsonl": '{"step":1,"name":"meta/loss","value":1.5,"time":0.1}\n{"step":2,"name":"meta/loss","value":1.2,"time":0.2}\n',
      "curve.png": Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]),
      "curve.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n',
      "notes.txt": "which runs to keep\n",
      "blob.bin": Buffer.from([1, 0, 2, 0, 3]),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(kept, name), bytes);
    const at = (name: string): string => join(kept, name);
    const cases: Array<[string, string[], RegExp]> = [
      ["--out", [...TRAIN, "--out", at("quad.json")], /--out '[^']*quad\.json' is a JSON report or log, not a safetensors file \(an optimizer, a checkpoint or a learner\), which this output would overwrite; give another path/],
      ["--checkpoint", [...TRAIN, "--out", join(open, "never", "t4.safetensors"), "--checkpoint", at("quad.jsonl")], /--checkpoint '[^']*quad\.jsonl' is a JSON report or log/],
      ["--out", [...DEMO, "--out", at("curve.png")], /is a PNG image, not a safetensors file/],
      ["--out", ["rl", "train", "--task", "logistic-regression", "--out", at("curve.svg")], /is an SVG figure, not a safetensors file/],
      ["--out", ["fewshot", "train", "--method", "maml", "--out", at("notes.txt")], /is a text file, not a safetensors file/],
      ["--out", ["blackbox", "train", "--dim", "2", "--out", at("blob.bin")], /is a binary file that is not a safetensors file/],
    ];
    const results = await runAll(cases.map(([, args]) => ({ args })));
    cases.forEach(([flag, args], i) => assertRefused(results[i]!, flag, cases[i]![2], `${args.slice(0, 2).join(" ")} ${flag}`));
    for (const [name, bytes] of Object.entries(files)) assert.ok(readFileSync(at(name)).equals(Buffer.from(bytes)), `${name} changed`);
    assert.deepEqual(readdirSync(kept).sort(), Object.keys(files).sort(), "nothing else was written");

    // What --out may replace: an earlier training's optimizer file (trained again to the same
    // path) and an empty file.
    const earlier = at("earlier.safetensors");
    const shipped = readFileSync(join(REPO, "pretrained", "quadratic.safetensors"));
    writeFileSync(earlier, shipped);
    const empty = at("empty.safetensors");
    writeFileSync(empty, "");
    checkOutputPaths([[empty, "--out", { trained: true }]]);
    const again = await l2o([...TRAIN, "--out", earlier, "--quiet"]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(!readFileSync(earlier).equals(shipped), "the earlier optimizer file was replaced by the new training");
  });

  it("checkOutputPath accepts a new file in a new folder and an existing file, and creates nothing", () => {
    const fresh = join(dir, "fresh", "deeper", "out.json");
    checkOutputPath(fresh, "--out");
    assert.equal(existsSync(join(dir, "fresh")), false);
    checkOutputPath(file, "--out");
    checkOutputPath("relative-output.json", "--json");
    checkOutputPaths([[join(dir, "a.safetensors"), "--out"], [undefined, "--checkpoint"], [join(dir, "b.jsonl"), "--log"]]);
    assert.throws(() => checkOutputPath("", "--out"), (e: unknown) => e instanceof OutputPathError && e instanceof L2oError && /^--out is empty/.test(e.message));
    assert.throws(() => checkOutputPath("a\0b", "--log"), /--log .* contains a NUL character/);
  });
});

describe("sizes are checked against their ranges before any work", () => {
  const out = (name: string): string => join(dir, "sizes", `${name}`);
  const hidden = learnedKind("lstm").limits.hidden!;
  const layers = learnedKind("lstm").limits.layers!;
  // [what, flag, args, message]
  const cases: Array<[string, string, string[], RegExp]> = [
    ["--hidden 100000", "--hidden", [...TRAIN, "--hidden", "100000", "--out", out("h")], new RegExp(`--hidden must be from 1 to ${hidden.toLocaleString("en-US")}, got '100000'`)],
    ["--hidden 0", "--hidden", [...TRAIN, "--hidden", "0", "--out", out("h0")], /--hidden must be from 1 to/],
    ["--layers 100000", "--layers", [...TRAIN, "--layers", "100000", "--out", out("l")], new RegExp(`--layers must be from 1 to ${layers}, got`)],
    ["--unroll 10001", "--unroll", [...TRAIN, "--unroll", "10001", "--out", out("u")], /--unroll must be from 1 to 10,000/],
    ["--horizon 1e9", "--horizon", [...TRAIN, "--horizon", "1000000000", "--out", out("ho")], /--horizon must be from 1 to 100,000/],
    ["--epochs 1e7", "--epochs", [...TRAIN, "--epochs", "10000000", "--out", out("e")], /--epochs must be from 1 to 1,000,000/],
    ["--horizons-per-epoch", "--horizons-per-epoch", [...TRAIN, "--horizons-per-epoch", "100001", "--out", out("hpe")], /must be from 1 to 100,000/],
    ["--meta-batch", "--meta-batch", [...TRAIN, "--meta-batch", "257", "--out", out("mb")], /--meta-batch must be from 1 to 256/],
    ["--validation-tasks", "--validation-tasks", [...TRAIN, "--validation-tasks", "1001", "--out", out("vt")], /must be from 1 to 1,000/],
    ["--patience", "--patience", [...TRAIN, "--patience", "1000001", "--out", out("p")], /--patience must be from 0 to 1,000,000/],
    // A rate like this threw phi where every run diverged, then trained all 50 epochs to save nothing.
    ["--meta-lr 1e300", "--meta-lr", [...TRAIN, "--meta-lr", "1e300", "--out", out("mlr")], /--meta-lr must be at most 1, got '1e300'/],
    ["train --threads 1000", "--threads", [...TRAIN, "--threads", "1000", "--out", out("t")], /--threads must be from 1 to 64/],
    ["--max-seconds 1e99", "--max-seconds", [...TRAIN, "--max-seconds", "1e99", "--out", out("ms")], /--max-seconds must be at most 2,592,000/],
    ["--seed 1e20", "--seed", [...TRAIN, "--seed", "100000000000000000000", "--out", out("s")], /--seed must be an integer from -9007199254740991/],
    // Distributed training's flags: checked, and refused without what they belong to, rather than ignored.
    ["--staleness abc", "--staleness", [...TRAIN, "--redis", "redis://127.0.0.1:1", "--async", "--staleness", "abc", "--out", out("st")], /--staleness expects an integer, got 'abc'/],
    ["--redis-wait 0", "--redis-wait", [...TRAIN, "--redis", "redis://127.0.0.1:1", "--redis-wait", "0", "--out", out("rw")], /--redis-wait must be at least 1/],
    ["--workers-expected 1e6", "--workers-expected", [...TRAIN, "--redis", "redis://127.0.0.1:1", "--workers-expected", "1000000", "--out", out("we")], /--workers-expected must be from 0 to 100,000/],
    ["--staleness without --async", "--staleness", [...TRAIN, "--redis", "redis://127.0.0.1:1", "--staleness", "3", "--out", out("sa")], /--staleness bounds asynchronous training: add --async/],
    ["--workers-expected without --redis", "--workers-expected", [...TRAIN, "--workers-expected", "2", "--out", out("wr")], /--workers-expected belongs to distributed training: add --redis URL/],
    ["--queue and --redis-wait without --redis", "--queue", [...TRAIN, "--queue", "mine", "--redis-wait", "5", "--out", out("qr")], /--queue, --redis-wait belong to distributed training: add --redis URL/],
    [
      "validation tasks that need gigabytes",
      "--validation-tasks",
      ["train", "--task", "quadratic", "--task-config", '{"dim":100,"instances":1000}', "--validation-tasks", "60", "--out", out("vm")],
      /--validation-tasks 60 and --meta-batch 1 would hold 61 quadratic instances .* GiB; at most 2\.00 GiB/,
    ],
    ["eval --steps 1e12", "--steps", [...EVAL, "--steps", "1000000000000"], /--steps must be from 1 to 100,000/],
    ["eval --instances 1e12", "--instances", [...EVAL, "--instances", "1000000000000"], /--instances must be from 2 to 10,000/],
    ["eval --instances 1", "--instances", [...EVAL, "--instances", "1"], /--instances must be from 2 to 10,000/],
    ["--tune-instances", "--tune-instances", [...EVAL, "--tune-instances", "1001"], /--tune-instances must be from 1 to 1,000/],
    ["eval --threads 1000", "--threads", [...EVAL, "--threads", "1000"], /--threads must be from 1 to 64/],
    ["steps x instances", "--steps", [...EVAL, "--steps", "100000", "--instances", "10000"], /steps x instances may be at most 10,000,000/],
    ["eval instances that need gigabytes", "--instances", ["eval", "--task", "quadratic", "--task-config", '{"dim":100,"instances":1000}', "--optimizers", "adam", "--instances", "100"], /would hold 105 quadratic instances/],
    ["65 optimizers", "--optimizers", ["eval", ...QUAD, "--optimizers", Array(65).fill("adam").join(",")], /--optimizers lists 65 entries; at most 64/],
    ["65 learning rates", "--lr-grid", [...EVAL, "--lr-grid", Array(65).fill("0.1").join(",")], /--lr-grid lists 65 entries; at most 64/],
    ["run --steps 0", "--steps", [...RUN, "--steps", "0", "--out", out("r0")], /--steps must be from 1 to 100,000/],
    ["run --instances 1e5", "--instances", [...RUN, "--instances", "100000", "--out", out("ri")], /--instances must be from 1 to 10,000/],
    ["run --every", "--every", [...RUN, "--every", "100001", "--out", out("re")], /--every must be from 1 to 100,000/],
    ["run --threads 65", "--threads", [...RUN, "--threads", "65", "--out", out("rt")], /--threads must be from 1 to 64/],
    ["demo --instances 0 (before the training)", "--instances", [...DEMO, "--instances", "0", "--out", out("d0")], /--instances must be from 2 to 10,000, got '0'/],
    ["demo --seconds 0", "--seconds", [...DEMO, "--seconds", "0", "--out", out("ds")], /--seconds must be greater than 0/],
    ["demo --seconds 1e9", "--seconds", [...DEMO, "--seconds", "1e9", "--out", out("ds9")], /--seconds must be at most 2,592,000/],
    ["quadratic dim 1e9", "--task-config", ["run", "--task", "quadratic", "--task-config", '{"dim":1e9}', "--optimizer", "adam", "--out", out("q")], /quadratic: 'dim' must be at most 4096/],
    ["quadratic W too big", "--task-config", ["run", "--task", "quadratic", "--task-config", '{"dim":1000,"instances":100}', "--optimizer", "adam"], /instances \* dim \* dim \(the floats of W\) must be at most 16777216/],
    ["quadratic instances 1e12", "--task-config", ["run", "--task", "quadratic", "--task-config", '{"instances":1e12}', "--optimizer", "adam"], /'instances' must be at most 1000000/],
    ["mnist width 1e9", "--task-config", ["run", "--task", "mnist-mlp", "--task-config", '{"hidden":[1e9]}', "--optimizer", "adam"], /'hidden' layer widths must be at most 1024/],
    ["mnist depth 100", "--task-config", ["run", "--task", "mnist-mlp", "--task-config", `{"hidden":[${Array(100).fill(2).join(",")}]}`, "--optimizer", "adam"], /'hidden' may list at most 8 layers/],
    ["mnist batch 1e9", "--task-config", ["train", "--task", "mnist-mlp", "--task-config", '{"batchSize":1e9}', "--out", out("mb9")], /'batchSize' must be at most 10000/],
  ];

  it("each size out of range is refused at once, naming its flag or config field, and writes nothing", async () => {
    const results = await runAll(cases.map(([, , args]) => ({ args })));
    cases.forEach(([what, flag, , msg], i) => {
      assertRefused(results[i]!, flag, msg, what);
      if (flag === "--task-config") assert.match(results[i]!.stderr, /^l2o: error: --task-config: (quadratic|mnist-mlp): /, what);
    });
    assert.equal(existsSync(join(dir, "sizes")), false, "nothing was written");
  });

  it("each option's help shows its range", async () => {
    const [train, evalHelp, run, demo] = (await Promise.all(["train", "eval", "run", "demo"].map((c) => l2o([c, "--help"])))) as [Result, Result, Result, Result];
    const flat = (r: Result): string => r.stdout.replace(/\s+/g, " ");
    for (const [r, want] of [
      [train, [`--hidden <n> LSTM: units per layer (1 to ${hidden.toLocaleString("en-US")}`, `(1 to ${layers};`, "(1 to 10,000; a divisor", "(1 to 100,000)", "(1 to 256)", "(1 to 1,000)", "(1 to 64)", "2,592,000"]],
      [evalHelp, ["(1 to 100,000; steps x instances at most 10,000,000)", "(2 to 10,000)", "(1 to 1,000)", "(1 to 64)", "(1 to 64 names)"]],
      [run, ["(1 to 100,000; steps x instances", "(1 to 10,000)", "(1 to 64)"]],
      [demo, ["at most 2,592,000", "(2 to 10,000)"]],
    ] as Array<[Result, string[]]>) {
      assert.equal(r.code, 0, r.stderr);
      for (const w of want) assert.ok(flat(r).includes(w), `help lacks '${w}':\n${r.stdout}`);
    }
  });
});

describe("counts are plain decimal integers", () => {
  it("hexadecimal, binary, octal, exponent, spaced and signed forms are refused with the reason", async () => {
    const forms: Array<[string, RegExp]> = [
      ["0x10", /hexadecimal, binary and octal forms are not accepted/],
      ["0b11", /hexadecimal, binary and octal forms are not accepted/],
      ["0o7", /hexadecimal, binary and octal forms are not accepted/],
      ["010", /no leading zeros/],
      ["1e3", /not an exponent: write 1000/],
      [" 7 ", /no spaces around it/],
      ["+5", /expects an integer, got '\+5'/],
      ["7.0", /expects an integer, got '7\.0'/],
      ["1_000", /expects an integer, got '1_000'/],
      ["Infinity", /expects an integer, got 'Infinity'/],
    ];
    const cases = [
      ...forms.map(([v, msg]) => ({ flag: "--steps", args: [...RUN, "--steps", v], msg })),
      ...forms.slice(0, 4).map(([v, msg]) => ({ flag: "--epochs", args: [...TRAIN, "--epochs", v, "--out", join(dir, "forms", "x.safetensors")], msg })),
      { flag: "--threads", args: [...EVAL, "--threads", "0x4"], msg: /--threads expects a positive integer or 'auto', got '0x4' \(hexadecimal/ },
      { flag: "--lr", args: [...RUN, "--lr", "0x10"], msg: /--lr expects a number, got '0x10' \(hexadecimal/ },
      { flag: "--preprocess", args: [...TRAIN, "--preprocess", "momentum:0x10", "--out", join(dir, "forms", "p.safetensors")], msg: /P expects a finite decimal number, got '0x10'/ },
      { flag: "--preprocess", args: [...TRAIN, "--preprocess", "logsign:1e999", "--out", join(dir, "forms", "p2.safetensors")], msg: /P expects a finite decimal number, got '1e999'/ },
    ];
    const results = await runAll(cases);
    cases.forEach((c, i) => assertRefused(results[i]!, c.flag, c.msg, `${c.flag} ${c.args.at(-1)}`));
    assert.equal(existsSync(join(dir, "forms")), false);
  });

  it("the parsers: decimal counts within their range, seeds, numbers with exponents", () => {
    assert.equal(parseCount("--steps", "100000", LIMITS.steps), 100000);
    assert.equal(parseCount("--patience", "0", LIMITS.patience), 0);
    assert.throws(() => parseCount("--steps", "100001", LIMITS.steps), /--steps must be from 1 to 100,000, got '100001'/);
    assert.throws(() => parseCount("--steps", "-1", LIMITS.steps), /must be from 1 to/);
    assert.equal(parseSeed("--seed", "-3"), -3);
    assert.equal(parseSeed("--seed", "9007199254740991"), Number.MAX_SAFE_INTEGER);
    assert.throws(() => parseSeed("--seed", "9007199254740993"), /--seed must be an integer from/);
    assert.equal(parseNumber("--meta-lr", "3e-3", { positive: true }), 0.003);
    assert.equal(parseNumber("--lr", ".5"), 0.5);
    assert.throws(() => parseNumber("--clip", "1e999"), /--clip expects a finite number/);
    assert.equal(parseEvalThreads("auto"), "auto");
    assert.equal(parseEvalThreads("64"), 64);
    assert.throws(() => parseEvalThreads("65"), /--threads must be from 1 to 64/);
  });
});

describe("long, multi-line and deeply nested values", () => {
  it("a message is one line of at most 500 characters and the count of the rest", async () => {
    const long = "x".repeat(100_000);
    const [task, optimizer, newline] = await runAll([
      { args: ["run", "--task", long, "--optimizer", "adam"] },
      { args: ["run", "--task", "quadratic", "--optimizer", long] },
      { args: ["run", "--task", "a\nb\u001b[31m", "--optimizer", "adam"] },
    ]);
    for (const [r, what] of [[task!, "--task"], [optimizer!, "--optimizer"]] as Array<[Result, string]>) {
      assert.equal(r.code, 2, r.stderr.slice(0, 300));
      assert.match(r.stderr, /^l2o: error: [^\n]+\.\.\. \(\d+ more characters\)\n$/, what);
      assert.ok(r.stderr.length < 700, `${what}: ${r.stderr.length} characters`);
      assert.ok(r.ms < QUICK_MS);
    }
    assert.equal(newline!.code, 2);
    assert.equal(newline!.stderr, "l2o: error: unknown task 'a\\nb\\u001b[31m'; known tasks: quadratic, mnist-mlp, cnn, art, logistic-regression, robust-regression, clustered-mlp, least-squares, valley, mixture; or a task module of your own, e.g. --task ./my-task.ts\n");
    assert.equal(oneLine("short"), "short");
    const capped = oneLine(`${"é".repeat(600)}`);
    assert.equal(capped, `${"é".repeat(500)}... (100 more characters)`);
  });

  it("deeply nested JSON in --task-config and --optimizer-config, and wrong types, are one-line usage errors", async () => {
    const deep = `${"[".repeat(30_000)}${"]".repeat(30_000)}`;
    const cases: Array<[string, string[], RegExp]> = [
      ["--task-config", ["run", "--task", "quadratic", "--optimizer", "adam", "--task-config", `{"dim":${deep}}`], /--task-config nests deeper than 32 levels/],
      ["--task-config", ["run", "--task", "mnist-mlp", "--optimizer", "adam", "--task-config", `{"hidden":${deep}}`], /--task-config nests deeper than 32 levels/],
      ["--optimizer-config", [...TRAIN, "--optimizer-config", `{"preprocess":${deep}}`, "--out", join(dir, "deep", "o.safetensors")], /--optimizer-config nests deeper/],
      ["'hidden'", [...TRAIN, "--optimizer-config", '{"hidden":"x"}', "--out", join(dir, "deep", "t.safetensors")], /'hidden' must be a positive integer, got "x"/],
      ["--meta-loss", [...TRAIN, "--meta-loss", "mean", "--out", join(dir, "deep", "m.safetensors")], /--meta-loss expects sum, log, logRatio, got 'mean'/],
      ["--horizon-sampling", [...TRAIN, "--horizon-sampling", "pareto", "--out", join(dir, "deep", "h.safetensors")], /--horizon-sampling expects fixed or logUniform, got 'pareto'/],
      ["--meta-loss-from", [...TRAIN, "--meta-loss-from", "11", "--out", join(dir, "deep", "f.safetensors")], /--meta-loss-from must be from 1 to --horizon \(10\), got '11'/],
      ["'nope'", [...TRAIN, "--optimizer", "nope", "--out", join(dir, "deep", "k.safetensors")], /unknown learned-optimizer kind 'nope'/],
      // Once refused as "hand-designed optimizer config: 'optimizer' must name a registered optimizer", a config never given.
      ["--optimizer", [...TRAIN, "--optimizer", "hand", "--out", join(dir, "deep", "hd.safetensors")], /--optimizer hand is a hand-designed optimizer, with no weights to meta-train; name a learned kind: lstm, mlp, hrnn, rl-policy$/m],
      ["--seed", ["eval", ...QUAD, "--optimizers", "adam", "--seed", "100000000000000000000"], /--seed must be an integer from/],
    ];
    const results = await runAll(cases.map(([, args]) => ({ args })));
    cases.forEach(([flag, args, msg], i) => assertRefused(results[i]!, flag, msg, `${args[0]} ${flag}`));
    assert.equal(existsSync(join(dir, "deep")), false);
    assert.throws(() => parseJsonObject("--task-config", `{"a":${"[".repeat(33)}${"]".repeat(33)}}`), /nests deeper than 32 levels/);
    assert.deepEqual(parseJsonObject("--task-config", '{"hidden":[20,20]}'), { hidden: [20, 20] });
  });
});
