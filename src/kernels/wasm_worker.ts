/**
 * The worker side of the WebAssembly engine's thread pool.
 *
 * Each worker instantiates the kernel module on the engine's shared memory and then loops:
 * wait on the generation counter of the control block, run the command for its thread index,
 * count itself done. The source is plain CommonJS run with `eval: true` and no inherited
 * execArgv, so a worker needs no TypeScript loader and starts in a few milliseconds.
 */

/** Int32 slots of the control block (an Int32Array over the shared memory at `CTRL_BYTES`). */
export const CTRL = {
  /** Incremented by the main thread to start a command. */
  gen: 0,
  /** The command to run (see `CMD`). */
  cmd: 1,
  /** Workers that finished the current command. */
  done: 2,
  /** Set to 1 by a worker whose command threw. */
  err: 3,
  /** Workers that have instantiated the module and entered their loop. */
  ready: 4,
  /** Set to 1 by a worker that could not start. */
  failed: 5,
} as const;

/** Commands: the index into the worker's table of kernel exports, or exit. */
export const CMD = { exit: 0, forward: 1, backward: 2 } as const;

/** Byte offset of the control block in the shared memory. */
export const CTRL_BYTES = 1024;

/**
 * How long (milliseconds) a worker spins on the control block before it sleeps in
 * Atomics.wait. Meta-training calls the kernel every 1-3 ms, the task's gradient (on the
 * calling thread) in between; a worker that went to sleep in that gap woke up slower, and the
 * W meta-iteration took about 5% longer with a spin of a few microseconds (BENCHMARKS.md).
 */
const SPIN_MS = 3;

/**
 * The worker program (CommonJS, evaluated). workerData: { module, memories, ctx, tid }: one
 * instance per memory (the engine's instances, each with its share of the coordinates), the
 * control block in the first. A command runs on every instance in turn.
 */
export const WORKER_SOURCE = `
"use strict";
const { workerData } = require("node:worker_threads");
const { module, memories, ctx, tid } = workerData;
const ctrl = new Int32Array(memories[0].buffer, ${CTRL_BYTES}, 16);
let fns;
try {
  const ex = memories.map((memory) => new WebAssembly.Instance(module, { env: { memory } }).exports);
  fns = [null, ex.map((e) => e.forward), ex.map((e) => e.backward)];
} catch (e) {
  Atomics.store(ctrl, ${CTRL.failed}, 1);
  Atomics.add(ctrl, ${CTRL.ready}, 1);
  Atomics.notify(ctrl, ${CTRL.ready});
  throw e;
}
let gen = Atomics.load(ctrl, ${CTRL.gen});
Atomics.add(ctrl, ${CTRL.ready}, 1);
Atomics.notify(ctrl, ${CTRL.ready});
for (;;) {
  const until = performance.now() + ${SPIN_MS};
  let spins = 0;
  while (Atomics.load(ctrl, ${CTRL.gen}) === gen && ((++spins & 1023) !== 0 || performance.now() < until));
  Atomics.wait(ctrl, ${CTRL.gen}, gen);
  gen = Atomics.load(ctrl, ${CTRL.gen});
  const cmd = Atomics.load(ctrl, ${CTRL.cmd});
  if (cmd === ${CMD.exit}) break;
  try {
    for (const f of fns[cmd]) f(ctx, tid);
  } catch (e) {
    Atomics.store(ctrl, ${CTRL.err}, 1);
  }
  Atomics.add(ctrl, ${CTRL.done}, 1);
  Atomics.notify(ctrl, ${CTRL.done});
}
`;
