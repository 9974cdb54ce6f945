/**
 * The figures of src/viz/: the SVG holds each series (legend entry, a line in its colour), the
 * PNG decoded pixel by pixel has the SVG's size times the scale, each series' colour and text
 * (dark pixels where the title and the legend's labels are: resvg found a font), and the
 * input a file holds is told from its content.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Resvg } from "@resvg/resvg-js";
import type { CandidateResult, EvalReport } from "../src/eval/evaluate.ts";
import {
  evalFigureSvg,
  figureFormat,
  FigureFormatError,
  figureInputKind,
  FigureInputError,
  MAX_DRAWN_POINTS,
  parseTrainingLog,
  SERIES_COLORS,
  svgToPng,
  TRAINING_SERIES,
  trainingFigureSvg,
  trainingSeries,
  type TrainingLogRecord,
} from "../src/viz/index.ts";
import { countPixels, decodePng, near, type DecodedPng } from "./png_decode.ts";

const row = (optimizer: string, lr: number | null, meanLoss: number[]): CandidateResult => ({
  optimizer,
  lr,
  meanLoss,
  ci95: meanLoss.map((x) => x / 4),
  finalMean: meanLoss[meanLoss.length - 1]!,
  finalCi95: 0,
  finalLosses: [1, 2],
  diverged: 0,
});
const decay = (from: number, rate: number, n = 21): number[] => Array.from({ length: n }, (_, t) => from * rate ** t);
const report: EvalReport = {
  task: "quadratic",
  steps: 20,
  instances: 2,
  seed: 7,
  results: [row("lstm:runs/q.safetensors", null, decay(10, 0.8)), row("adam", 0.1, decay(10, 0.9)), row("sgd@0.05", 0.05, decay(10, 0.95)), row("nag", 0.3, decay(1, 1).map(() => Infinity))],
};
const LABELS = ["lstm:runs/q.safetensors", "adam (lr 0.1)", "sgd (lr 0.05)", "nag (lr 0.3)"];

/** The SVG's line marks: their stroke colour and the series their first point belongs to. */
function lineMarks(svg: string): Array<{ color: string; label: string }> {
  return [...svg.matchAll(/<path aria-label="([^"]*)"[^>]*aria-roledescription="line mark"[^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => ({ label: m[1]!, color: m[2]! }));
}

const svgSize = (svg: string): { width: number; height: number } => {
  const m = /^<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg);
  assert.ok(m, "the SVG states its size");
  return { width: Number(m[1]), height: Number(m[2]) };
};

/** Dark pixels (text is drawn in black; axes and grid are grey) in a box given as fractions of the image. */
const darkIn = (png: DecodedPng, fx0: number, fy0: number, fx1: number, fy1: number): number =>
  countPixels(png, (r, g, b) => r < 90 && g < 90 && b < 90, {
    x0: Math.floor(fx0 * png.width),
    y0: Math.floor(fy0 * png.height),
    x1: Math.floor(fx1 * png.width),
    y1: Math.floor(fy1 * png.height),
  });

describe("the PNG decoder of these tests", () => {
  it("reads resvg's PNG back as the pixels resvg drew", () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="37" height="23"><rect width="37" height="23" fill="#fff"/><circle cx="12" cy="11" r="9" fill="#4c78a8"/><path d="M2,20L35,3" stroke="#e45756" stroke-width="3"/></svg>';
    const r = new Resvg(svg, { background: "white", logLevel: "off" }).render();
    const png = decodePng(new Uint8Array(r.asPng()));
    assert.equal(png.width, 37);
    assert.equal(png.height, 23);
    assert.deepEqual(png.pixels, new Uint8Array(r.pixels), "every pixel as drawn");
  });
});

