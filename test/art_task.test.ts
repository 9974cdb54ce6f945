import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { decodeImage, ImageFileError, PHOTOS, readImageFile } from "../src/data/images.ts";
import { pattern } from "../src/data/patterns.ts";
import { encodePngRgb, planarToRgb8 } from "../src/io/png.ts";
import { artFamily, artTaskFrom, resolveArtConfig } from "../src/tasks/art.ts";
import { taskFamily } from "../src/tasks/registry.ts";
import { smoketestTask } from "./conformance.ts";
import { decodePng } from "./png_decode.ts";

describe("art task", () => {
  it("passes the shared task checks, gradient by finite differences included, on both splits", () => {
    for (const split of ["train", "test"]) {
      const task = artFamily({ size: 16, split, channels: [4, 6, 6] }).sample(key(1));
      // eps 1e-4: a ReLU kink lies within 1e-3 of some coordinates (finite differences then disagree).
      smoketestTask(task, { eps: 1e-4, rtol: 2e-3, atol: 5e-5, coords: 10 });
    }
  });

  it("has an exact gradient from the content image too, with every term weighted", () => {
    const cfg = resolveArtConfig({ size: 8, init: "content", alpha: 3, beta: 50, gamma: 2, channels: [3, 4, 5] });
    const content = pattern("mosaic", 8)!;
    smoketestTask(artTaskFrom(content, cfg), { eps: 1e-4, rtol: 2e-3, atol: 5e-5, coords: 12, seed: 3 });
  });

  it("is zero-content-loss at the content image and finds the style image's style loss zero", () => {
    const cfg = resolveArtConfig({ size: 16, style: "mosaic", channels: [4, 4, 4] });
    const content = pattern("strokes", 16)!;
    const task = artTaskFrom(content, cfg);
    assert.equal(task.terms(content).content, 0);
    assert.ok(task.terms(content).style > 0);
    assert.equal(task.terms(pattern("mosaic", 16)!).style, 0);
  });

  it("draws different content per key, from the photographs of its split only", () => {
    assert.ok(PHOTOS.some((p) => p.split === "train") && PHOTOS.some((p) => p.split === "test"));
    const fam = artFamily({ size: 8, minCrop: 1, channels: [2, 2, 2] });
    const a = fam.sample(key(1)) as ReturnType<typeof artTaskFrom>;
    const b = fam.sample(key(2)) as ReturnType<typeof artTaskFrom>;
    assert.notDeepEqual(a.content, b.content);
    // The same key on the held-out split gives another photograph.
    const t = artFamily({ size: 8, minCrop: 1, channels: [2, 2, 2], split: "test" }).sample(key(1)) as ReturnType<typeof artTaskFrom>;
    assert.notDeepEqual(t.content, a.content);
  });

  it("refuses bad configs with a ConfigError naming the key, through the registry too", () => {
    assert.throws(() => artFamily({ size: 30 }), (e) => e instanceof ConfigError && /'size'/.test(e.message));
    assert.throws(() => artFamily({ size: 4096 }), (e) => e instanceof ConfigError && /'size'/.test(e.message));
    assert.throws(() => artFamily({ channels: [8, 0, 8] }), (e) => e instanceof ConfigError && /'channels'/.test(e.message));
    assert.throws(() => artFamily({ style: "monet" }), (e) => e instanceof ConfigError && /'style'.*strokes/.test(e.message));
    assert.throws(() => artFamily({ split: "val" }), (e) => e instanceof ConfigError && /'split'/.test(e.message));
    assert.throws(() => artFamily({ beta: Number.NaN }), (e) => e instanceof ConfigError && /'beta'/.test(e.message));
    assert.throws(() => taskFamily("art", { size: "64" }), /'size' must be a number/);
  });
});

describe("art images", () => {
  it("writes a PNG that decodes to its pixels, and reads it back through resvg", () => {
    const w = 5;
    const h = 3;
    const planar = new Float32Array(3 * w * h).map((_, i) => ((i * 37) % 256) / 255);
    planar[0] = -1; // clipped to 0
    planar[1] = 7; // clipped to 1
    const rgb = planarToRgb8(planar, w, h);
    const png = encodePngRgb(w, h, rgb);
    const back = decodePng(png);
    assert.equal(back.width, w);
    assert.equal(back.height, h);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) assert.equal(back.pixels[4 * i + c], rgb[3 * i + c]);
    assert.equal(rgb[0], 0);
    assert.equal(rgb[3], 255);
    const decoded = decodeImage(png, "test image");
    assert.equal(decoded.width, w);
    for (let i = 0; i < w * h; i++) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(decoded.data[c * w * h + i]! - rgb[3 * i + c]! / 255) < 1.5 / 255);
    }
  });

  it("refuses files that are missing, not images, or damaged, with a one-line ImageFileError", () => {
    const dir = mkdtempSync(join(tmpdir(), "l2o-art-"));
    writeFileSync(join(dir, "x.txt"), "hello, not an image");
    const png = encodePngRgb(4, 4, new Uint8Array(48).fill(200));
    writeFileSync(join(dir, "cut.png"), png.subarray(0, 40));
    const bad = (p: string, re: RegExp) => assert.throws(() => readImageFile(p), (e) => e instanceof ImageFileError && re.test(e.message) && !e.message.includes("\n"));
    bad(join(dir, "none.png"), /cannot be read/);
    bad(dir, /not a regular file/);
    bad(join(dir, "x.txt"), /neither a PNG nor a JPEG/);
    bad(join(dir, "cut.png"), /did not decode/);
  });
});
