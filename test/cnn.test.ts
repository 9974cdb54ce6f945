// The CNN task: the WebAssembly layers against the jax-js reference, both by finite
// differences (the shared conformance checks), the layers on odd sizes against plain loops,
// labels subsets, CIFAR-10 from generated files, and the config's checks.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { CIFAR_FILES, CIFAR_PIXELS, encodeCifarBatch } from "../src/data/cifar.ts";
import { DataError } from "../src/data/idx.ts";
import { ConvArena, convScratchFloats } from "../src/kernels/conv.ts";
import { cnnFamily, resolveCnnConfig } from "../src/tasks/cnn.ts";
import { taskFamily } from "../src/tasks/registry.ts";
import { smoketestTask } from "./conformance.ts";
import { relErr } from "./fixture_tasks.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-cnn-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Three layers (28 -> 14 -> 7 -> 3: an odd size pooled), tiny widths, a small batch. */
const SMALL = { channels: [2, 3, 2], fc: 5, batchSize: 8, testImages: 16 } as const;

describe("cnn task", () => {
  // A small step: ReLU and max pooling have kinks that a step of 1e-2 crosses on some coordinates.
  it("wasm: the conformance checks (gradient by finite differences)", () => {
    smoketestTask(cnnFamily({ ...SMALL, backend: "wasm" }).sample(key(1)), { eps: 1e-3, rtol: 2e-2, atol: 2e-4 });
  });

  it("jax (the reference): the conformance checks", () => {
    smoketestTask(cnnFamily({ ...SMALL, backend: "jax" }).sample(key(1)), { eps: 1e-3, rtol: 2e-2, atol: 2e-4 });
  });

  it("wasm and jax agree on the loss, every tensor's gradient and the test metrics", () => {
    const w = cnnFamily({ ...SMALL, backend: "wasm" }).sample(key(3));
    const j = cnnFamily({ ...SMALL, backend: "jax" }).sample(key(3));
    const theta = w.init(key(4));
    const a = w.lossAndGrad(theta, key(5));
    const b = j.lossAndGrad(theta, key(5));
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
    for (const e of w.layout.entries) {
      const err = relErr(a.grad.subarray(e.offset, e.offset + e.size), b.grad.subarray(e.offset, e.offset + e.size));
      assert.ok(err < 1e-4, `${e.name}: relative error ${err}`);
    }
    const ma = w.evaluate!(theta);
    const mb = j.evaluate!(theta);
    assert.ok(Math.abs(ma.testLoss! - mb.testLoss!) < 1e-4, `test loss ${ma.testLoss} vs ${mb.testLoss}`);
    assert.equal(ma.testAccuracy, mb.testAccuracy);
  });

  it("lays out conv kernels and batch-norm parameters in group conv, the rest in fc; He init", () => {
    const t = cnnFamily({ channels: [4, 6], fc: 32 }).sample(key(0));
    assert.deepEqual(
      t.layout.entries.map((e) => `${e.name}:${e.group}:${e.shape.join("x")}`),
      ["conv0.w:conv:4x1x3x3", "bn0.scale:conv:4", "bn0.shift:conv:4", "conv1.w:conv:6x4x3x3", "bn1.scale:conv:6", "bn1.shift:conv:6", "fc1.w:fc:294x32", "fc1.b:fc:32", "fc2.w:fc:32x10", "fc2.b:fc:10"],
    );
    const theta = t.init(key(1));
    const v = (name: string) => t.layout.view(theta, name);
    assert.ok(v("bn1.scale").every((x) => x === 1) && v("bn1.shift").every((x) => x === 0) && v("fc1.b").every((x) => x === 0));
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    assert.ok(Math.abs(std(v("conv1.w")) / Math.sqrt(2 / 36) - 1) < 0.2, "conv1 std ~ sqrt(2 / (4 * 9))");
    assert.ok(Math.abs(std(v("fc1.w")) / Math.sqrt(2 / 294) - 1) < 0.1, "fc1 std ~ sqrt(2 / 294)");
  });

  it("labels keeps k classes: k outputs, and the held-out classes give the same layout", () => {
    const a = cnnFamily({ ...SMALL, labels: [0, 1, 2, 3, 4] }).sample(key(0));
    const b = cnnFamily({ ...SMALL, labels: [5, 6, 7, 8, 9] }).sample(key(0));
    assert.deepEqual(a.layout.get("fc2.w").shape, [5, 5]);
    assert.ok(a.layout.sameAs(b.layout));
    const theta = a.init(key(1));
    // A uniform predictor over 5 classes has loss log 5: the labels are 0..4, not the digits.
    const m = b.evaluate!(new Float32Array(theta.length));
    assert.ok(Math.abs(m.testLoss! - Math.log(5)) < 1e-6, `${m.testLoss}`);
  });

  it("reads CIFAR-10 from the user's folder (generated files here)", () => {
    const dir = join(tmp, "cifar");
    mkdirSync(dir);
    [...CIFAR_FILES.train, CIFAR_FILES.test].forEach((f, j) => {
      const n = 6;
      const pixels = new Uint8Array(n * CIFAR_PIXELS).map((_, k) => (31 * j + k * 13) % 256);
      writeFileSync(join(dir, f), encodeCifarBatch(pixels, new Uint8Array(n).map((_, i) => (i + j) % 10)));
    });
    const fam = cnnFamily({ dataset: "cifar10", dataDir: dir, channels: [2, 2], fc: 4, batchSize: 4 });
    const t = fam.sample(key(0));
    assert.equal(t.layout.get("conv0.w").shape[1], 3, "three input channels");
    assert.equal(t.layout.get("fc1.w").shape[0], 2 * 8 * 8, "32 -> 16 -> 8");
    const { loss, grad } = t.lossAndGrad(t.init(key(1)), key(2));
    assert.ok(Number.isFinite(loss) && grad.some((g) => g !== 0));
    assert.ok(Number.isFinite(t.evaluate!(t.init(key(1))).testLoss!));
    assert.throws(() => cnnFamily({ dataset: "cifar10", dataDir: join(tmp, "absent") }), (e: unknown) => e instanceof DataError && /CIFAR-10 folder not found/.test(e.message));
  });

  it("refuses bad configs before allocating, in one line naming the key", () => {
    const bad: Array<[object, RegExp]> = [
      [{ dataset: "cifar10" }, /'dataset' cifar10 needs 'dataDir'/],
      [{ dataset: "svhn" }, /'dataset' must be one of mnist, cifar10/],
      [{ channels: [] }, /'channels' must list 1 to 4/],
      [{ channels: [8, 0] }, /'channels' must be an integer from 1 to 256/],
      [{ labels: [3, 3] }, /'labels' must not repeat/],
      [{ labels: [10, 2] }, /'labels' must be an integer from 0 to 9/],
      [{ labels: [4] }, /at least two classes/],
      [{ batchSize: 1 }, /'batchSize' must be an integer from 2/],
      [{ channels: [256, 256], batchSize: 1024 }, /MiB of kernel memory, more than 1024 MiB/],
    ];
    for (const [c, re] of bad) assert.throws(() => resolveCnnConfig(c), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(c));
    assert.throws(() => taskFamily("cnn", { channels: 8 }), /'channels' must be a list/);
  });
});

