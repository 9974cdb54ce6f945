import { test } from "node:test";
import assert from "node:assert/strict";
import { summarize, summarizeSteps, tQuantile975 } from "../src/eval/stats.ts";

test("summarize: mean, sample std and t-based 95% interval worked by hand", () => {
  // xs = 1, 2, 3, 4: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; var = 5/3;
  // std = 1.290994; ci95 = t(3) * std / sqrt(4) = 3.182 * 1.290994 / 2 = 2.054
  const s = summarize([1, 2, 3, 4]);
  assert.equal(s.n, 4);
  assert.equal(s.mean, 2.5);
  assert.ok(Math.abs(s.std - Math.sqrt(5 / 3)) < 1e-12);
  assert.ok(Math.abs(s.ci95 - (3.182 * Math.sqrt(5 / 3)) / 2) < 1e-9);
});

test("summarize: a single run has no interval, an empty one no mean", () => {
  assert.ok(Number.isNaN(summarize([3]).ci95));
  assert.equal(summarize([3]).mean, 3);
  assert.ok(Number.isNaN(summarize([]).mean));
});

test("tQuantile975 approaches the normal quantile and matches the table at 30", () => {
  assert.equal(tQuantile975(30), 2.042);
  assert.ok(Math.abs(tQuantile975(31) - 2.04) < 2e-3);
  assert.ok(Math.abs(tQuantile975(100000) - 1.96) < 1e-3);
  assert.ok(tQuantile975(40) < tQuantile975(31));
});

test("summarizeSteps summarises each step across runs and rejects ragged runs", () => {
  const s = summarizeSteps([
    [1, 10],
    [3, 30],
  ]);
  assert.deepEqual(
    s.map((x) => x.mean),
    [2, 20],
  );
  assert.throws(() => summarizeSteps([[1, 2], [1]]), /different lengths/);
});

test("comparePaired counts wins and summarises the log10 advantage per instance", async () => {
  const { comparePaired } = await import("../src/eval/paired.ts");
  // a beats b on instances 0 and 2; log10 advantages: log10(10/1) = 1, log10(1/10) = -1, log10(100/1) = 2.
  const c = comparePaired([1, 10, 1], [10, 1, 100]);
  assert.equal(c.wins, 2);
  assert.equal(c.n, 3);
  assert.ok(Math.abs(c.log10Advantage.mean - 2 / 3) < 1e-12);
  assert.throws(() => comparePaired([1], [1, 2]), /instances/);
});
