/** Reading a JSONL training log in tests. */
import { readFileSync } from "node:fs";

/** A log's lines without their wall-clock times (what two equal trainings share). */
export const logLines = (path: string): string[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const { time: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    });
