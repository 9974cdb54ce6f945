/**
 * What a user sees of the figures and the progress, through the CLI as a user runs it (standard
 * error piped, so not a terminal): `l2o plot` writes SVG or PNG by --out's extension, draws a
 * training log too, and refuses another extension or a file that is neither kind; `eval --plot`
 * writes the figure; eval, train and run write plain progress lines (L2O_PROGRESS_INTERVAL set
 * small so these short runs show some) with done/total and no raw template, and --quiet none.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodePng } from "./png_decode.ts";
import { l2o, l2oEnv, assertInputError, type Result } from "./cli_run.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
const dir = mkdtempSync(join(tmpdir(), "l2o-cli-viz-"));
after(() => rmSync(dir, { recursive: true, force: true }));


/** A progress line at (almost) every update: these runs take a fraction of a second, and a fast machine would skip a phase between lines 10 ms apart. */
const FAST = { L2O_PROGRESS_INTERVAL: "0.000001" };
const PROGRESS_LINE =
  /^l2o: (.+?): (?:(\d+)\/(\d+) (?:runs|meta-iterations) \(\d+%\)|(\d+) meta-iterations \(\d+% of the [\d.]+s time limit\)), [\d.]+s elapsed, (?:about [\dhms. ]+|unknown) left(?:, meta-loss [-\d.e+]+)?$/;

/** The progress lines of `stderr` (every line must be one), each with its phase, done and total (NaN against a time limit). */
function progressLines(stderr: string, what: string): Array<{ phase: string; done: number; total: number }> {
  const lines = stderr.split("\n").filter((l) => l !== "");
  for (const l of lines) {
    assert.doesNotMatch(l, /[{}]/, `${what}: a raw template in ${l}`);
    assert.match(l, PROGRESS_LINE, `${what}: not a progress line: ${l}`);
  }
  return lines.map((l) => {
    const m = PROGRESS_LINE.exec(l)!;
    return { phase: m[1]!, done: Number(m[2] ?? m[4]), total: Number(m[3] ?? NaN) };
  });
}

const EVAL = ["eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--steps", "40", "--instances", "20", "--seed", "3"];
const TRAIN = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--hidden", "6", "--epochs", "2", "--horizons-per-epoch", "4", "--horizon", "20", "--unroll", "5", "--validation-tasks", "2", "--engine", "ref"];

