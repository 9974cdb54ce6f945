import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../src/cli/", import.meta.url));

/** The command modules: each registers commands and may import shared modules, never another command. */
const COMMANDS = ["list", "run", "train", "eval", "compare", "plot", "demo", "info", "dashboard", "generalize", "art", "fewshot", "worker", "suite", "rl", "blackbox"];

/** The files a module imports (static, side-effect and dynamic), as absolute paths. */
function importsOf(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const specs = [...src.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)].map((m) => (m[1] ?? m[2])!);
  return specs.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s));
}

describe("the CLI's modules", () => {
  it("main.ts registers exactly the command modules listed here", () => {
    const main = readFileSync(resolve(CLI, "main.ts"), "utf8");
    const registered = [...main.matchAll(/import\s*\{\s*register\w+\s*\}\s*from\s*["']\.\/(\w+)\.ts["']/g)].map((m) => m[1]!);
    assert.deepEqual([...registered].sort(), [...COMMANDS].sort());
  });

  it("no command module imports another command module (shared code lives in shared modules)", () => {
    const commandFiles = new Set(COMMANDS.map((c) => resolve(CLI, `${c}.ts`)));
    const found: string[] = [];
    for (const c of COMMANDS) {
      const file = resolve(CLI, `${c}.ts`);
      for (const dep of importsOf(file)) if (commandFiles.has(dep) && dep !== file) found.push(`${c}.ts imports ${dep.slice(CLI.length)}`);
    }
    assert.deepEqual(found, []);
  });
});