describe("the evaluation figure", () => {
  it("has one legend entry and one line in its own colour per optimizer, and no line for one that diverged at once", async () => {
    const svg = await evalFigureSvg(report);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, />quadratic: 2 fresh instances, seed 7</);
    assert.match(svg, />mean loss \(log scale\)</);
    for (const label of LABELS) assert.equal(svg.split(`>${label}<`).length - 1, 1, `legend entry ${label} once`);
    const lines = lineMarks(svg);
    assert.deepEqual(
      lines.map((l) => l.color),
      SERIES_COLORS.slice(0, 3),
      "a line per drawable series, coloured in order",
    );
    LABELS.slice(0, 3).forEach((label, i) => assert.match(lines[i]!.label, new RegExp(`optimizer: ${label.replace(/[().]/g, "\\$&")}$`)));
    const linear = await evalFigureSvg(report, { linear: true, title: "a title" });
    assert.match(linear, />a title</);
    assert.match(linear, />mean loss</);
  });

  it("as a PNG: twice the SVG's size, each series' colour, and text in the title and the legend", async () => {
    const svg = await evalFigureSvg(report);
    const { width, height } = svgSize(svg);
    const png = decodePng(svgToPng(svg));
    assert.equal(png.width, 2 * width);
    assert.equal(png.height, 2 * height);
    // The corner is background.
    assert.deepEqual([...png.pixels.subarray(0, 4)], [255, 255, 255, 255]);
    SERIES_COLORS.slice(0, 3).forEach((color, i) => {
      const n = countPixels(png, near(color));
      assert.ok(n > 500, `series ${LABELS[i]} (${color}): ${n} pixels in its colour`);
    });
    // Text is black; nothing else is. The title sits in the top tenth, the legend right of the plot.
    assert.ok(darkIn(png, 0, 0, 1, 0.1) > 300, "the title is drawn");
    assert.ok(darkIn(png, 0.85, 0, 1, 0.4) > 300, "the legend's labels are drawn");
    assert.ok(darkIn(png, 0, 0.9, 1, 1) > 100, "the x axis title is drawn");
    const small = decodePng(svgToPng(svg, { scale: 1 }));
    assert.equal(small.width, width);
    assert.throws(() => svgToPng(svg, { scale: 0 }), /scale must be above 0/);
  });
});

/** A training log's records: 60 meta-iterations, 3 epochs and a cut fourth, a NaN and a repeated step. */
function trainingRecords(): TrainingLogRecord[] {
  const out: TrainingLogRecord[] = [];
  for (let i = 1; i <= 60; i++) {
    out.push({ step: i, name: "meta/loss", value: 20 * 0.97 ** i * (1 + 0.3 * Math.sin(i)), time: 1 });
    out.push({ step: i, name: "meta/grad_norm", value: 1, time: 1 });
    if (i % 20 === 0) {
      out.push({ step: i / 20, name: "meta/epoch_loss", value: 5, time: 1 });
      out.push({ step: i / 20, name: "valid/score", value: 10 / (i / 20), time: 1 });
    }
  }
  out.push({ step: 61, name: "meta/loss", value: "NaN", time: 1 });
  out.push({ step: 4, name: "valid/partial_score", value: 9, time: 1 });
  out.push({ step: 4, name: "valid/partial_score", value: 2.4, time: 1 });
  return out;
}

