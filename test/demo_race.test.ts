// The demo's races (demo/race.ts) run in Node, with the kernel the page runs (the browser's
// bits are Node's: test/browser_bundle.test.ts): what each function's note on the page says
// about the shipped learned optimizer holds, and on every function its loss falls.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { DEMO_FUNCTIONS, Race, type Racer } from "../demo/race.ts";

const learned = loadLearnedOptimizer("pretrained/quadratic", { engine: "wasm-simd" });
const races = new Map<string, Race>();
function finished(name: string): Race {
  let r = races.get(name);
  if (r === undefined) {
    r = new Race(name, learned);
    while (r.advance());
    races.set(name, r);
  }
  return r;
}
after(() => races.forEach((r) => r.dispose()));

const by = (r: Race, id: string): Racer => r.racers.find((x) => x.id === id)!;
const final = (x: Racer): number => x.losses[x.losses.length - 1]!;
/** Whether the learned optimizer has the lowest loss of the four at step t. */
const leads = (r: Race, t: number): boolean => r.racers.every((x) => x.id === "learned" || by(r, "learned").losses[t]! < x.losses[t]!);

describe("the demo's races", () => {
  for (const d of DEMO_FUNCTIONS) {
    it(`${d.name}: every racer takes ${d.steps} steps and ends below its start, the learned optimizer 10 times below`, () => {
      const r = finished(d.name);
      assert.equal(r.step, d.steps);
      for (const x of r.racers) {
        assert.equal(x.losses.length, d.steps + 1);
        assert.ok(!x.diverged && final(x) < x.losses[0]!, `${x.id}: ${x.losses[0]} -> ${final(x)}`);
      }
      assert.ok(final(by(r, "learned")) < by(r, "learned").losses[0]! / 10);
    });
  }

  it("quadratic: it trades the lead with Nesterov from about step 12, then stalls near 1e-4 while Nesterov and Adam end lower", () => {
    const r = finished("quadratic");
    assert.ok([12, 13, 14, 15, 16].some((t) => leads(r, t)) && [24, 25, 26, 27, 28].some((t) => leads(r, t)));
    const l = final(by(r, "learned"));
    assert.ok(l > 1e-5 && l < 1e-3, `final ${l}`);
    assert.ok(final(by(r, "nesterov")) < l && final(by(r, "adam")) < l);
  });

  it("rosenbrock: its first steps leave the plot with a loss above 1000; it leads for a while, then swings; Adam and Nesterov end lower", () => {
    const r = finished("rosenbrock");
    const x = by(r, "learned");
    const [x0, x1, y0, y1] = r.fn.box;
    assert.ok(Math.max(...x.losses.slice(0, 15)) > 1000);
    assert.ok(x.path.slice(0, 15).some(([a, b]) => a < x0 || a > x1 || b < y0 || b > y1), "it stays on the plot");
    assert.ok([...Array(40).keys()].some((k) => leads(r, 50 + k)), "it never leads between steps 50 and 90");
    const late = x.losses.slice(140);
    assert.ok(Math.max(...late) > 10 * Math.min(...late), "its loss does not swing tenfold in the last 60 steps");
    assert.ok(final(by(r, "adam")) < final(x) && final(by(r, "nesterov")) < final(x));
  });

  it("saddle: below 1e-2 by step 15, ahead of Adam and RMSprop, then it stalls and ends last", () => {
    const r = finished("saddle");
    const x = by(r, "learned");
    assert.ok(x.losses[15]! < 1e-2 && x.losses[15]! < by(r, "adam").losses[15]! && x.losses[15]! < by(r, "rmsprop").losses[15]!);
    assert.ok(r.racers.every((y) => y === x || final(y) < final(x)));
  });

  it("beale: it leads for the first 65 steps; Adam ends far lower; it ends ahead of Nesterov and RMSprop", () => {
    const r = finished("beale");
    for (let t = 1; t <= 65; t++) assert.ok(leads(r, t), `not in the lead at step ${t}`);
    const x = final(by(r, "learned"));
    assert.ok(final(by(r, "adam")) < x / 100);
    assert.ok(x < final(by(r, "nesterov")) && x < final(by(r, "rmsprop")));
  });
});
