/**
 * The `l2o` command line: list what is registered, run an optimizer on a task, meta-train an
 * LSTM optimizer, evaluate optimizers against each other (and put separate evaluations of the
 * same instances side by side, or draw them), and the end-to-end demo.
 * Bad input (any L2oError) ends with a one-line error and exit code 2, anything else with an
 * internal error and exit code 1; library code never prints, the commands here choose what to
 * print.
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

const program = new Command();
program
  .name("l2o")
  .description("Learned optimizers: meta-train coordinatewise LSTM optimizers and compare them with tuned baselines.")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

registerListCommands(program);
registerRunCommand(program);
registerTrainCommand(program);
registerEvalCommand(program);
registerCompareCommand(program);
registerPlotCommand(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version exit 0; commander has printed its own message for usage mistakes.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof L2oError) {
    process.stderr.write(`l2o: error: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`l2o: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}
