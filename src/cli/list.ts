/** `l2o tasks` and `l2o optimizers`: what the registries hold. */
import type { Command } from "commander";
import { TASKS } from "../tasks/registry.ts";
import { OPTIMIZERS } from "../optimizers/registry.ts";

export function registerListCommands(program: Command): void {
  program
    .command("tasks")
    .description("list the registered task families and their default configuration")
    .action(() => {
      for (const t of TASKS) {
        process.stdout.write(`${t.name.padEnd(12)} ${t.description}\n${"".padEnd(12)} defaults ${JSON.stringify(t.defaults)}\n`);
      }
    });
  program
    .command("optimizers")
    .description("list the hand-designed optimizers (learned ones are given as lstm:FILE)")
    .action(() => {
      for (const o of OPTIMIZERS) {
        const name = o.aliases.length > 0 ? `${o.name} (${o.aliases.join(", ")})` : o.name;
        process.stdout.write(`${name.padEnd(16)} ${o.description} (default lr ${o.defaultLr})\n`);
      }
      process.stdout.write(`${"lstm:FILE".padEnd(16)} a trained LSTM optimizer file, e.g. lstm:pretrained/quadratic\n`);
    });
}
