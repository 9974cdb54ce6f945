/**
 * l2o ships its sources as .ts, so a project that imports it type-checks them under its own
 * settings, not under l2o's tsconfig.json. Two such projects, each one tsc run (no output):
 * a Node project without the DOM library (which alone declares the global `WebAssembly`) and
 * one with it, both strict but without exactOptionalPropertyTypes (which `strict` leaves off).
 * Each compiles both entry points, `l2o` and `l2o/browser`, with no error.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { REPO } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-consumer-tsc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A consumer's tsconfig.json with `lib`, in a folder of its own outside the repository. */
function consumer(name: string, lib: readonly string[]): string {
  const path = join(dir, `tsconfig.${name}.json`);
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib,
      types: ["node"],
      typeRoots: [join(REPO, "node_modules", "@types")],
      strict: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      noEmit: true,
    },
    files: [join(REPO, "src", "index.ts"), join(REPO, "src", "browser.ts")],
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Runs tsc on `project`; resolves with its exit code and output. */
function tsc(project: string): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", project, "--pretty", "false"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, out }));
  });
}

describe("a project that imports l2o type-checks its sources", () => {
  it("with lib es2022 and Node's types only, and with the DOM library added: no errors", async () => {
    const [plain, dom] = await Promise.all([tsc(consumer("node", ["es2022"])), tsc(consumer("dom", ["es2022", "dom"]))]);
    assert.equal(plain.out.trim(), "", `lib es2022, types node:\n${plain.out}`);
    assert.equal(plain.code, 0);
    assert.equal(dom.out.trim(), "", `lib es2022 + dom:\n${dom.out}`);
    assert.equal(dom.code, 0);
  });
});
