/**
 * `l2o generalize` and its library: a grid cell holds what a direct evaluation of that network
 * gives (best tuned baseline, ratio, paired comparison); done cells are kept; the command
 * refuses bad input with one line and exit 2, writes its report after every cell and resumes
 * a killed sweep; the figure draws one labelled cell per network.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { candidateFor } from "../src/eval/candidates.ts";
import { evaluate, type CandidateResult, type EvalReport } from "../src/eval/evaluate.ts";
import { cellFromReport, cellLabel, generalizationGrid, type GridCell, type GridPoint, type GridReport } from "../src/eval/grid.ts";
import { comparePaired } from "../src/eval/paired.ts";
import { taskFamily } from "../src/tasks/registry.ts";
import { gridFigureSvg } from "../src/viz/grid_figure.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
const dir = mkdtempSync(join(tmpdir(), "l2o-generalize-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A row of a made-up report: its final losses are all a test needs. */
function row(optimizer: string, finalLosses: number[], lr: number | null = 0.1): CandidateResult {
  const finalMean = finalLosses.reduce((a, b) => a + b, 0) / finalLosses.length;
  return { optimizer, lr, meanLoss: [1, finalMean], ci95: [0, 0], finalMean, finalCi95: 0, finalLosses, diverged: finalLosses.filter((x) => !Number.isFinite(x)).length };
}
const report = (...results: CandidateResult[]): EvalReport => ({ task: "t", steps: 1, instances: results[0]!.finalLosses.length, seed: 0, results });

describe("a grid cell from an evaluation", () => {
  it("takes the baseline with the lowest mean as the best, wherever it is listed, and pairs the optimizer with it", () => {
    const learned = row("mnist", [0.5, 0.6, 0.4, 0.5], null);
    const adam = row("adam", [0.9, 1.0, 1.1, 1.0]);
    const nag = row("nesterov", [0.6, 0.7, 0.5, 0.6]);
    const c = cellFromReport({ layers: 2, units: 40 }, report(learned, adam, nag), 3);
    assert.equal(c.best, "nesterov");
    assert.equal(c.ratio, learned.finalMean / nag.finalMean);
    assert.deepEqual(c.paired, comparePaired(learned.finalLosses, nag.finalLosses));
    assert.equal(c.paired.wins, 4);
    assert.equal(c.lower, "learned");
    assert.equal(cellLabel(c), `${c.ratio.toFixed(2)}*`);
    assert.deepEqual([c.layers, c.units, c.seconds], [2, 40, 3]);
  });

  it("says which side the paired interval lies on, and level when it holds zero", () => {
    const worse = cellFromReport({ layers: 1, units: 5 }, report(row("x", [2, 2.2, 1.9]), row("sgd", [1, 1.1, 0.9])), 0);
    assert.equal(worse.lower, "baseline");
    assert.ok(worse.ratio > 1);
    const mixed = cellFromReport({ layers: 1, units: 5 }, report(row("x", [1, 2, 1]), row("sgd", [2, 1, 1.1])), 0);
    assert.equal(mixed.lower, "level");
    assert.doesNotMatch(cellLabel(mixed), /\*/);
  });

  it("keeps a diverged optimizer as an infinite ratio and the baseline lower when it beats it everywhere", () => {
    const c = cellFromReport({ layers: 1, units: 5 }, report(row("x", [Infinity, 3, 4]), row("sgd", [1, 1, 1])), 0);
    assert.equal(c.ratio, Infinity);
    assert.equal(c.lower, "baseline");
    assert.equal(cellLabel(c), "Infinity*");
  });
});

