// One LSTM per layout group: `l2o train --lstm-groups` records the groups in the file, the file
// reloads with them, and each group's coordinates go through its own LSTM's weights.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { key } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { loadLearnedOptimizer, saveLearnedOptimizer } from "../src/learned/file.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { runL2oSync, type Result } from "./cli_run.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-groups-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TINY = ["--task", "cnn", "--task-config", '{"channels":[2],"fc":4,"batchSize":4}', "--horizon", "2", "--unroll", "2", "--epochs", "1", "--horizons-per-epoch", "1", "--validation-tasks", "1", "--quiet", "--threads", "1"];
const l2o = (args: string[]): Result => runL2oSync(args);

describe("one LSTM per layout group", () => {
  it("l2o train --lstm-groups: conv/fc gives two LSTMs in the file, one a single one, a bad list exit 2", () => {
    const two = join(tmp, "two.safetensors");
    const r = l2o(["train", ...TINY, "--out", two, "--lstm-groups", "conv/fc"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((loadLearnedOptimizer(two).optimizer.config as { groups?: unknown }).groups, [["conv"], ["fc"]]);
    const one = join(tmp, "one.safetensors");
    assert.equal(l2o(["train", ...TINY, "--out", one, "--lstm-groups", "one"]).code, 0);
    assert.equal((loadLearnedOptimizer(one).optimizer.config as { groups?: unknown }).groups, undefined);
    const bad = l2o(["train", ...TINY, "--out", join(tmp, "bad.safetensors"), "--lstm-groups", "conv fc"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^l2o: error: --lstm-groups expects layout groups as conv\/fc/);
    const missing = l2o(["train", ...TINY, "--out", join(tmp, "bad.safetensors"), "--lstm-groups", "fc"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /layout group 'conv' .* is in no LSTM group/);
  });

  it("a file saved with groups reloads with them, and each group's coordinates follow its own LSTM", () => {
    const layout = new ParamLayout([
      { name: "k", shape: [3], group: "conv" },
      { name: "w", shape: [4], group: "fc" },
      { name: "k2", shape: [2], group: "conv" },
    ]);
    const opt = lstmOptimizer({ groups: [["conv"], ["fc"]] });
    const phi = opt.init(key(0)).flat;
    const path = join(tmp, "groups.safetensors");
    saveLearnedOptimizer(path, opt, phi);
    const loaded = loadLearnedOptimizer(path);
    assert.deepEqual((loaded.optimizer.config as { groups?: unknown }).groups, [["conv"], ["fc"]]);
    assert.deepEqual(loaded.phi, phi);
    const grads = new Float32Array([0.5, -1, 2, 0.1, -0.2, 0.3, 3, -4, 0.7]);
    const params = new Float32Array(9);
    const step = (p: Float32Array): Float32Array => {
      const tx = loaded.optimizer.optFn(p, layout);
      const [u] = tx.update(grads, tx.init(params), params);
      tx.dispose?.();
      return u;
    };
    const base = step(phi);
    // Change only the second LSTM's output bias: the fc coordinates move, the conv ones do not.
    const e = loaded.optimizer.phiEntries;
    let off = 0;
    for (const x of e) {
      if (x.name === "lstm1.head.bias") break;
      off += x.shape.reduce((a, b) => a * b, 1);
    }
    const changed = phi.slice();
    changed[off] = changed[off]! + 1;
    const u = step(changed);
    const fc = [3, 4, 5, 6];
    for (let i = 0; i < 9; i++) {
      if (fc.includes(i)) assert.notEqual(u[i], base[i], `fc coordinate ${i} should change`);
      else assert.equal(u[i], base[i], `conv coordinate ${i} should not change`);
    }
  });
});