describe("figures and progress through the CLI", () => {
  const report = join(dir, "report.json");
  const log = join(dir, "train.jsonl");
  let evalRun: Result;
  let trainRun: Result;
  before(async () => {
    [evalRun, trainRun] = await Promise.all([
      l2oEnv(FAST, ...EVAL, "--optimizers", "adam,sgd@0.05,nag", "--lr-grid", "1,0.1,0.01", "--json", report, "--plot", join(dir, "eval-fig.png")),
      l2oEnv(FAST, ...TRAIN, "--out", join(dir, "t.safetensors"), "--log", log),
    ]);
    assert.equal(evalRun.code, 0, evalRun.stderr);
    assert.equal(trainRun.code, 0, trainRun.stderr);
  });

  it("eval shows its progress off a terminal: tuning, then testing, with done/total runs, never a template", () => {
    const lines = progressLines(evalRun.stderr, "eval");
    assert.ok(lines.length >= 2, `progress lines: ${evalRun.stderr}`);
    // 2 tuned optimizers x 3 rates x 5 tuning instances, and 3 x 20 test runs.
    for (const l of lines) assert.equal(l.total, 2 * 3 * 5 + 3 * 20);
    assert.ok(lines.some((l) => /^tuning (adam|nag)'s learning rate \(trying [\d.]+\), optimizer [13] of 3$/.test(l.phase)), "a tuning line");
    assert.ok(lines.some((l) => /^testing (adam|sgd@0\.05|nag), optimizer [123] of 3$/.test(l.phase)), "a testing line");
    const done = lines.map((l) => l.done);
    assert.deepEqual(done, [...done].sort((a, b) => a - b), "done only grows");
  });

  it("eval --plot writes the loss figure beside the report, a PNG of the three optimizers' colours", () => {
    assert.match(evalRun.stdout, /report written to .*report\.json\nfigure written to .*eval-fig\.png\n/);
    const png = decodePng(readFileSync(join(dir, "eval-fig.png")));
    assert.ok(png.width > 1000 && png.height > 600, `${png.width}x${png.height}`);
  });

  it("train shows meta-iterations done of those planned, the epoch and the meta-loss", () => {
    const lines = progressLines(trainRun.stderr, "train");
    assert.ok(lines.length >= 1, `progress lines: ${trainRun.stderr}`);
    for (const l of lines) {
      assert.equal(l.total, 2 * 4 * 4, "epochs x horizons x truncations");
      assert.match(l.phase, /^meta-training, epoch [12] of 2$/);
    }
    assert.match(trainRun.stderr, /, meta-loss [\d.]+/);
  });

  it("--quiet silences the progress of eval, train and run", async () => {
    const [e, t, r] = await Promise.all([
      l2oEnv(FAST, ...EVAL, "--optimizers", "adam", "--lr-grid", "1,0.1", "--quiet"),
      l2oEnv(FAST, ...TRAIN, "--out", join(dir, "quiet.safetensors"), "--quiet"),
      l2oEnv(FAST, "run", "--task", "quadratic", "--optimizer", "adam", "--steps", "100", "--instances", "200", "--quiet"),
    ]);
    for (const [x, what] of [[e, "eval"], [t, "train"], [r, "run"]] as const) {
      assert.equal(x.code, 0, x.stderr);
      assert.equal(x.stderr, "", `${what} --quiet`);
    }
  });

  it("run shows its progress, and a bad L2O_PROGRESS_INTERVAL is refused in one line", async () => {
    const args = ["run", "--task", "quadratic", "--optimizer", "adam", "--steps", "100", "--instances", "200"];
    const [r, bad] = await Promise.all([l2oEnv(FAST, ...args), l2oEnv({ L2O_PROGRESS_INTERVAL: "soon" }, ...args)]);
    assert.equal(r.code, 0, r.stderr);
    const lines = progressLines(r.stderr, "run");
    assert.ok(lines.length >= 1 && lines.every((l) => l.total === 200 && l.phase === "running adam on 200 instances"), r.stderr);
    assertInputError(bad, /L2O_PROGRESS_INTERVAL must be a number of seconds above 0, got 'soon'/, "bad interval");
  });

  it("demo shows its training against the time limit, then its evaluation", async () => {
    const r = await l2oEnv(FAST, "demo", "--seconds", "0.5", "--instances", "3", "--out", join(dir, "demo.safetensors"));
    assert.equal(r.code, 0, r.stderr);
    const lines = progressLines(r.stderr, "demo");
    assert.ok(lines.some((l) => /^meta-training, epoch \d+$/.test(l.phase) && Number.isNaN(l.total)), `training lines against the time limit: ${r.stderr}`);
    assert.ok(lines.some((l) => /^(tuning|testing) /.test(l.phase) && l.total === 4 * 11 * 10 + 5 * 3), `evaluation lines: ${r.stderr}`);
  });

  it("plot writes SVG or PNG by --out's extension, draws a training log, and refuses another extension or a file of neither kind", async () => {
    const neither = join(dir, "neither.txt");
    writeFileSync(neither, "step,loss\n1,2\n");
    const [svg, png, logPng, jpg, none, mixed, evalGif] = await Promise.all([
      l2o("plot", report, "--out", join(dir, "fig.svg")),
      l2o("plot", report, "--out", join(dir, "fig.png")),
      l2o("plot", log, "--out", join(dir, "log.png"), "--title", "a short training"),
      l2o("plot", report, "--out", join(dir, "fig.jpg")),
      l2o("plot", neither, "--out", join(dir, "neither.svg")),
      l2o("plot", report, log, "--out", join(dir, "mixed.svg")),
      l2o(...EVAL, "--optimizers", "adam", "--plot", join(dir, "fig.gif")),
    ]);
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stdout, /figure written to .*fig\.svg \(3 optimizers, 40 steps\)/);
    assert.match(readFileSync(join(dir, "fig.svg"), "utf8"), /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal(png.code, 0, png.stderr);
    assert.equal(png.stderr, "", "a font was found: no warning");
    const bytes = readFileSync(join(dir, "fig.png"));
    const decoded = decodePng(bytes);
    const w = Number(/width="(\d+)"/.exec(readFileSync(join(dir, "fig.svg"), "utf8"))![1]);
    assert.equal(decoded.width, 2 * w, "the PNG is the SVG at twice its size");
    assert.equal(logPng.code, 0, logPng.stderr);
    assert.match(logPng.stdout, /figure written to .*log\.png \(32 meta-iterations, 2 epochs\)/);
    assert.ok(decodePng(readFileSync(join(dir, "log.png"))).width > 1000);
    assertInputError(jpg, /--out .*fig\.jpg ends in \.jpg: a figure is written as \.svg or \.png/, "plot --out fig.jpg");
    assert.equal(existsSync(join(dir, "fig.jpg")), false, "nothing written");
    assertInputError(none, /neither\.txt is neither an evaluation report .* nor a training log/, "a file of neither kind");
    assertInputError(mixed, /train\.jsonl is a training log and .*report\.json an evaluation report/, "a report and a log");
    assertInputError(evalGif, /--plot .*fig\.gif ends in \.gif: a figure is written as \.svg or \.png/, "eval --plot fig.gif");
    assert.equal(evalGif.stdout, "", "refused before any work");
  });
});
