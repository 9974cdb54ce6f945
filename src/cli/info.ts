/**
 * `l2o info NAME`: what an optimizer file holds, in words: its kind, architecture and inputs,
 * the task and settings it was trained with, its validation, its lineage (former names, real
 * parent, the commands that made it, how it was chosen), and the integrity check. NAME follows
 * the one name rule (a shipped name, `pretrained/NAME`, a path, `KIND:FILE`); a hand-designed
 * name has no file, and says so.
 */
import type { Command } from "commander";
import { learnedKind } from "../learned/registry.ts";
import { lineageOf } from "../learned/pretrained.ts";
import { resolveOptimizer } from "../learned/resolve.ts";
import type { OptimizerMeta } from "../io/optimizer_file.ts";
import { UsageError } from "./errors.ts";

/** Training settings worth a line, in the order shown, with how each reads. */
const SETTINGS: readonly (readonly [string, (v: unknown) => string])[] = [
  ["unroll", (v) => `unroll ${v}`],
  ["horizon", (v) => `horizon ${v}`],
  ["metaLr", (v) => `meta lr ${v}`],
  ["clipNorm", (v) => `clip ${v}`],
  ["metaBatch", (v) => `meta-batch ${v}`],
  ["secondOrder", (v) => (v === true ? "second order" : "first order")],
  ["secondOrderScale", (v) => `second-order scale ${v}`],
  ["metaLoss", (v) => `meta-loss ${v}`],
  ["metaLossFrom", (v) => `from step ${v}`],
  ["horizonSampling", (v) => `horizons ${v}`],
  ["epochsDone", (v) => `${v} epochs`],
  ["horizonsPerEpoch", (v) => `${v} horizons each`],
  ["metaIterations", (v) => `${v} meta-iterations`],
  ["seed", (v) => `seed ${v}`],
  ["validationSeed", (v) => `validation seed ${v}`],
  ["engine", (v) => `engine ${v}`],
  ["threads", (v) => `${v} threads`],
];

/** The lines `l2o info` prints for a file's metadata (label, text). */
export function infoLines(label: string, path: string, meta: OptimizerMeta, phiSize: number, tensors: number): [string, string][] {
  const kind = learnedKind(meta.kind);
  const d = kind.describe(meta.config);
  const t = meta.training;
  const lines: [string, string][] = [
    ["file", `${label} (${path})`],
    ["kind", `${meta.kind}: ${kind.description}`],
    ["architecture", `${d.architecture}; ${phiSize.toLocaleString("en-US")} weights in ${tensors} tensors`],
    ["inputs", d.inputs],
  ];
  if (typeof t.task === "string") lines.push(["trained on", `${t.task} ${JSON.stringify(t.taskConfig ?? {})}`]);
  const settings = SETTINGS.filter(([k]) => t[k] !== undefined).map(([k, f]) => f(t[k]));
  if (settings.length > 0) lines.push(["training", settings.join(", ")]);
  for (const [k, v] of kind.trainingLines?.(t) ?? []) lines.push([k, v]);
  if (typeof t.init === "string") lines.push(["started from", t.init]);
  const v = meta.validation;
  if (typeof v.score === "number") {
    lines.push(["validation", `${v.score.toPrecision(5)} at epoch ${v.epoch} (${v.tasks ?? "?"} tasks of ${v.steps ?? "?"} steps; lower is better)`]);
  }
  const l = lineageOf(t);
  if (l !== undefined) {
    if (l.formerly !== undefined && l.formerly.length > 0) lines.push(["formerly", l.formerly.join("; ")]);
    const parent = l.parent === null || l.parent === undefined ? "none shipped" : l.parent;
    lines.push(["parent", l.parentNote === undefined ? parent : `${parent} (${l.parentNote})`]);
    if (l.chosen !== undefined) lines.push(["chosen", l.chosen]);
    (l.recipe ?? []).forEach((cmd, i) => lines.push([i === 0 ? "recipe" : "", `${i + 1}. ${cmd}`]));
    if (l.doc !== undefined) lines.push(["results", l.doc]);
  }
  lines.push(["written", `${meta.createdAt} by l2o ${meta.l2oVersion} (format ${meta.formatVersion})`]);
  return lines;
}

export function registerInfoCommand(program: Command): void {
  program
    .command("info")
    .description("describe an optimizer file: kind, architecture, inputs, training settings, validation and lineage")
    .argument("<name>", "a shipped optimizer's name (mnist, quadratic, lineage/mnist-paper), a path, or KIND:FILE")
    .option("--json", "print the file's metadata as JSON instead")
    .action((name: string, flags: { json?: boolean }) => {
      const r = resolveOptimizer(name, { engine: "ref" });
      if (r.source === "hand") throw new UsageError(`'${name}' is a hand-designed optimizer (${r.spec.description}); it has no file to describe`);
      const { meta, path, phi, optimizer, warnings } = r.loaded;
      for (const w of warnings) process.stderr.write(`l2o: warning: ${w}\n`);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify({ path, ...meta }, null, 2)}\n`);
        return;
      }
      const lines = infoLines(name, path, meta, phi.length, optimizer.phiEntries.length);
      lines.push(["integrity", warnings.length === 0 ? "SHA-256 of every tensor and of the metadata checked" : "not checked (see the warning above)"]);
      const width = Math.max(...lines.map(([k]) => k.length)) + 2;
      for (const [k, v] of lines) process.stdout.write(`${k.padEnd(width)}${v}\n`);
    });
}
