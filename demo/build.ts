/**
 * `npm run demo:build [-- --out DIR]`: the in-browser demo as a self-contained folder
 * (default `demo/dist/`): index.html, style.css, demo.js (the page's code and the library's
 * entry for browsers, bundled by esbuild), the WebAssembly kernels and the shipped optimizer.
 * Every URL in it is relative and nothing outside it is requested, so any static server can
 * host it at any path (`python3 -m http.server -d demo/dist`, say); opened as a file it
 * cannot fetch its kernels.
 */
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { ASSETS } from "./assets.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
/** Where `npm run demo:build` writes the folder. */
export const DEFAULT_OUT = join(HERE, "dist");

/** Fails the bundle on any Node built-in module: the page must not need one. */
const noNodeModules: Plugin = {
  name: "no-node-modules",
  setup(b) {
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /.*/ }, (args) => {
      if (!args.path.startsWith("node:") && !builtins.has(args.path.split("/")[0]!)) return undefined;
      return { errors: [{ text: `${relative(ROOT, args.importer)} imports the Node module "${args.path}", which a browser does not have` }] };
    });
  },
};

export interface DemoBuild {
  readonly outDir: string;
  /** The files written, relative to `outDir`, with their sizes in bytes. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly bytes: number }>;
}

/** Builds the demo into `outDir` (created if needed; files of an earlier build are replaced). */
export async function buildDemo(outDir: string = DEFAULT_OUT): Promise<DemoBuild> {
  for (const a of Object.values(ASSETS)) {
    if (!existsSync(join(ROOT, a.from))) {
      const how = a.from.startsWith("build/") ? "run `npm run build:wasm`" : "the package is incomplete";
      throw new Error(`demo: ${a.from} is missing: ${how}`);
    }
  }
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(HERE, "main.ts")],
    outfile: join(outDir, "demo.js"),
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [noNodeModules],
  });
  const copies: Array<[string, string]> = [
    ["demo/index.html", "index.html"],
    ["demo/style.css", "style.css"],
    ...Object.values(ASSETS).map((a): [string, string] => [a.from, a.url]),
  ];
  for (const [from, to] of copies) {
    mkdirSync(dirname(join(outDir, to)), { recursive: true });
    copyFileSync(join(ROOT, from), join(outDir, to));
  }
  const paths = ["index.html", "style.css", "demo.js", ...Object.values(ASSETS).map((a) => a.url)];
  return { outDir, files: paths.map((path) => ({ path, bytes: statSync(join(outDir, path)).size })) };
}

function usage(): never {
  console.error("usage: npm run demo:build [-- --out DIR]   (default DIR: demo/dist)");
  process.exit(2);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log("npm run demo:build [-- --out DIR]: writes the in-browser demo into DIR (default demo/dist), a folder any static server can host.");
    process.exit(0);
  }
  let out = DEFAULT_OUT;
  if (args.length === 2 && args[0] === "--out" && args[1] !== "") out = args[1]!;
  else if (args.length !== 0) usage();
  try {
    const r = await buildDemo(out);
    const list = r.files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(1)} KiB)`).join(", ");
    console.log(`demo: wrote ${relative(process.cwd(), r.outDir) || "."}: ${list}`);
    console.log(`demo: serve it with any static server, e.g. python3 -m http.server -d ${relative(process.cwd(), r.outDir) || "."}`);
  } catch (e) {
    const errors = (e as { errors?: Array<{ text: string }> }).errors;
    console.error(`demo: error: ${errors?.map((x) => x.text).join("; ") ?? (e as Error).message}`);
    process.exit(2);
  }
}