describe("conv kernels (kernels/conv.ts) against plain loops", () => {
  it("conv, its input and weight gradients, and max pooling on odd sizes", () => {
    const s = { n: 2, c: 3, h: 5, w: 3, k: 4 };
    const A = new ConvArena(4096);
    const fill = (n: number, seed: number) => {
      const b = A.alloc(n);
      b.f32.forEach((_, i) => (b.f32[i] = Math.sin(seed + 1.7 * i)));
      return b;
    };
    const x = fill(s.n * s.c * s.h * s.w, 1);
    const w = fill(s.k * s.c * 9, 2);
    const dy = fill(s.n * s.k * s.h * s.w, 3);
    const y = A.alloc(dy.f32.length);
    const dw = A.alloc(w.f32.length);
    const dx = A.alloc(x.f32.length);
    const scratch = A.alloc(convScratchFloats(s));
    A.conv(x, w, y, s, scratch);
    A.convBackward(x, w, dy, dw, dx, s, scratch);
    const X = (n: number, c: number, i: number, j: number) => (i < 0 || j < 0 || i >= s.h || j >= s.w ? 0 : x.f32[((n * s.c + c) * s.h + i) * s.w + j]!);
    const eDx = new Float64Array(dx.f32.length);
    const eDw = new Float64Array(dw.f32.length);
    for (let n = 0; n < s.n; n++)
      for (let k = 0; k < s.k; k++)
        for (let i = 0; i < s.h; i++)
          for (let j = 0; j < s.w; j++) {
            let v = 0;
            const g = dy.f32[((n * s.k + k) * s.h + i) * s.w + j]!;
            for (let c = 0; c < s.c; c++)
              for (let a = 0; a < 3; a++)
                for (let b = 0; b < 3; b++) {
                  const wi = ((k * s.c + c) * 3 + a) * 3 + b;
                  v += w.f32[wi]! * X(n, c, i + a - 1, j + b - 1);
                  eDw[wi]! += g * X(n, c, i + a - 1, j + b - 1);
                  const ii = i + a - 1;
                  const jj = j + b - 1;
                  if (ii >= 0 && jj >= 0 && ii < s.h && jj < s.w) eDx[((n * s.c + c) * s.h + ii) * s.w + jj]! += g * w.f32[wi]!;
                }
            assert.ok(Math.abs(y.f32[((n * s.k + k) * s.h + i) * s.w + j]! - v) < 1e-5);
          }
    dw.f32.forEach((v, i) => assert.ok(Math.abs(v - eDw[i]!) < 1e-5, `dw[${i}]`));
    dx.f32.forEach((v, i) => assert.ok(Math.abs(v - eDx[i]!) < 1e-5, `dx[${i}]`));
    // Pooling 5 x 3 -> 2 x 1: the last row and column are dropped, the maximum's index kept.
    const py = A.alloc(s.n * s.c * 2);
    const arg = A.allocI32(s.n * s.c * 2);
    A.maxPool(x, s.n * s.c, 5, 3, py, arg);
    for (let q = 0; q < s.n * s.c; q++)
      for (let i = 0; i < 2; i++) {
        const plane = x.f32.subarray(q * 15, q * 15 + 15);
        const win = [plane[2 * i * 3]!, plane[2 * i * 3 + 1]!, plane[(2 * i + 1) * 3]!, plane[(2 * i + 1) * 3 + 1]!];
        assert.equal(py.f32[q * 2 + i], Math.max(...win));
      }
    assert.throws(() => A.conv(x, w, A.alloc(3), s, scratch), /conv y: holds 3 values, need 120/);
  });
});
