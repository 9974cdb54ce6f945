/**
 * Running the `l2o` command line from tests: `node bin/l2o.js ...args` in the repository,
 * asynchronously (independent runs overlap), its output piped, and the check that bad input
 * ended as the CLI promises (exit code 2, one `l2o: error:` line).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("..", import.meta.url));
export const BIN = join(REPO, "bin", "l2o.js");

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with the child as soon as it starts (to signal or kill it). */
  readonly onStart?: (child: ChildProcess) => void;
}

/** Runs `l2o ...args` and resolves with its exit code and output. */
export function runL2o(args: readonly string[], opts: RunOptions = {}): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    opts.onStart?.(child);
  });
}

/** Runs `l2o ...args` to its end (killed after `timeoutMs`; none: no limit), for tests that run one command at a time. */
export function runL2oSync(args: readonly string[], timeoutMs?: number): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: "utf8", ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `l2o ...args`. */
export const l2o = (...args: string[]): Promise<Result> => runL2o(args);

/** `l2o ...args` with extra environment variables. */
export const l2oEnv = (env: Record<string, string>, ...args: string[]): Promise<Result> => runL2o(args, { env });

/** Exit code 2 and exactly one line on standard error, `l2o: error: ...` matching `msg`. */
export function assertInputError(r: Result, msg: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit code ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, /^l2o: error: [^\n]+\n$/, `${what}: stderr is not one 'l2o: error:' line: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, msg, what);
}
