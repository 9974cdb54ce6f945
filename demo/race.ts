/**
 * The race the demo page shows, without the page: a learned optimizer and tuned Adam, RMSprop
 * and Nesterov on one 2-D function, from the same start, one step at a time. The page
 * (`main.ts`) draws it; test/demo_race.test.ts runs it in Node and checks what the page says
 * about it. Everything comes from the library's entry for browsers.
 */
import {
  DEFAULT_LR_GRID,
  adam,
  applyUpdates,
  drawInstances,
  foldIn,
  function2d,
  function2dFamily,
  function2dTask,
  key,
  nesterov,
  rmsprop,
  tuneLearningRate,
  type Function2d,
  type GradientTransformation,
  type LearnedOptimizer,
  type OptState,
  type Task,
} from "../src/browser.ts";

/** A function of the demo: how many steps it races and what to know about the learned optimizer there. */
export interface DemoFunction {
  readonly name: string;
  readonly title: string;
  readonly steps: number;
  /** What the learned optimizer does here, measured (test/demo_race.test.ts checks it). */
  readonly note: string;
}

/**
 * The functions and step counts: at most the 200 steps the shipped optimizer was trained for.
 * The notes say where it does well and where it does not.
 */
export const DEMO_FUNCTIONS: readonly DemoFunction[] = [
  {
    name: "quadratic",
    title: "Quadratic",
    steps: 100,
    note:
      "Closest to what it was trained on (random 10-d quadratics): from about step 12 to step 70 it trades the lead " +
      "with tuned Nesterov. Then it stalls, jittering around a loss of 1e-4, while tuned Nesterov and Adam go on converging.",
  },
  {
    name: "rosenbrock",
    title: "Rosenbrock",
    steps: 200,
    note:
      "Where it does not behave: Rosenbrock's gradients are up to 100 times those of its training quadratics, and its " +
      "first steps throw it across the valley, off this plot, the loss above 1000. It comes back, follows the valley and " +
      "even leads for a while, then bounces from wall to wall (the loss swinging tenfold) while tuned Adam and Nesterov end lower.",
  },
  {
    name: "saddle",
    title: "Saddle",
    steps: 100,
    note:
      "It leaves the saddle about as quickly as tuned Nesterov, the fastest baseline (its loss below 1e-2 by step 15), and settles in a minimum, " +
      "but there it stalls around 1e-5 and ends last, while the tuned baselines go on converging.",
  },
  {
    name: "beale",
    title: "Beale",
    steps: 200,
    note:
      "Never trained on anything like it, yet it leads for the first 65 steps. Then tuned Adam overtakes it and ends " +
      "far lower; the learned optimizer ends second, ahead of Nesterov and RMSprop.",
  },
];

/** The demo function called `name` (throws on another). */
export function demoFunction(name: string): DemoFunction {
  const d = DEMO_FUNCTIONS.find((f) => f.name === name);
  if (d === undefined) throw new Error(`the demo has no function '${name}'`);
  return d;
}

/** Tuning runs: this many starts within `TUNE_JITTER` of the start point. */
export const TUNE_STARTS = 4;
export const TUNE_JITTER = 0.1;

/** The hand-designed racers, each tuned on `DEFAULT_LR_GRID` as `l2o eval` tunes. */
export const BASELINES: ReadonlyArray<{ readonly id: string; readonly label: string; readonly make: (lr: number) => GradientTransformation }> = [
  { id: "adam", label: "Adam", make: (lr) => adam(lr) },
  { id: "rmsprop", label: "RMSprop", make: (lr) => rmsprop(lr) },
  { id: "nesterov", label: "Nesterov", make: (lr) => nesterov(lr) },
];

/**
 * The learning rate of each baseline with the lowest mean final loss after `steps` steps from
 * `TUNE_STARTS` starts near the function's start (never the start itself).
 */
