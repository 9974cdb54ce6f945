/**
 * The few-shot loaders on small generated folders of the real layouts (Omniglot's alphabet and
 * character folders of PNGs, mini-ImageNet's images/ and csv split files), the PNG decoder on
 * every colour type it claims, area resizing, and the one-line errors for wrong layouts.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import jpeg from "jpeg-js";
import { key } from "../src/core/rng.ts";
import { classImages } from "../src/fewshot/data/dataset.ts";
import { sampleEpisode } from "../src/fewshot/data/episode.ts";
import { toPlanar } from "../src/fewshot/data/image_file.ts";
import { miniImagenetDataset } from "../src/fewshot/data/mini_imagenet.ts";
import { omniglotDataset } from "../src/fewshot/data/omniglot.ts";
import { decodePng } from "../src/fewshot/data/png.ts";
import { throwsData } from "./data_errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-fewshot-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  let c = 0xffffffff;
  for (const b of body) c = crcTable[(c ^ b) & 255]! ^ (c >>> 8);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0, 8 + data.length);
  return out;
}

/** A PNG of packed scanlines (`stride` bytes each), row y filtered with filter y % 5, so every filter is exercised. */
function encodePng(o: { width: number; height: number; colour: number; depth: number; lines: Uint8Array; palette?: number[]; interlace?: number }): Buffer {
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[o.colour]!;
  const stride = Math.ceil((o.width * samples * o.depth) / 8);
  const bpp = Math.max(1, (samples * o.depth) >> 3);
  const raw = Buffer.alloc(o.height * (stride + 1));
  for (let y = 0; y < o.height; y++) {
    const f = y % 5;
    raw[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const at = (yy: number, xx: number): number => (yy < 0 || xx < 0 ? 0 : o.lines[yy * stride + xx]!);
      const [a, b, c] = [at(y, x - bpp), at(y - 1, x), at(y - 1, x - bpp)];
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
      raw[y * (stride + 1) + 1 + x] = (o.lines[y * stride + x]! - pred) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr.set([o.depth, o.colour, 0, 0, o.interlace ?? 0], 8);
  const parts = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr)];
  if (o.palette) parts.push(chunk("PLTE", Uint8Array.from(o.palette)));
  parts.push(chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** A 1-bit greyscale PNG (Omniglot's kind): `ink(y, x)` true is black (bit 0). */
function bitPng(side: number, ink: (y: number, x: number) => boolean): Buffer {
  const stride = Math.ceil(side / 8);
  const lines = new Uint8Array(side * stride);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) if (!ink(y, x)) lines[y * stride + (x >> 3)]! |= 0x80 >> (x & 7);
  return encodePng({ width: side, height: side, colour: 0, depth: 1, lines });
}

const pseudo = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 73 + seed * 151 + ((i * i) >> 3)) & 255);

