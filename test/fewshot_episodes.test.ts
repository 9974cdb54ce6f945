/**
 * Few-shot data: the generated glyphs (deterministic, disjoint splits, neither trivial nor
 * impossible for a raw-pixel nearest neighbour) and episode sampling (shapes, labels, keys).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { foldIn, key } from "../src/core/rng.ts";
import { DataError } from "../src/data/idx.ts";
import { ByteCache, classImages } from "../src/fewshot/data/dataset.ts";
import { type Episode, sampleEpisode } from "../src/fewshot/data/episode.ts";
import { glyphDataset } from "../src/fewshot/data/glyphs.ts";
import { openFewShotDataset } from "../src/fewshot/data/index.ts";

const small = { classes: 60, trainClasses: 40, valClasses: 8, examplesPerClass: 10 } as const;

function sq(a: Float32Array, i: number, b: Float32Array, j: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += (a[i * n + k]! - b[j * n + k]!) ** 2;
  return s;
}

/** Accuracy of labelling each query by its nearest support image (squared pixel distance). */
function nearestNeighbour(ep: Episode): number {
  const n = ep.shape[0] * ep.shape[1] * ep.shape[2];
  let right = 0;
  for (let q = 0; q < ep.query.n; q++) {
    let best = Infinity;
    let label = -1;
    for (let s = 0; s < ep.support.n; s++) {
      const d = sq(ep.query.x, q, ep.support.x, s, n);
      if (d < best) [best, label] = [d, ep.support.y[s]!];
    }
    if (label === ep.query.y[q]) right++;
  }
  return right / ep.query.n;
}

describe("glyphs", () => {
  it("are a pure function of the seed, in [0, 1] with ink and ground, and differ between seeds", () => {
    const a = classImages(glyphDataset({ split: "train", ...small }), 3);
    const b = classImages(glyphDataset({ split: "train", ...small }), 3);
    const c = classImages(glyphDataset({ split: "train", ...small, seed: 1 }), 3);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(a.length, 10 * 28 * 28);
    assert.ok(a.every((v) => v >= 0 && v <= 1));
    const ink = a.reduce((s, v) => s + v, 0) / a.length;
    // Strokes cover a part of the image, not none of it and not most of it.
    assert.ok(ink > 0.04 && ink < 0.4, `mean ink ${ink}`);
  });

  it("splits the classes 1,200 / 100 / 300 by default, disjoint, and sizes follow the options", () => {
    const sizes = (["train", "val", "test"] as const).map((split) => glyphDataset({ split }));
    assert.deepEqual(sizes.map((d) => d.classes), [1200, 100, 300]);
    assert.deepEqual(sizes[0]!.shape, [1, 28, 28]);
    const names = sizes.flatMap((d) => Array.from({ length: d.classes }, (_, c) => d.className(c)));
    assert.equal(new Set(names).size, 1600);
    // The first class of each split is a different glyph.
    const first = sizes.map((d) => classImages(d, 0).subarray(0, 784));
    assert.notDeepEqual(first[0], first[1]);
    assert.notDeepEqual(first[1], first[2]);
    const big = glyphDataset({ split: "test", ...small, size: 40 });
    assert.deepEqual([big.classes, big.count(0), ...big.shape], [12, 10, 1, 40, 40]);
  });

  it("examples of a class lie closer to each other than to other classes' examples", () => {
    const ds = glyphDataset({ split: "val", ...small });
    const imgs = Array.from({ length: 8 }, (_, c) => classImages(ds, c));
    let within = 0;
    let between = 0;
    for (let c = 0; c < 8; c++) {
      within += sq(imgs[c]!, 0, imgs[c]!, 1, 784);
      between += sq(imgs[c]!, 0, imgs[(c + 1) % 8]!, 1, 784);
    }
    assert.ok(within < 0.8 * between, `within ${within}, between ${between}`);
  });

  it("5-way 1-shot: raw-pixel nearest neighbour is clearly above chance and clearly below perfect", () => {
    const ds = glyphDataset({ split: "test" });
    let acc = 0;
    const episodes = 60;
    for (let e = 0; e < episodes; e++) acc += nearestNeighbour(sampleEpisode(ds, foldIn(key(11), e), { ways: 5, shots: 1, queries: 5 }));
    acc /= episodes;
    // Measured 64.6% ± 0.3 over 1,000 episodes (bench/fewshot_nn.ts; chance 20%); 300 queries here give a standard error near 3 points.
    assert.ok(acc > 0.45 && acc < 0.85, `nearest-neighbour accuracy ${acc}`);
  });

  it("refuses absurd options with a ConfigError", () => {
    assert.throws(() => glyphDataset({ split: "train", size: 4 }), ConfigError);
    assert.throws(() => glyphDataset({ split: "train", classes: 10, trainClasses: 10 }), /trainClasses/);
    assert.throws(() => glyphDataset({ split: "train", examplesPerClass: 0.5 }), /examplesPerClass/);
    assert.throws(() => glyphDataset({ split: "nope" as "train" }), /unknown split/);
  });
});