describe("the training figure", () => {
  it("reads each series of a log: finite values only, a repeated step's last value", () => {
    const s = trainingSeries(trainingRecords());
    assert.equal(s.metaLoss.length, 60, "the NaN meta-loss is left out");
    assert.deepEqual(s.validation.map((p) => [p.x, p.value]), [[1, 10], [2, 5], [3, 10 / 3]]);
    assert.deepEqual(s.partialValidation, [{ x: 4, value: 2.4 }]);
  });

  it("draws the meta-loss, its running mean and the validation scores, each with its legend entry and colour; as a PNG too", async () => {
    const svg = await trainingFigureSvg(trainingRecords());
    assert.match(svg, />meta-training: 60 meta-iterations, 3 epochs</);
    for (const t of ["meta-iteration", "meta-loss (log scale)", "epoch", "validation score (lower is better)", "running mean over 3 meta-iterations"]) assert.match(svg, new RegExp(`>${t.replace(/[()]/g, "\\$&")}<`), t);
    const series = Object.values(TRAINING_SERIES);
    for (const s of series) assert.equal(svg.split(`>${s.label}<`).length - 1, 1, `legend entry ${s.label}`);
    const lines = lineMarks(svg);
    assert.deepEqual(lines.map((l) => l.color).sort(), series.map((s) => s.color).sort(), "one line per series in its colour");
    for (const l of lines) assert.match(l.label, new RegExp(`series: (${series.map((s) => s.label).join("|")})$`));
    const png = decodePng(svgToPng(svg));
    assert.equal(png.width, 2 * svgSize(svg).width);
    for (const s of series.slice(0, 3)) assert.ok(countPixels(png, near(s.color)) > 200, `${s.label} drawn in ${s.color}`);
    assert.ok(darkIn(png, 0, 0, 0.5, 0.1) > 300, "the title is drawn");
    assert.ok(darkIn(png, 0, 0.88, 1, 1) > 200, "the legend's labels are drawn");
  });

  it("draws a long run with at most MAX_DRAWN_POINTS points per line, and says so", async () => {
    const n = 5 * MAX_DRAWN_POINTS;
    const records = Array.from({ length: n }, (_, i) => ({ step: i + 1, name: "meta/loss", value: 10 / (i + 1) }));
    const svg = await trainingFigureSvg(records);
    assert.match(svg, />running mean over 500 meta-iterations; 1 in 5 meta-iterations drawn</);
    const d = [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => m[1]!);
    assert.equal(d.length, 2, "the meta-loss and its running mean");
    for (const path of d) assert.equal(path.split("L").length, MAX_DRAWN_POINTS + 1, "every 5th point and the last");
  });

  it("draws only the validation when no meta-loss was logged, and refuses a log with nothing to draw", async () => {
    const svg = await trainingFigureSvg(trainingRecords().filter((r) => r.name !== "meta/loss"));
    assert.doesNotMatch(svg, />meta-iteration</);
    assert.match(svg, />validation score</);
    await assert.rejects(() => trainingFigureSvg([{ step: 1, name: "meta/loss", value: "NaN" }]), FigureInputError);
  });
});

describe("what a file to draw holds", () => {
  const log = trainingRecords().map((r) => JSON.stringify(r)).join("\n") + "\n";

  it("tells an evaluation report from a training log by content", () => {
    assert.equal(figureInputKind(JSON.stringify(report, null, 2), "r.json"), "eval-report");
    assert.equal(figureInputKind(log, "t.jsonl"), "training-log");
    assert.equal(figureInputKind(log.split("\n")[0]!, "one-line.jsonl"), "training-log", "a log of one line is JSON too");
    for (const [what, text] of [["text", "hello"], ["a list", "[1,2]"], ["another object", '{"a":1}'], ["binary", "\u0000\u0001safetensors"], ["empty", ""]]) {
      assert.throws(() => figureInputKind(text!, "x.bin"), (e: unknown) => e instanceof FigureInputError && /x\.bin is neither an evaluation report .* nor a training log/.test(e.message), what);
    }
  });

  it("reads a training log, skipping a last line cut short and naming a bad line elsewhere", () => {
    assert.equal(parseTrainingLog(log + '{"step":62,"na', "t.jsonl").length, trainingRecords().length);
    const lines = log.split("\n");
    lines[1] = "{oops";
    assert.throws(() => parseTrainingLog(lines.join("\n"), "t.jsonl"), /t\.jsonl:2 is not a JSON line/);
    assert.throws(() => parseTrainingLog('{"step":1,"name":"other","value":1}\n', "t.jsonl"), /t\.jsonl has no meta\/loss, valid\/score, valid\/partial_score lines/);
  });

  it("writes a figure as SVG or PNG by its extension, any case, and refuses another", () => {
    assert.equal(figureFormat("a/fig.svg", "--out"), "svg");
    assert.equal(figureFormat("fig.PNG", "--out"), "png");
    assert.throws(() => figureFormat("fig.jpg", "--out"), (e: unknown) => e instanceof FigureFormatError && e.message === "--out fig.jpg ends in .jpg: a figure is written as .svg or .png, chosen by the extension");
    assert.throws(() => figureFormat("figure", "--plot"), /--plot figure has no extension: a figure is written as \.svg or \.png/);
  });
});