describe("PNG decoder", () => {
  it("decodes 1-bit grey rows that end mid-byte, and 8- and 16-bit grey through all five filters", () => {
    const one = decodePng(bitPng(11, (y, x) => (x + y) % 3 === 0), "a.png");
    assert.deepEqual([one.width, one.height, one.channels], [11, 11, 1]);
    for (let y = 0; y < 11; y++) for (let x = 0; x < 11; x++) assert.equal(one.pixels[y * 11 + x], (x + y) % 3 === 0 ? 0 : 255);
    const lines = pseudo(9 * 7, 1);
    assert.deepEqual(decodePng(encodePng({ width: 9, height: 7, colour: 0, depth: 8, lines }), "g.png").pixels, lines);
    const wide = pseudo(2 * 9 * 7, 2);
    const hi = decodePng(encodePng({ width: 9, height: 7, colour: 0, depth: 16, lines: wide }), "w.png").pixels;
    assert.deepEqual(hi, Uint8Array.from({ length: 63 }, (_, i) => wide[2 * i]!));
  });

  it("decodes RGB, a 2-bit palette, and alpha over white", () => {
    const rgb = pseudo(3 * 6 * 5, 3);
    assert.deepEqual(decodePng(encodePng({ width: 6, height: 5, colour: 2, depth: 8, lines: rgb }), "c.png").pixels, rgb);
    // Two pixels per row at 2 bits: indices 1 and 2 packed in the top nibble.
    const pal = decodePng(encodePng({ width: 2, height: 1, colour: 3, depth: 2, lines: Uint8Array.of(0b0110_0000), palette: [0, 0, 0, 10, 20, 30, 200, 100, 50] }), "p.png");
    assert.deepEqual([...pal.pixels], [10, 20, 30, 200, 100, 50]);
    const rgba = decodePng(encodePng({ width: 2, height: 1, colour: 6, depth: 8, lines: Uint8Array.of(10, 20, 30, 255, 10, 20, 30, 0) }), "t.png");
    assert.deepEqual([...rgba.pixels], [10, 20, 30, 255, 255, 255]);
    const ga = decodePng(encodePng({ width: 1, height: 1, colour: 4, depth: 8, lines: Uint8Array.of(0, 128) }), "ga.png");
    assert.equal(ga.pixels[0], 127);
  });

  it("refuses other files, truncation and interlacing with a DataError naming the file", () => {
    throwsData(() => decodePng(Buffer.from("GIF89a...."), "x.gif"), /^x\.gif: not a PNG file/);
    const good = bitPng(8, () => false);
    throwsData(() => decodePng(good.subarray(0, good.length - 20), "cut.png"), /cut\.png: truncated PNG/);
    throwsData(() => decodePng(encodePng({ width: 1, height: 1, colour: 0, depth: 8, lines: Uint8Array.of(1), interlace: 1 }), "i.png"), /interlaced/);
    throwsData(() => decodePng(encodePng({ width: 1, height: 1, colour: 2, depth: 4, lines: Uint8Array.of(1, 2) }), "d.png"), /colour type 2 with bit depth 4/);
  });
});

describe("area resizing", () => {
  it("averages the source area under each output pixel and keeps a constant image constant", () => {
    const img = { width: 4, height: 2, channels: 1 as const, pixels: Uint8Array.of(0, 100, 50, 50, 200, 100, 0, 250) };
    assert.deepEqual([...toPlanar(img, 1, 1, 2)], [100, 88]); // (0+100+200+100)/4, (50+50+0+250)/4 = 87.5
    const flat = { width: 105, height: 105, channels: 3 as const, pixels: new Uint8Array(3 * 105 * 105).fill(77) };
    const out = toPlanar(flat, 1, 28, 28);
    assert.ok(out.every((v) => v === 77));
    assert.deepEqual([...toPlanar({ width: 1, height: 1, channels: 1, pixels: Uint8Array.of(9) }, 3, 1, 1)], [9, 9, 9]);
  });
});

/** Omniglot's layout: `chars[folder][alphabet]` characters, 4 drawings each; character k's ink is a 7-pixel square at row 3k. */
function omniglot(root: string, chars: Record<string, Record<string, number>>): void {
  let k = 0;
  for (const [top, alphabets] of Object.entries(chars)) {
    for (const [alphabet, n] of Object.entries(alphabets)) {
      for (let c = 1; c <= n; c++, k++) {
        const dir = join(root, top, alphabet, `character${String(c).padStart(2, "0")}`);
        mkdirSync(dir, { recursive: true });
        const row = 3 * (k % 9);
        for (let d = 1; d <= 4; d++) writeFileSync(join(dir, `${1000 + k}_${d}.png`), bitPng(35, (y, x) => y >= row && y < row + 7 && x < 7 + d));
      }
    }
  }
}

