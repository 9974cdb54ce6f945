/**
 * The README promises that every command's --help gives each option's range: an option that
 * takes a number (`<n>`, `<x>`, `<seconds>`, `<step>`) says in its help what it accepts, so
 * that a user learns the bounds from --help and not from an error after the fact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Command, type Option } from "commander";
import { registerArtCommand } from "../src/cli/art.ts";
import { registerBlackboxCommand } from "../src/cli/blackbox.ts";
import { registerCompareCommand } from "../src/cli/compare.ts";
import { registerDashboardCommand } from "../src/cli/dashboard.ts";
import { registerDemoCommand } from "../src/cli/demo.ts";
import { registerEvalCommand } from "../src/cli/eval.ts";
import { registerFewshotCommand } from "../src/cli/fewshot.ts";
import { registerGeneralizeCommand } from "../src/cli/generalize.ts";
import { registerInfoCommand } from "../src/cli/info.ts";
import { registerListCommands } from "../src/cli/list.ts";
import { registerPlotCommand } from "../src/cli/plot.ts";
import { registerRlCommand } from "../src/cli/rl.ts";
import { registerRunCommand } from "../src/cli/run.ts";
import { registerSuiteCommand } from "../src/cli/suite.ts";
import { registerTrainCommand } from "../src/cli/train.ts";
import { registerWorkerCommand } from "../src/cli/worker.ts";

/** Every command, subcommands included, with its path (`fewshot train`). */
function commands(): Array<[string, Command]> {
  const program = new Command("l2o");
  for (const register of [
    registerListCommands, registerRunCommand, registerTrainCommand, registerEvalCommand, registerCompareCommand, registerPlotCommand,
    registerDemoCommand, registerDashboardCommand, registerInfoCommand, registerArtCommand, registerGeneralizeCommand, registerWorkerCommand,
    registerFewshotCommand, registerSuiteCommand, registerRlCommand, registerBlackboxCommand,
  ]) {
    register(program);
  }
  const out: Array<[string, Command]> = [];
  const walk = (c: Command, path: string): void => {
    for (const sub of c.commands) {
      const p = path === "" ? sub.name() : `${path} ${sub.name()}`;
      out.push([p, sub]);
      walk(sub, p);
    }
  };
  walk(program, "");
  return out;
}

/** The words by which a help text states a number's range. */
const RANGE = /\d[\d,.]* to (-?[\d,.]+|--\w)|above 0|greater than|at least|at most|in \(|in \[|an integer|\(0, 1\]|\b0 to\b/;

test("every numeric option of every command states its range in --help", () => {
  const missing: string[] = [];
  let numeric = 0;
  for (const [path, cmd] of commands()) {
    for (const o of cmd.options as readonly Option[]) {
      if (!/<(n|x|seconds|step)>/.test(o.flags)) continue;
      numeric++;
      if (!RANGE.test(o.description)) missing.push(`l2o ${path} ${o.flags}: ${o.description}`);
    }
  }
  assert.ok(numeric > 40, `found the numeric options (${numeric})`);
  assert.deepEqual(missing, [], `${missing.length} options state no range:\n${missing.join("\n")}`);
});
