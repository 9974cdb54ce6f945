/**
 * The progress of the CLI (src/cli/progress.ts) in-process: durations and estimates, the
 * interval setting, the bar drawn to a stream that says it is a terminal (every field filled
 * from the start: no raw `{...}` template, the old train bar's fault) and the plain lines to one
 * that is not.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { estimate, formatDuration, progress, progressInterval } from "../src/cli/progress.ts";

/** A stream that collects what is written to it, a terminal of 120 columns or not. */
function sink(isTTY: boolean): PassThrough & { isTTY: boolean; columns: number; text(): string } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; text(): string };
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString("utf8")));
  Object.assign(s, { isTTY, columns: 120, text: () => text });
  return s;
}
/** Longer than the bar's redraw throttle (cli-progress: 10 frames a second). */
const redraw = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

describe("progress", () => {
  const saved = process.env.L2O_PROGRESS_INTERVAL;
  afterEach(() => {
    if (saved === undefined) delete process.env.L2O_PROGRESS_INTERVAL;
    else process.env.L2O_PROGRESS_INTERVAL = saved;
  });

  it("writes durations as a person reads them", () => {
    assert.deepEqual([0.04, 4.23, 45, 185, 7620, Infinity].map(formatDuration), ["0.0s", "4.2s", "45s", "3m 05s", "2h 07m", "unknown"]);
  });

  it("estimates the time left from the work done, or from a time limit that comes first", () => {
    assert.deepEqual(estimate(5, 10, 10), { fraction: 0.5, left: 10 });
    assert.deepEqual(estimate(5, 1000, 10, 20), { fraction: 0.5, left: 10 }, "the limit ends the work first");
    assert.deepEqual(estimate(500, 1000, 10, 100), { fraction: 0.5, left: 10 }, "the work ends first");
    assert.equal(estimate(0, 10, 3).left, Infinity, "nothing done: unknown");
  });

  it("reads L2O_PROGRESS_INTERVAL as seconds above 0 (default 5) and refuses anything else in one line", () => {
    assert.equal(progressInterval({}), 5);
    assert.equal(progressInterval({ L2O_PROGRESS_INTERVAL: "0.25" }), 0.25);
    for (const bad of ["0", "-1", "x", "1e3", "0x10"]) assert.throws(() => progressInterval({ L2O_PROGRESS_INTERVAL: bad }), /L2O_PROGRESS_INTERVAL must be a number of seconds above 0/, bad);
  });

  it("on a terminal draws a bar with every field filled from the start, and clears it at the end", async () => {
    const out = sink(true);
    const p = progress({ phase: "meta-training, epoch 1 of 2", total: 40, unit: "meta-iterations", stream: out });
    try {
      assert.match(out.text(), /meta-training, epoch 1 of 2 .* 0\/40 meta-iterations \(0%\) \| [\d.]+s elapsed, unknown left/);
      p.update(10, { phase: "meta-training, epoch 2 of 2", detail: "meta-loss 1.234" });
      await redraw();
      assert.match(out.text(), /meta-training, epoch 2 of 2 .* 10\/40 meta-iterations \(25%\) \| [\d.]+s elapsed, about [\d.]+s left \| meta-loss 1\.234/);
    } finally {
      p.stop();
    }
    assert.doesNotMatch(out.text(), /[{}]/, "no raw template ever");
  });

  it("off a terminal writes a plain line at most every interval, and nothing with quiet", async () => {
    // An interval long enough that update(6) always follows update(5) within it, even on a
    // loaded machine (at 1 ms the two were sometimes written both).
    process.env.L2O_PROGRESS_INTERVAL = "0.2";
    const out = sink(false);
    const p = progress({ phase: "testing adam", total: 20, unit: "runs", stream: out });
    p.update(1);
    await new Promise((r) => setTimeout(r, 250));
    p.update(5);
    p.update(6); // within the interval of the line before: not written
    p.stop();
    assert.match(out.text(), /^l2o: testing adam: 5\/20 runs \(25%\), [\d.]+s elapsed, about [\d.]+s left\n$/);
    process.env.L2O_PROGRESS_INTERVAL = "1000";
    const quiet = sink(false);
    const q = progress({ phase: "testing adam", total: 20, unit: "runs", stream: quiet, quiet: true });
    q.update(20);
    q.stop();
    assert.equal(quiet.text(), "");
  });
});