describe("Omniglot loader", () => {
  const root = join(tmp, "omniglot");
  omniglot(root, { images_background: { Alpha: 4, Beta: 3 }, images_evaluation: { Gamma: 3 } });
  const opts = { trainClasses: 7, valClasses: 2 };

  it("splits the characters of both folders into disjoint train / val / test sets of the asked sizes", () => {
    const splits = (["train", "val", "test"] as const).map((split) => omniglotDataset(root, { split, ...opts }));
    assert.deepEqual(splits.map((d) => d.classes), [5, 2, 3]);
    const names = splits.flatMap((d) => Array.from({ length: d.classes }, (_, c) => d.className(c)));
    assert.equal(new Set(names).size, 10);
    assert.ok(names.includes("Gamma/character03") && names.includes("Alpha/character01"));
    assert.deepEqual(splits[0]!.shape, [1, 28, 28]);
    assert.equal(splits[0]!.count(0), 4);
  });

  it("resizes 35 -> 28 by area, inverted to ink 1 on 0; rotations make four classes of each character", () => {
    const ds = omniglotDataset(root, { split: "test", ...opts });
    const img = classImages(ds, 0).subarray(0, 784);
    const max = Math.max(...img);
    assert.ok(Math.abs(max - 1) < 1e-6);
    assert.ok(img.filter((v) => v > 0.5).length > 20 && img.filter((v) => v === 0).length > 600, "a small square of ink on an empty ground");
    const rot = omniglotDataset(root, { split: "test", ...opts, rotations: true });
    assert.equal(rot.classes, 12);
    assert.equal(rot.className(5), `${ds.className(1)}@90`);
    const base = classImages(rot, 4);
    const quarter = classImages(rot, 5);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) assert.equal(quarter[y * 28 + x], base[x * 28 + 27 - y]);
    const ep = sampleEpisode(rot, key(3), { ways: 3, shots: 1, queries: 2 });
    assert.equal(ep.query.x.length, 6 * 784);
  });

  it("names the path and the problem for a wrong layout", () => {
    throwsData(() => omniglotDataset(join(tmp, "nowhere"), { split: "train" }), /folder not found: .*nowhere \(Omniglot is not shipped/);
    const half = join(tmp, "half");
    omniglot(half, { images_background: { Alpha: 3 } });
    throwsData(() => omniglotDataset(half, { split: "train" }), /folder not found: .*images_evaluation/);
    const empty = join(tmp, "empty");
    omniglot(empty, { images_background: { Alpha: 3 }, images_evaluation: { Beta: 2 } });
    mkdirSync(join(empty, "images_evaluation", "Beta", "character09"));
    throwsData(() => omniglotDataset(empty, { split: "train" }), /Beta\/character09: a character folder without images/);
    const stray = join(tmp, "stray");
    omniglot(stray, { images_background: { Alpha: 3 }, images_evaluation: { Beta: 2 } });
    writeFileSync(join(stray, "images_background", "notes.txt"), "x");
    throwsData(() => omniglotDataset(stray, { split: "train" }), /notes\.txt: a file where alphabet folders belong/);
    rmSync(join(stray, "images_background", "notes.txt"));
    writeFileSync(join(stray, "images_background", "Alpha", "character01", "x.jpg"), "x");
    throwsData(() => omniglotDataset(stray, { split: "train" }), /x\.jpg: not a \.png file/);
    const broken = join(tmp, "broken");
    omniglot(broken, { images_background: { Alpha: 1 }, images_evaluation: { Beta: 2 } });
    for (const c of ["character01", "character02"]) for (let d = 1; d <= 4; d++) writeFileSync(join(broken, "images_evaluation", "Beta", c, `${1000 + d}_${d}.png`), "not an image");
    const ds = omniglotDataset(broken, { split: "test", trainClasses: 2, valClasses: 1 });
    throwsData(() => classImages(ds, 0), /images_evaluation\/Beta\/character0\d\/100\d_\d\.png: neither a PNG nor a JPEG file/);
  });
});

