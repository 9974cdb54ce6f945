import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bits, key } from "../src/core/rng.ts";
import { sha256, sha256Hex } from "../src/io/sha256.ts";

const reference = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("sha256: the FIPS 180-4 examples", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(sha256Hex(ascii("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(sha256Hex(ascii("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(
    sha256Hex(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(sha256(ascii("abc")).length, 32);
});

test("sha256: agrees with node:crypto on every length around the block and padding edges, and at offsets", () => {
  const words = bits(key(5), 1200);
  const all = new Uint8Array(words.buffer);
  for (let n = 0; n <= 260; n++) assert.equal(sha256Hex(all.subarray(0, n)), reference(all.subarray(0, n)), `length ${n}`);
  // A view into a larger buffer, at an odd offset.
  const view = all.subarray(3, 3 + 1000);
  assert.equal(sha256Hex(view), reference(view));
  const big = new Uint8Array(bits(key(6), (1 << 20) / 4 + 5).buffer);
  assert.equal(sha256Hex(big), reference(big));
});