describe("generalizationGrid", () => {
  const familyFor = (p: GridPoint) => taskFamily("mnist-mlp", { hidden: Array<number>(p.layers).fill(p.units) });
  const opts = { steps: 3, instances: 3, tuneInstances: 1, seed: 5, lrGrid: [0.3, 1] };
  const candidates = () => ({ learned: candidateFor("mnist", { engine: "wasm-simd", threads: 1 }), baselines: [candidateFor("adam"), candidateFor("sgd")] });

  it("gives each cell what a direct evaluation of its network gives, reports its work and hands over the cells as they come", () => {
    const { learned, baselines } = candidates();
    const seen: number[] = [];
    let lastWork = { done: -1, total: 0 };
    const cells = generalizationGrid(familyFor, learned, baselines, {
      ...opts,
      layers: [1, 2],
      units: [2],
      onCell: (sofar) => seen.push(sofar.length),
      onRun: (p) => {
        assert.ok(p.workDone >= lastWork.done && p.workDone <= p.workTotal);
        lastWork = { done: p.workDone, total: p.workTotal };
      },
    });
    assert.deepEqual(seen, [1, 2]);
    assert.equal(lastWork.done, lastWork.total);
    assert.deepEqual(cells.map((c) => [c.layers, c.units]), [[1, 2], [2, 2]]);
    const fresh = candidates();
    const direct = evaluate(familyFor({ layers: 2, units: 2 }), [fresh.learned, ...fresh.baselines], opts);
    const [l, ...bs] = direct.results;
    const best = bs.reduce((a, b) => (b.finalMean < a.finalMean ? b : a));
    const cell = cells[1]!;
    assert.deepEqual(cell.learned.finalLosses, l!.finalLosses);
    assert.deepEqual(cell.baselines.map((b) => [b.optimizer, b.lr, b.finalLosses]), bs.map((b) => [b.optimizer, b.lr, b.finalLosses]));
    assert.equal(cell.best, best.optimizer);
    assert.equal(cell.ratio, l!.finalMean / best.finalMean);
    assert.deepEqual(cell.paired, comparePaired(l!.finalLosses, best.finalLosses));
    // The two networks are different tasks: their losses differ.
    assert.notDeepEqual(cells[0]!.learned.finalLosses, cell.learned.finalLosses);
  });

  it("keeps the cells given as done and runs only the others", () => {
    const { learned, baselines } = candidates();
    const done = { ...cellFromReport({ layers: 1, units: 2 }, report(row("mnist", [1, 1, 1], null), row("adam", [2, 2, 2]), row("sgd", [3, 3, 3])), 9) };
    const ran: string[] = [];
    const cells = generalizationGrid(familyFor, learned, baselines, {
      ...opts,
      layers: [1],
      units: [3, 2],
      done: [done],
      onRun: (p) => ran.push(`${p.point.layers}x${p.point.units}`),
    });
    assert.deepEqual([...new Set(ran)], ["1x3"]);
    assert.deepEqual(cells.map((c) => c.units), [3, 2]);
    assert.equal(cells[1], done);
  });
});

/** A made-up report of a 2 x 3 grid with five cells done. */
function gridReport(): GridReport {
  const cells: GridCell[] = [];
  const ratios: Record<string, number> = { "1x5": 0.5, "1x20": 0.95, "1x80": 2, "2x5": 1.2, "2x20": 0.83 };
  for (const [k, r] of Object.entries(ratios)) {
    const [layers, units] = k.split("x").map(Number) as [number, number];
    const base = [1, 1.1, 0.9, 1.05];
    const c = cellFromReport({ layers, units }, report(row("mnist", base.map((x) => x * r), null), row("nesterov", base)), 1);
    cells.push(k === "1x20" ? { ...c, lower: "level" } : c);
  }
  return {
    task: "mnist-mlp", taskConfig: { activation: "sigmoid" }, optimizer: "mnist", baselines: ["nesterov"], layers: [1, 2], units: [5, 20, 80],
    steps: 200, instances: 4, tuneInstances: 1, seed: 0, lrGrid: [1], engine: "wasm", cells, complete: false,
  };
}

describe("the grid figure", () => {
  it("draws one labelled cell per network, coloured blue where the optimizer is lower and red where the baseline is", async () => {
    const svg = await gridFigureSvg(gridReport());
    const labels = [...svg.matchAll(/aria-label="units per hidden layer: (\d+); hidden layers: (\d+); label: ([^"]*)"/g)].map((m) => `${m[2]}x${m[1]} ${m[3]}`);
    assert.deepEqual(labels.sort(), ["1x20 0.95", "1x5 0.50*", "1x80 2.00*", "2x20 0.83*", "2x5 1.20*", "2x80 not run"]);
    const fills = new Map(
      [...svg.matchAll(/aria-label="units per hidden layer: (\d+); hidden layers: (\d+); log10 ratio[^"]*"[^>]*fill="rgb\((\d+), (\d+), (\d+)\)"/g)].map((m) => [
        `${m[2]}x${m[1]}`,
        [Number(m[3]), Number(m[5])],
      ]),
    );
    assert.equal(fills.size, 5);
    const [r05, b05] = fills.get("1x5")!;
    const [r2, b2] = fills.get("1x80")!;
    assert.ok(b05! > r05!, `ratio 0.5 is blue: ${fills.get("1x5")}`);
    assert.ok(r2! > b2!, `ratio 2 is red: ${fills.get("1x80")}`);
    assert.match(svg, /nesterov/);
  });
});

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `l2o generalize ...args`; `onStart` gets the child (to stop it). */
function generalize(args: string[], onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "generalize", ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    onStart?.(child);
  });
}