describe("mini-ImageNet loader", () => {
  const root = join(tmp, "mini");
  const colours: Record<string, [number, number, number]> = { n01: [230, 20, 20], n02: [20, 230, 20], n03: [20, 20, 230], n04: [230, 230, 20], n05: [20, 230, 230], n06: [128, 128, 128] };
  mkdirSync(join(root, "images"), { recursive: true });
  const rows: Record<string, string[]> = { train: [], val: [], test: [] };
  const splitOf: Record<string, string> = { n01: "train", n02: "train", n03: "train", n04: "val", n05: "test", n06: "test" };
  for (const [label, [r, g, b]] of Object.entries(colours)) {
    for (let i = 0; i < 3; i++) {
      const data = Buffer.alloc(20 * 16 * 4);
      for (let p = 0; p < 320; p++) data.set([r, g, b, 255], 4 * p);
      const name = `${label}0000000${i}.jpg`;
      writeFileSync(join(root, "images", name), jpeg.encode({ width: 20, height: 16, data }, 95).data);
      rows[splitOf[label]!]!.push(`${name},${label}`);
    }
  }
  for (const [s, r] of Object.entries(rows)) writeFileSync(join(root, `${s}.csv`), `filename,label\r\n${r.join("\r\n")}\r\n`);

  it("groups each split file's rows by label and reads 84 x 84 RGB in [0, 1]", () => {
    const sizes = (["train", "val", "test"] as const).map((split) => miniImagenetDataset(root, { split }));
    assert.deepEqual(sizes.map((d) => d.classes), [3, 1, 2]);
    const train = sizes[0]!;
    assert.deepEqual([train.className(0), train.className(2), train.count(1)], ["n01", "n03", 3]);
    assert.deepEqual(train.shape, [3, 84, 84]);
    const img = classImages(train, 1).subarray(0, 3 * 84 * 84);
    const mean = (c: number): number => img.subarray(c * 7056, (c + 1) * 7056).reduce((a, v) => a + v, 0) / 7056;
    assert.ok(mean(0) < 0.2 && mean(1) > 0.8 && mean(2) < 0.2, `green: ${mean(0)}, ${mean(1)}, ${mean(2)}`);
    const ep = sampleEpisode(miniImagenetDataset(root, { split: "train", size: 12 }), key(1), { ways: 3, shots: 1, queries: 2 });
    assert.equal(ep.support.x.length, 3 * 3 * 144);
  });

  it("names the path and the problem for a wrong layout", () => {
    const bad = join(tmp, "mini-bad");
    mkdirSync(join(bad, "images"), { recursive: true });
    throwsData(() => miniImagenetDataset(bad, { split: "val" }), /split file not found: .*val\.csv/);
    writeFileSync(join(bad, "val.csv"), "n040.jpg,n04\n");
    throwsData(() => miniImagenetDataset(bad, { split: "val" }), /val\.csv: the first line must be the header "filename,label", found "n040\.jpg,n04"/);
    writeFileSync(join(bad, "val.csv"), "filename,label\nn040.jpg\n");
    throwsData(() => miniImagenetDataset(bad, { split: "val" }), /val\.csv: line 2 is not "filename,label"/);
    writeFileSync(join(bad, "val.csv"), "filename,label\n");
    throwsData(() => miniImagenetDataset(bad, { split: "val" }), /no rows after the header/);
    writeFileSync(join(bad, "val.csv"), "filename,label\nn040.jpg,n04\n");
    throwsData(() => miniImagenetDataset(bad, { split: "val" }), /class n04 lists .*images\/n040\.jpg, which is not a file/);
    writeFileSync(join(bad, "images", "n040.jpg"), "<html>not found</html>");
    const ds = miniImagenetDataset(bad, { split: "val" });
    throwsData(() => classImages(ds, 0), /n040\.jpg: neither a PNG nor a JPEG file/);
    throwsData(() => miniImagenetDataset(join(tmp, "omniglot"), { split: "train" }), /folder not found: .*omniglot\/images \(mini-ImageNet is not shipped/);
  });
});
