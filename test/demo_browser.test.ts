// The in-browser demo in Debian's chromium (never a downloaded browser), driven by
// playwright-core: the demo is built into a temporary folder, served by a small static server
// on 127.0.0.1 under a sub-path (its URLs must be relative), and loaded with the network
// limited to that server. The page loads without console errors; every racer takes its
// steps and its loss falls; the controls step the race; every request went to 127.0.0.1.
// Screenshots are kept in test-artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { chromium, type Page } from "playwright-core";
import { buildDemo } from "../demo/build.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);
const PREFIX = "/some/path/";
const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
};

/** Serves `dir` under PREFIX on 127.0.0.1, on a free port; 404 for anything else. */
async function serve(dir: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const rel = path.startsWith(PREFIX) ? path.slice(PREFIX.length) || "index.html" : null;
    const file = rel === null ? null : normalize(join(dir, rel));
    if (file === null || !file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { server, origin: `http://127.0.0.1:${port}` };
}

interface Row {
  racer: string;
  steps: number;
  loss0: number;
  loss: number;
}

/** The racers' rows as the page shows them (data attributes). */
async function rows(page: Page): Promise<Row[]> {
  const out: Row[] = [];
  for (const tr of await page.locator("#racers tr").all()) {
    const num = async (name: string): Promise<number> => Number(await tr.getAttribute(`data-${name}`));
    out.push({ racer: (await tr.getAttribute("data-racer")) ?? "", steps: await num("steps"), loss0: await num("loss0"), loss: await num("loss") });
  }
  return out;
}

const state = async (page: Page, name: string): Promise<string | null> => page.locator("#demo").getAttribute(`data-${name}`);

/** Pixels of the learned optimizer's red on the contour plot (page code as a string: this file has no DOM types). */
const RED_PIXELS = `(() => {
  const c = document.getElementById("contours");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 190 && d[i + 1] < 70 && d[i + 2] < 70) n++;
  return n;
})()`;

test("the demo races its optimizers in chromium, offline, and their losses fall", { timeout: 60_000 }, async () => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test never downloads a browser`);
  }
  const dir = mkdtempSync(join(tmpdir(), "l2o-demo-"));
  const { server, origin } = await serve(dir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    await buildDemo(dir);
    const page = await browser.newPage({ viewport: { width: 1000, height: 1150 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    // Anything not for our server is refused (and the assertion below names it).
    await page.route("**/*", (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));

    await page.goto(`${origin}${PREFIX}`);
    await page.locator('#demo[data-state="done"], #demo[data-state="error"]').waitFor({ timeout: 20_000 });
    assert.equal(await state(page, "state"), "done", `the page says: ${await page.textContent("#status")}`);
    assert.equal(await state(page, "function"), "quadratic");
    const quadratic = await rows(page);
    assert.deepEqual(quadratic.map((r) => r.racer), ["learned", "adam", "rmsprop", "nesterov"]);
    for (const r of quadratic) {
      assert.equal(r.steps, 100, `${r.racer} took ${r.steps} steps`);
      assert.ok(r.loss < r.loss0 / 10, `${r.racer}: loss ${r.loss0} -> ${r.loss}`);
    }
    // The learned optimizer's path is drawn: pixels of its color on the contour plot.
    const red = (await page.evaluate(RED_PIXELS)) as number;
    assert.ok(red > 50, `only ${red} pixels of the learned optimizer's color on the contour plot`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("demo-quadratic.png", ARTIFACTS).pathname, fullPage: true });

    // Another function, then the controls: pause, one step.
    await page.selectOption("#fn", "beale");
    await page.waitForFunction('document.getElementById("demo").dataset.function === "beale" && Number(document.getElementById("demo").dataset.step) >= 30', null, {
      timeout: 15_000,
    });
    await page.click("#play");
    await page.locator('#demo[data-state="paused"]').waitFor();
    const before = Number(await state(page, "step"));
    await page.click("#step");
    assert.equal(Number(await state(page, "step")), before + 1);
    for (const r of await rows(page)) {
      assert.equal(r.steps, before + 1, `${r.racer} took ${r.steps} steps`);
      assert.ok(r.loss < r.loss0, `${r.racer} on beale: loss ${r.loss0} -> ${r.loss}`);
    }
    await page.screenshot({ path: new URL("demo-beale.png", ARTIFACTS).pathname, fullPage: true });

    assert.deepEqual(errors, [], "console errors");
    const outside = requests.filter((u) => !u.startsWith(`${origin}/`));
    assert.deepEqual(outside, [], "requests outside 127.0.0.1");
    for (const file of ["demo.js", "kernels/lstm.wasm", "kernels/rules.wasm", "optimizers/quadratic.safetensors"]) {
      assert.ok(requests.includes(`${origin}${PREFIX}${file}`), `the page did not fetch ${file}`);
    }
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
