/** `l2o tasks` and `l2o optimizers`: what the registries hold. */
import type { Command } from "commander";
import { TASKS } from "../tasks/registry.ts";
import { OPTIMIZERS } from "../optimizers/registry.ts";
import { LEARNED_KINDS } from "../learned/registry.ts";
import { pretrainedNames } from "../learned/resolve.ts";

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
    .description("list the hand-designed optimizers, the kinds of learned optimizer and the shipped (pretrained) ones")
    .action(() => {
      process.stdout.write("hand-designed (NAME, or NAME@LR for a fixed rate):\n");
      for (const o of OPTIMIZERS) {
        const name = o.aliases.length > 0 ? `${o.name} (${o.aliases.join(", ")})` : o.name;
        process.stdout.write(`  ${name.padEnd(16)} ${o.description} (default lr ${o.defaultLr})\n`);
      }
      process.stdout.write("learned kinds (train with --optimizer KIND; a file as FILE or KIND:FILE):\n");
      for (const k of LEARNED_KINDS) process.stdout.write(`  ${k.kind.padEnd(16)} ${k.description}\n`);
      process.stdout.write(`pretrained (NAME or pretrained/NAME): ${pretrainedNames().join(", ")}\n`);
    });
}
