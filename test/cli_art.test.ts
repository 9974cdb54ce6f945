/**
 * `l2o art` through the CLI: a styled PNG of the asked size, a strip with a baseline, and
 * one-line errors (exit 2) for a missing image, a bad size and an output that is not a PNG; the
 * PNG replaces an earlier one whole (a new file renamed over it), or not at all.
 */
import assert from "node:assert/strict";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runL2o, runL2oSync, type Result } from "./cli_run.ts";
import { decodePng } from "./png_decode.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-cli-art-"));

const l2o = (...args: string[]): Result => runL2oSync(args, 60_000);

describe("l2o art", () => {
  it("writes the styled image, and with --baseline the four images side by side, each run's loss falling", () => {
    const one = join(dir, "one.png");
    const r = l2o("art", "--optimizer", "adam@0.03", "--content", "mosaic", "--size", "16", "--steps", "5", "--out", one);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(decodePng(readFileSync(one)).width, 16);
    const strip = join(dir, "strip.png");
    const s = l2o("art", "--optimizer", "adam@0.03", "--baseline", "sgd@1", "--content", "nagasaki-boats", "--size", "16", "--steps", "5", "--out", strip);
    assert.equal(s.code, 0, s.stderr);
    const png = decodePng(readFileSync(strip));
    assert.equal(png.width, 4 * 16 + 3 * 4);
    assert.equal(png.height, 16);
    const losses = [...s.stdout.matchAll(/loss ([\d.e+-]+) -> ([\d.e+-]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    assert.equal(losses.length, 2, s.stdout);
    for (const [a, b] of losses) assert.ok(b < a, s.stdout);
  });

  it("refuses a missing image, a bad size and a non-PNG output in one line with exit code 2, writing nothing", () => {
    const out = join(dir, "never.png");
    for (const [args, re] of [
      [["--content", join(dir, "none.jpg")], /cannot be read/],
      [["--content", "strokes", "--size", "30"], /multiple of 4/],
      [["--content", "strokes", "--style", "monet"], /'monet' is neither a known image \(strokes, mosaic/],
    ] as const) {
      const r = l2o("art", "--optimizer", "adam", ...args, "--steps", "2", "--out", out);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const r = l2o("art", "--optimizer", "adam", "--content", "strokes", "--out", join(dir, "x.jpg"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must end in \.png/);
    assert.equal(existsSync(out), false);
  });

  it("replaces an existing PNG by a whole new file, leaving no temporary; a write that fails leaves the old one as it was", async () => {
    const folder = join(dir, "replace");
    mkdirSync(folder);
    const out = join(folder, "styled.png");
    const old = Buffer.from("an earlier image, not a PNG at all");
    writeFileSync(out, old);
    // A second name for the old file's bytes: a write in place (truncate, then write) changes
    // them too, and a kill between the two would leave a cut-short PNG.
    const before = join(folder, "before.png");
    linkSync(out, before);
    const r = l2o("art", "--optimizer", "adam@0.03", "--content", "mosaic", "--size", "16", "--steps", "2", "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(before).equals(old), "the old file's bytes were written over in place");
    assert.equal(decodePng(readFileSync(out)).width, 16);
    assert.deepEqual(readdirSync(folder).sort(), ["before.png", "styled.png"], "a temporary file was left behind");

    // The write fails: the temporary's path (out.tmp-<pid>) is a folder, made as the process starts,
    // long before it has an image to write. The PNG at --out is the one it found.
    const kept = readFileSync(out);
    let blocker = "";
    const failed = await runL2o(["art", "--optimizer", "adam@0.03", "--content", "mosaic", "--size", "16", "--steps", "2", "--out", out], {
      onStart: (child) => {
        blocker = `${out}.tmp-${child.pid}`;
        mkdirSync(blocker);
      },
    });
    assert.notEqual(failed.code, 0, `the write should have failed: ${failed.stdout}`);
    assert.match(failed.stderr, /EISDIR/);
    assert.ok(readFileSync(out).equals(kept), "the existing PNG changed although the write failed");
    assert.deepEqual(readdirSync(folder).sort(), ["before.png", "styled.png", `styled.png.tmp-${blocker.split(".tmp-")[1]}`]);
  });
});
