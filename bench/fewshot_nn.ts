// Measurement (not a test): how hard a few-shot source's episodes are for the simplest
// classifier, a nearest neighbour on raw pixels (squared distance; each query takes the label of
// its nearest support image). Vinyals et al. (2016, table 1) report this baseline on Omniglot:
// 41.7% (5-way 1-shot), 63.2% (5-way 5-shot), 26.7% (20-way 1-shot), 42.6% (20-way 5-shot).
//
//   npx tsx bench/fewshot_nn.ts [--source glyphs|omniglot|mini-imagenet] [--data DIR]
//                               [--split test] [--episodes 1000] [--queries 15] [--json]
//
// Prints, for 5-way and 20-way with 1 and 5 shots, the mean accuracy over the episodes and its
// standard error (episodes drawn from keys foldIn(key(2024), e), so runs repeat exactly).
import { foldIn, key } from "../src/core/rng.ts";
import { type Episode, openFewShotDataset, parseSplit, sampleEpisode } from "../src/fewshot/data/index.ts";
import { arg } from "./args.ts";

const source = arg("source", "glyphs")!;
const data = arg("data", undefined);
const split = parseSplit(arg("split", "test")!);
const episodes = Number(arg("episodes", "1000"));
const queries = Number(arg("queries", "15"));

function accuracy(ep: Episode): number {
  const n = ep.shape[0] * ep.shape[1] * ep.shape[2];
  const { x: qx, y: qy } = ep.query;
  const { x: sx, y: sy } = ep.support;
  let right = 0;
  for (let q = 0; q < ep.query.n; q++) {
    let best = Infinity;
    let label = -1;
    for (let s = 0; s < ep.support.n; s++) {
      let d = 0;
      for (let k = 0; k < n; k++) d += (qx[q * n + k]! - sx[s * n + k]!) ** 2;
      if (d < best) [best, label] = [d, sy[s]!];
    }
    if (label === qy[q]) right++;
  }
  return right / ep.query.n;
}

const ds = openFewShotDataset(source, split, data !== undefined ? { data } : {});
const rows: { ways: number; shots: number; mean: number; se: number; episodes: number }[] = [];
for (const [ways, shots] of [[5, 1], [5, 5], [20, 1], [20, 5]] as const) {
  const accs: number[] = [];
  for (let e = 0; e < episodes; e++) accs.push(accuracy(sampleEpisode(ds, foldIn(key(2024), e), { ways, shots, queries })));
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, accs.length - 1));
  rows.push({ ways, shots, mean, se: sd / Math.sqrt(accs.length), episodes });
}
if (process.argv.includes("--json")) console.log(JSON.stringify({ source: ds.name, queries, rows }));
else {
  console.log(`${ds.name}: raw-pixel nearest neighbour, ${episodes} episodes of ${queries} queries per class`);
  for (const r of rows) console.log(`${r.ways}-way ${r.shots}-shot  ${(100 * r.mean).toFixed(1)}% ± ${(100 * r.se).toFixed(1)} (chance ${(100 / r.ways).toFixed(1)}%)`);
}
