/**
 * Where a differentiable step (`DifferentiableStep` of ./contract.ts) stands on its tape, and
 * the checks of the contract's calls, for a kind whose step keeps its own tape slots (the
 * hierarchical RNN, the per-coordinate MLP): how many steps are recorded since the cut, what
 * the truncation records them for ("phi" or "inputs", never both), the capacity, and the
 * lengths of what is handed in. Every error names the kind (`<kind> optimizer: ...`).
 */

export type RecordMode = "phi" | "inputs";

export class TapeCursor {
  /** Steps recorded since the cut; the next one recorded goes into this slot. */
  recorded = 0;
  private mode: false | RecordMode = false;

  constructor(
    /** The error messages' prefix, `hrnn optimizer`. */
    private readonly who: string,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`${who}: capacity must be a positive integer, got ${capacity}`);
  }

  /** Throws unless `a` has `len` floats; `what` names it. */
  checkLength(what: string, a: ArrayLike<number>, len: number): void {
    if (a.length !== len) throw new Error(`${this.who}: ${what} has ${a.length} floats, expected ${len}`);
  }

  /** Before recording a step: checks the mode and the room left; returns the step's slot (count it with `stepRecorded` once it is). */
  recordSlot(record: RecordMode): number {
    if (this.mode !== false && this.mode !== record) throw new Error(`${this.who}: a truncation records either "phi" or "inputs", not both`);
    if (this.recorded >= this.capacity) throw new Error(`${this.who}: the tape holds ${this.capacity} steps; call backward and finishBackward first`);
    this.mode = record;
    return this.recorded;
  }

  stepRecorded(): void {
    this.recorded++;
  }

  /**
   * Going back through the last recorded step: checks that there is one, the adjoint's length
   * (`n`) and, with `dGrad`, that the steps were recorded for "inputs" and its length; returns
   * the step's slot, which is no longer counted.
   */
  backSlot(adjoint: ArrayLike<number>, n: number, dGrad: ArrayLike<number> | undefined): number {
    if (this.recorded === 0) throw new Error(`${this.who}: backward without a recorded step`);
    this.checkLength("the adjoint", adjoint, n);
    if (dGrad !== undefined) {
      if (this.mode !== "inputs") throw new Error(`${this.who}: dL/dgrad needs the steps recorded with "inputs"`);
      this.checkLength("dGrad", dGrad, n);
    }
    return --this.recorded;
  }

  /** The cut: nothing recorded, the mode free again. */
  reset(): void {
    this.recorded = 0;
    this.mode = false;
  }
}