describe("episodes", () => {
  const ds = glyphDataset({ split: "train", ...small });
  const spec = { ways: 5, shots: 2, queries: 3 };

  it("have the shapes, the labels 0..N-1 class-major, distinct classes and distinct examples", () => {
    const ep = sampleEpisode(ds, key(5), spec);
    assert.equal(ep.support.x.length, 5 * 2 * 784);
    assert.equal(ep.query.x.length, 5 * 3 * 784);
    assert.deepEqual([...ep.support.y], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    assert.deepEqual([...ep.query.y], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    assert.equal(new Set(ep.classes).size, 5);
    assert.ok(ep.classes.every((c) => c >= 0 && c < ds.classes));
    // Each row is an example of the class behind its label; no example is both support and query.
    for (let j = 0; j < 5; j++) {
      const all = classImages(ds, ep.classes[j]!);
      const indexOf = (x: Float32Array, row: number): number => {
        for (let i = 0; i < 10; i++) if (sq(all, i, x, row, 784) === 0) return i;
        return -1;
      };
      const used = [indexOf(ep.support.x, 2 * j), indexOf(ep.support.x, 2 * j + 1), ...[0, 1, 2].map((q) => indexOf(ep.query.x, 3 * j + q))];
      assert.ok(used.every((i) => i >= 0), `rows of label ${j} are examples of class ${ep.classes[j]}`);
      assert.equal(new Set(used).size, 5);
    }
  });

  it("are a pure function of the key; other keys draw other classes and other labellings", () => {
    assert.deepEqual(sampleEpisode(ds, key(5), spec), sampleEpisode(ds, key(5), spec));
    const firsts = new Set<number>();
    const sets = new Set<string>();
    for (let e = 0; e < 20; e++) {
      const ep = sampleEpisode(ds, foldIn(key(5), e), spec);
      firsts.add(ep.classes[0]!);
      sets.add([...ep.classes].sort((a, b) => a - b).join(","));
    }
    assert.ok(firsts.size > 10, `label 0 went to ${firsts.size} classes in 20 episodes`);
    assert.ok(sets.size > 15);
  });

  it("refuse what the split cannot fill, and bad sizes", () => {
    assert.throws(() => sampleEpisode(ds, key(1), { ways: 41, shots: 1, queries: 1 }), (e: unknown) => e instanceof ConfigError && /40 classes/.test(e.message));
    assert.throws(() => sampleEpisode(ds, key(1), { ways: 5, shots: 5, queries: 6 }), (e: unknown) => e instanceof DataError && /10 examples, an episode needs 11/.test(e.message));
    assert.throws(() => sampleEpisode(ds, key(1), { ways: 5, shots: 0, queries: 1 }), /shots must be an integer from 1/);
    assert.throws(() => sampleEpisode(ds, key(1), { ways: 2.5, shots: 1, queries: 1 }), /ways/);
    assert.throws(() => ds.image(40, 0, new Float32Array(784)), RangeError);
    assert.throws(() => ds.image(0, 10, new Float32Array(784)), RangeError);
  });
});

describe("byte cache and sources by name", () => {
  it("keeps at most its bound, dropping the least recently used first", () => {
    const c = new ByteCache(25);
    let made = 0;
    const get = (k: string): Uint8Array => c.get(k, () => (made++, new Uint8Array(10)));
    get("a");
    get("b");
    get("a"); // a is now the most recent
    get("c"); // evicts b
    assert.ok(c.bytes <= 25);
    assert.equal(made, 3);
    get("a");
    assert.equal(made, 3);
    get("b");
    assert.equal(made, 4);
    assert.equal(c.get("huge", () => new Uint8Array(100)).length, 100);
    assert.ok(c.bytes <= 25);
  });

  it("opens the glyphs by name and explains what the others need", () => {
    assert.equal(openFewShotDataset("glyphs", "val").name, "glyphs/val");
    assert.throws(() => openFewShotDataset("mnist", "train"), /unknown few-shot dataset "mnist" \(one of glyphs, omniglot, mini-imagenet\)/);
    assert.throws(() => openFewShotDataset("omniglot", "train"), /--data DIR/);
    assert.throws(() => openFewShotDataset("glyphs", "train", { data: "/tmp" }), /read no folder/);
  });
});
