/**
 * The adaptive KL step: an accurate model grows the bound, an improvement of half the predicted
 * one keeps it, a smaller one or a loss shrinks it, and the changes stay in their clamps.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextStepMult, STEP_DEFAULTS } from "../src/rl/step_size.ts";

describe("adaptive KL step", () => {
  it("grows the step when the actual improvement matches the prediction", () => {
    // predicted 1, actual 0.9: ratio 1 / (2 * 0.1) = 5 (the clamp).
    assert.equal(nextStepMult(1, 1, 0.9), 5);
    // predicted 1, actual 0.75: ratio 2.
    assert.ok(Math.abs(nextStepMult(1, 1, 0.75) - 2) < 1e-12);
  });

  it("keeps the step when the actual improvement is half the predicted one", () => {
    assert.ok(Math.abs(nextStepMult(0.3, 2, 1) - 0.3) < 1e-12);
  });

  it("shrinks the step when the improvement falls short or the cost rises", () => {
    // actual 0.25 of predicted: ratio 1 / (2 * 0.75) = 2/3.
    assert.ok(Math.abs(nextStepMult(1, 1, 0.25) - 2 / 3) < 1e-12);
    // a loss: actual -1, ratio 1 / 4.
    assert.ok(Math.abs(nextStepMult(1, 1, -1) - 0.25) < 1e-12);
    // a large loss: clamped at 0.1 per iteration.
    assert.ok(Math.abs(nextStepMult(1, 1, -100) - 0.1) < 1e-12);
    // a predicted rise (the step was expected to make things worse): shrink as far as allowed.
    assert.ok(Math.abs(nextStepMult(1, -1, -2) - 0.1) < 1e-12);
    // non-finite estimates shrink as well.
    assert.ok(Math.abs(nextStepMult(1, NaN, 0) - 0.1) < 1e-12);
  });

  it("grows when the actual improvement beats the prediction, within the multiplier's range", () => {
    assert.equal(nextStepMult(1, 1, 3), 5);
    assert.equal(nextStepMult(8, 1, 1), STEP_DEFAULTS.maxMult);
    assert.equal(nextStepMult(0.011, 1, -100), STEP_DEFAULTS.minMult);
  });
});