export function tunedRates(fnName: string, steps: number): Record<string, number> {
  const instances = drawInstances(function2dFamily({ name: fnName, jitter: TUNE_JITTER }), foldIn(key(0), `demo/tune/${fnName}`), TUNE_STARTS);
  const rates: Record<string, number> = {};
  for (const b of BASELINES) {
    rates[b.id] = tuneLearningRate({ label: b.id, tune: true, make: (lr) => b.make(lr!) }, instances, steps, DEFAULT_LR_GRID).lr;
  }
  return rates;
}

/** One optimizer in the race: what the page draws. */
export interface Racer {
  readonly id: string;
  readonly label: string;
  /** The tuned learning rate (baselines). */
  readonly lr?: number;
  /** The loss at every point reached so far, the start's first. */
  readonly losses: number[];
  /** Every point reached so far, the start first. */
  readonly path: Array<[number, number]>;
  /** True once a loss or step was NaN or infinite (the racer then stops). */
  diverged: boolean;
}

interface Runner {
  readonly racer: Racer;
  readonly tx: GradientTransformation & { dispose?: () => void };
  theta: Float32Array;
  state: OptState;
  grad: Float32Array;
}

/** A learned optimizer and its weights, as decoding its file gives them. */
export interface LearnedForRace {
  readonly optimizer: LearnedOptimizer;
  readonly phi: Float32Array;
}

/** A race on one function: every racer from the start point, stepped together. */
export class Race {
  readonly fn: Function2d;
  readonly spec: DemoFunction;
  readonly racers: Racer[];
  private readonly task: Task;
  private readonly runners: Runner[];
  private t = 0;

  constructor(fnName: string, learned: LearnedForRace, rates: Record<string, number> = tunedRates(fnName, demoFunction(fnName).steps)) {
    this.spec = demoFunction(fnName);
    this.fn = function2d(fnName);
    this.task = function2dTask({ name: fnName });
    const start = new Float32Array(this.fn.start);
    const entries: Array<{ id: string; label: string; lr?: number; tx: Runner["tx"] }> = [
      { id: "learned", label: "Learned (LSTM)", tx: learned.optimizer.optFn(learned.phi, this.task.layout) },
      ...BASELINES.map((b) => ({ id: b.id, label: b.label, lr: rates[b.id]!, tx: b.make(rates[b.id]!) })),
    ];
    this.runners = entries.map(({ id, label, lr, tx }) => {
      const { loss, grad } = this.task.lossAndGrad(start, key(0));
      const racer: Racer = { id, label, ...(lr === undefined ? {} : { lr }), losses: [loss], path: [[start[0]!, start[1]!]], diverged: false };
      return { racer, tx, theta: start, state: tx.init(start), grad };
    });
    this.racers = this.runners.map((r) => r.racer);
  }

  /** Steps taken so far. */
  get step(): number {
    return this.t;
  }

  get done(): boolean {
    return this.t >= this.spec.steps;
  }

  /** One step of every racer still running; false once the race is over. */
  advance(): boolean {
    if (this.done) return false;
    for (const r of this.runners) {
      if (r.racer.diverged) continue;
      const loss = r.racer.losses[r.racer.losses.length - 1]!;
      const [updates, state] = r.tx.update(r.grad, r.state, r.theta, { loss, step: this.t, horizon: this.spec.steps });
      r.state = state;
      r.theta = applyUpdates(r.theta, updates);
      const next = this.task.lossAndGrad(r.theta, key(0));
      r.grad = next.grad;
      r.racer.losses.push(next.loss);
      r.racer.path.push([r.theta[0]!, r.theta[1]!]);
      if (!Number.isFinite(next.loss) || !r.grad.every(Number.isFinite)) r.racer.diverged = true;
    }
    this.t++;
    return true;
  }

  /** Frees the learned optimizer's engine. */
  dispose(): void {
    for (const r of this.runners) r.tx.dispose?.();
  }
}
