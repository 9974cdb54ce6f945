import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as l2o from "../src/index.ts";
import { ConfigError, L2oError, NonFiniteGradientError, shownValue } from "../src/core/errors.ts";
import { UsageError } from "../src/cli/errors.ts";
import { DataError } from "../src/data/idx.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import { MissingFileError } from "../src/io/files.ts";
import { KernelUnavailableError } from "../src/kernels/select.ts";
import { MlpKernelUnavailableError } from "../src/tasks/mlp_wasm.ts";
import { EngineMemoryError } from "../src/kernels/wasm.ts";
import { RuleKernelUnavailableError } from "../src/kernels/rules.ts";

describe("user errors", () => {
  it("every error class a user can cause extends L2oError and carries its own name", () => {
    const classes = [
      UsageError,
      ConfigError,
      NonFiniteGradientError,
      DataError,
      FileFormatError,
      MissingFileError,
      KernelUnavailableError,
      MlpKernelUnavailableError,
      EngineMemoryError,
      RuleKernelUnavailableError,
    ];
    for (const C of classes) {
      const e = new C("x");
      assert.ok(e instanceof L2oError, C.name);
      assert.ok(e instanceof Error, C.name);
      assert.equal(e.name, C.name);
      assert.equal(e.message, "x");
    }
    assert.equal(new L2oError("x").name, "L2oError");
    assert.equal(new DataError("x", "/some/file").path, "/some/file");
    assert.equal(new FileFormatError("x", { path: "/some/file" }).path, "/some/file");
    assert.equal(new MissingFileError("x", { cause: "why" }).cause, "why");
  });

  it("the public API's input mistakes are ConfigErrors (an L2oError), so a caller tells them from bugs with one instanceof", () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["an unknown task", () => l2o.taskFamily("quadratc"), /unknown task 'quadratc'; known tasks: quadratic/],
      ["an unknown task config key", () => l2o.taskFamily("quadratic", { dimm: 3 }), /quadratic: unknown config key 'dimm'/],
      ["a task config of the wrong kind", () => l2o.taskFamily("quadratic", { dim: "10" }), /config key 'dim' must be a number, got "10"/],
      ["a NaN learning rate", () => l2o.adam(NaN), /adam: the learning rate must be a finite number > 0, got NaN/],
      ["a negative learning rate", () => l2o.sgd(-1), /sgd: the learning rate must be a finite number > 0, got -1/],
      ["a decay of 1", () => l2o.rmsprop(0.01, { decay: 1 }), /rmsprop: .* must be in \[0, 1\), got 1/],
      ["an unknown hand-designed optimizer", () => l2o.optimizerByName("adamm", 0.1), /unknown optimizer 'adamm'/],
      ["an unknown optimizer option", () => l2o.optimizerByName("adam", 0.1, { beta3: 0.5 }), /adam: unknown option 'beta3'/],
      ["a fractional seed", () => l2o.key(1.5), /^random seed must be an integer from -9007199254740991 to 9007199254740991, got 1.5$/],
      // An integer past 2^53 is not the seed it spells (it rounds), so it is refused as out of range.
      ["a seed of 2^60", () => l2o.key(2 ** 60), /^random seed must be an integer from -9007199254740991 to 9007199254740991, got 1152921504606847000$/],
      ["a seed given as a string", () => l2o.key("7" as unknown as number), /^random seed must be an integer from .*, got string "7"$/],
    ];
    for (const [what, f, re] of cases) {
      assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test(e.message), what);
    }
  });

  it("a NaN or an infinity in a config is named as such in the message, not as JSON's null", () => {
    assert.equal(shownValue(NaN), "NaN");
    assert.equal(shownValue([0.9, -Infinity]), "[0.9,-Infinity]");
    assert.equal(shownValue({ a: Infinity, b: null }), '{"a":Infinity,"b":null}');
    assert.equal(shownValue(undefined), "undefined");
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["quadratic dim NaN", () => l2o.taskFamily("quadratic", { dim: NaN }), /'dim' must be a positive integer, got NaN$/],
      ["quadratic initStd Infinity", () => l2o.taskFamily("quadratic", { initStd: Infinity }), /'initStd' must be a finite number >= 0, got Infinity$/],
      ["lstm outputScale NaN", () => l2o.lstmOptimizer({ outputScale: NaN }), /'outputScale' must be a positive number, got NaN$/],
      ["mlp decays with a NaN", () => l2o.mlpOptimizer({ decays: [0.9, NaN] }), /got NaN in \[0.9,NaN\]$/],
    ];
    for (const [what, f, re] of cases) assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test(e.message), what);
  });

  it("the library exports L2oError and ConfigError", () => {
    assert.equal(l2o.L2oError, L2oError);
    assert.equal(l2o.ConfigError, ConfigError);
    assert.equal(l2o.NonFiniteGradientError, NonFiniteGradientError);
  });
});
