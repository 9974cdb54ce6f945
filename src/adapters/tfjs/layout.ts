/**
 * A tfjs model's trainable variables as one `ParamLayout`: entry `i` is the variable at
 * position `i` of the list (`model.trainableWeights`, or the list `applyGradients` is handed),
 * named by its position, grouped by its shape (`groupOfShape`: conv kernels `conv`, the rest
 * `fc`). Names by position, not by the variables' own names: tfjs renames variables when a
 * model is built again or reloaded (`dense_Dense1/kernel` becomes `dense_Dense3/kernel`), and
 * an optimizer's per-coordinate state must still fit. The same function serves `model.fit`
 * (the optimizer) and `taskFromModel` (meta-training), so an optimizer trained on a model
 * family sees the same layout when it trains that model.
 */
import { ParamLayout } from "../../core/layout.ts";
import { groupOfShape } from "../defaults.ts";
import { TfjsAdapterError } from "./errors.ts";

/** The layout of variables of these shapes, in this order (a variable with no elements is refused). */
export function layoutOfShapes(shapes: readonly (readonly number[])[]): ParamLayout {
  shapes.forEach((s, i) => {
    if (!s.every((d) => Number.isInteger(d) && d > 0)) throw new TfjsAdapterError(`l2o/tfjs: variable ${i} has shape [${s.join(", ")}]; every dimension must be at least 1`);
  });
  return new ParamLayout(shapes.map((shape, i) => ({ name: `v${i}`, shape, group: groupOfShape(shape) })));
}

/** `[784, 20], [20]` for error messages. */
export function shapesText(shapes: readonly (readonly number[])[]): string {
  const text = shapes.map((s) => `[${s.join(", ")}]`).join(", ");
  return text.length > 300 ? `${text.slice(0, 300)}... (${shapes.length} variables)` : text;
}

/** Whether two variable lists have the same shapes in the same order. */
export function sameShapes(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): boolean {
  return a.length === b.length && a.every((s, i) => s.length === b[i]!.length && s.every((d, j) => d === b[i]![j]));
}
