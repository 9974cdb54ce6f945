/**
 * `l2o rl train --trainer gps` and its variant flags: Levine et al.'s pieces by default and the
 * earlier GPS on request, both recorded in the file's training summary (the earlier one with a
 * KL bound that never moves); an unknown variant is a one-line error (exit 2) naming the flag.
 * Controllers on the feature state (`--controller-state features --groups`) train a task over
 * the dense controllers' limit, which `--controller-state x` still refuses in one line; a bad
 * `--groups`, or a flag the grouped mode has no use for, is a one-line error too.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { assertInputError, l2o } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-cli-rl-gps-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const common = ["rl", "train", "--task", "logistic-regression", "--task-config", '{"dim":2,"points":40}', "--trainer", "gps", "--steps", "10", "--history", "3", "--hidden", "4", "--iterations", "3", "--batch", "2", "--samples", "3", "--json"];

describe("l2o rl train --trainer gps variants", () => {
  it("records the variant it trained with, and the earlier one keeps its bound", async () => {
    const levine = await l2o(...common, "--out", join(dir, "a.safetensors"));
    assert.equal(levine.code, 0, levine.stderr);
    const a = JSON.parse(levine.stdout) as { dynamicsPrior: string; klEstimate: string; stepRule: string; gps: { stepMult: number[] } };
    assert.deepEqual([a.dynamicsPrior, a.klEstimate, a.stepRule], ["gmm", "model", "adaptive"]);
    assert.equal(a.gps.stepMult.length, 3);
    const earlier = await l2o(...common, "--dynamics-prior", "pooled", "--kl-estimate", "samples", "--step-rule", "fixed", "--out", join(dir, "b.safetensors"));
    assert.equal(earlier.code, 0, earlier.stderr);
    const b = JSON.parse(earlier.stdout) as typeof a;
    assert.deepEqual([b.dynamicsPrior, b.klEstimate, b.stepRule], ["pooled", "samples", "fixed"]);
    assert.deepEqual(b.gps.stepMult, [1, 1, 1]);
  });

  it("refuses an unknown variant in one line", async () => {
    for (const [flag, bad] of [["--dynamics-prior", "mixture"], ["--kl-estimate", "exact"], ["--step-rule", "auto"]] as const) {
      const r = await l2o(...common, flag, bad, "--out", join(dir, "c.safetensors"));
      assertInputError(r, new RegExp(`${flag} must be one of .*got '${bad}'`), flag);
    }
  });

  const wide = ["rl", "train", "--task", "logistic-regression", "--task-config", '{"dim":300,"points":30}', "--trainer", "gps", "--steps", "6", "--history", "2", "--hidden", "3", "--iterations", "1", "--batch", "2", "--samples", "2", "--json"];

  it("trains a task over 256 parameters on the feature state, and refuses it on x in one line", async () => {
    const ok = await l2o(...wide, "--controller-state", "features", "--groups", "3", "--out", join(dir, "g.safetensors"));
    assert.equal(ok.code, 0, ok.stderr);
    const a = JSON.parse(ok.stdout) as { controllerState: string; groups: unknown; dynamicsPrior: string; costs: number[] };
    assert.deepEqual([a.controllerState, a.groups, a.dynamicsPrior], ["features", 3, "pooled"]);
    assert.ok(a.costs.length === 1 && Number.isFinite(a.costs[0]));
    const refused = await l2o(...wide, "--out", join(dir, "x.safetensors"));
    assertInputError(refused, /has 301 parameters; .*at most 256 .*--controller-state features/, "x state over the limit");
  });

  it("refuses bad grouped settings in one line", async () => {
    const cases: [string[], RegExp][] = [
      [["--controller-state", "groups"], /--controller-state must be one of x, features, got 'groups'/],
      [["--groups", "4"], /--groups needs --controller-state features/],
      [["--controller-state", "features", "--groups", "0"], /--groups must be 'all', 'tensors' or an integer/],
      [["--controller-state", "features", "--groups", "layers"], /--groups must be 'all', 'tensors' or an integer/],
      [["--controller-state", "features", "--groups", "302"], /302 groups asked for a task of 301 parameters/],
      [["--controller-state", "features", "--dynamics-prior", "gmm"], /--dynamics-prior gmm is for --controller-state x/],
      [["--controller-state", "features", "--trainer", "pg"], /--controller-state features is for --trainer gps, not pg/],
    ];
    for (const [flags, msg] of cases) assertInputError(await l2o(...wide, ...flags, "--out", join(dir, "bad.safetensors")), msg, flags.join(" "));
  });
});