describe("l2o generalize", () => {
  it("refuses bad input with one error line and exit code 2", async () => {
    const other = join(dir, "other.json");
    writeFileSync(other, JSON.stringify({ ...gridReport(), steps: 100 }));
    const cases: Array<[string[], RegExp]> = [
      [["--layers", "1,9"], /--layers must be from 1 to 8, got '9'/],
      [["--units", "20,2000"], /--units must be from 1 to 1,024, got '2000'/],
      [["--units", "20,20"], /--units lists 20 twice/],
      [["--activation", "gelu"], /--activation expects one of sigmoid, relu, tanh, got 'gelu'/],
      [["--baselines", "adam,mnist"], /--baselines lists mnist, the --optimizer itself/],
      [["--baselines", "nag,nesterov"], /--baselines lists nesterov twice/],
      [["--plot", join(dir, "g.pdf")], /--plot .* ends in \.pdf/],
      [["--resume"], /--resume needs --json/],
      [["--json", other, "--resume", "--steps", "3", "--baselines", "nag", "--lr-grid", "1", "--instances", "4", "--tune-instances", "1"], /--resume: .* was made with steps 100, this run has 3/],
    ];
    const results = await Promise.all(cases.map(([args]) => generalize(args)));
    results.forEach((r, i) => {
      const [args, msg] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, ${r.stderr}`);
      assert.match(r.stderr, /^l2o: error: [^\n]+\n$/, args.join(" "));
      assert.match(r.stderr, msg, args.join(" "));
    });
  });

  it("writes the report after every cell, so that a killed sweep resumes where it stopped", async () => {
    const json = join(dir, "grid.json");
    const common = ["--steps", "20", "--instances", "2", "--tune-instances", "1", "--lr-grid", "0.3", "--baselines", "sgd", "--engine", "wasm-simd", "--threads", "1", "--json", json, "--quiet"];
    // A small network, then a large one: the report is read as soon as the first cell is in it, and the run stopped.
    let partial: GridReport | undefined;
    const killed = await generalize([...common, "--layers", "1", "--units", "2,400"], (child) => {
      const poll = setInterval(() => {
        if (!existsSync(json)) return;
        partial = JSON.parse(readFileSync(json, "utf8")) as GridReport;
        clearInterval(poll);
        child.kill("SIGKILL");
      }, 5);
      child.on("close", () => clearInterval(poll));
    });
    assert.equal(killed.code, null, `the run ended before it was stopped: ${killed.stdout}`);
    assert.ok(partial !== undefined);
    assert.equal(partial.complete, false);
    assert.deepEqual(partial.cells.map((c) => [c.layers, c.units]), [[1, 2]]);
    assert.equal(partial.cells[0]!.learned.finalLosses.length, 2);

    // Resumed on another part of the grid: the first cell is kept although this run's grid lacks it.
    const resumed = await generalize([...common, "--layers", "1", "--units", "3", "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const merged = JSON.parse(readFileSync(json, "utf8")) as GridReport;
    assert.deepEqual([merged.layers, merged.units, merged.complete], [[1], [2, 3, 400], false]);
    assert.deepEqual(merged.cells.map((c) => [c.layers, c.units]), [[1, 2], [1, 3]]);
    assert.deepEqual(merged.cells[0], partial.cells[0], "the resumed cell is kept as it was");
    const label = (c: GridCell): string => cellLabel(c).replace("*", "\\*");
    assert.match(resumed.stdout, new RegExp(`^1 +${label(merged.cells[0]!)} +${label(merged.cells[1]!)} +-$`, "m"));
  });
});
