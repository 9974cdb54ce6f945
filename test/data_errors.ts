// The check the data readers' tests share: bad input ends in one DataError of one line.
import assert from "node:assert/strict";
import { DataError } from "../src/data/idx.ts";

/** Asserts that `fn` throws a DataError whose message matches `re` and is one line. */
export function throwsData(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}
