import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as l2o from "../src/index.ts";
import { ConfigError, L2oError } from "../src/core/errors.ts";
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

  it("the library exports L2oError and ConfigError", () => {
    assert.equal(l2o.L2oError, L2oError);
    assert.equal(l2o.ConfigError, ConfigError);
  });
});
