/**
 * The `l2o` command line: list what is registered, run an optimizer on a task, meta-train an
 * LSTM optimizer, evaluate optimizers against each other (and put separate evaluations of the
 * same instances side by side, or draw them), and the end-to-end demo.
 * Bad input (any L2oError) ends with a one-line error and exit code 2, anything else with an
 * internal error and exit code 1; either message is shown on one line of at most 500
 * characters (then the count of the rest). Library code never prints, the commands here
 * choose what to print.
 */
import { Command, CommanderError } from "commander";
import { L2oError } from "../core/errors.ts";
import { registerListCommands } from "./list.ts";
import { registerRunCommand } from "./run.ts";
import { registerTrainCommand } from "./train.ts";
import { registerEvalCommand } from "./eval.ts";
import { registerCompareCommand } from "./compare.ts";
import { registerPlotCommand } from "./plot.ts";
import { registerDemoCommand } from "./demo.ts";
import { registerDashboardCommand } from "./dashboard.ts";
import { registerInfoCommand } from "./info.ts";
import { registerArtCommand } from "./art.ts";
import { registerGeneralizeCommand } from "./generalize.ts";
import { registerWorkerCommand } from "./worker.ts";
import { registerFewshotCommand } from "./fewshot.ts";
import { registerSuiteCommand } from "./suite.ts";
import { registerRlCommand } from "./rl.ts";
import { registerBlackboxCommand } from "./blackbox.ts";
import { L2O_VERSION } from "../io/files.ts";
import { oneLine } from "./format.ts";
import { isTaskModulePath, loadTaskModule } from "./user_task.ts";

// A reader that stops early (`l2o tasks | head -1`) closes the pipe: what is left to print is
// no longer wanted, so the command ends there, quietly, with exit code 0 (not a stack trace);
// any other failure to write standard output is an internal error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") process.stderr.write(`l2o: internal error: cannot write standard output: ${oneLine(e.message)}\n`);
  process.exit(e.code === "EPIPE" ? 0 : 1);
});

const program = new Command();
program
  .name("l2o")
  .description("Learned optimizers: meta-train coordinatewise LSTM optimizers and compare them with tuned baselines.")
  .version(L2O_VERSION, "-V, --version", "print the l2o version")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

registerListCommands(program);
registerRunCommand(program);
registerTrainCommand(program);
registerEvalCommand(program);
registerCompareCommand(program);
registerPlotCommand(program);
registerDemoCommand(program);
registerDashboardCommand(program);
registerInfoCommand(program);
registerArtCommand(program);
registerGeneralizeCommand(program);
registerWorkerCommand(program);
registerFewshotCommand(program);
registerSuiteCommand(program);
registerRlCommand(program);
registerBlackboxCommand(program);

// A --task that names a module of the user's (./my-task.ts) is imported before its command
// runs, so that the commands resolve it synchronously (src/cli/user_task.ts).
program.hook("preAction", async (_program, command) => {
  const task: unknown = command.opts().task;
  if (typeof task === "string" && isTaskModulePath(task)) await loadTaskModule(task);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version exit 0; commander has printed its own message for usage mistakes.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof L2oError) {
    process.stderr.write(`l2o: error: ${oneLine(e.message)}\n`);
    process.exitCode = 2;
  } else {
    // A bug: its message bounded as above, then where it happened.
    const frames = e instanceof Error ? (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l)) : [];
    const head = e instanceof Error ? `${e.name}: ${oneLine(e.message)}` : oneLine(String(e));
    process.stderr.write(`l2o: internal error: ${[head, ...frames].join("\n")}\n`);
    process.exitCode = 1;
  }
}
