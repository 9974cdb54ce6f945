/**
 * The dashboard in a real browser (Debian's chromium, driven headless by playwright-core; no
 * browser is ever downloaded): the page loads, lists a report and a training log, draws the
 * report's figure, and follows the training log as lines are appended during the test. Every
 * request the page makes is recorded: all must go to the dashboard on 127.0.0.1, and the page
 * must log no error (a Content-Security-Policy violation would). A screenshot is kept in
 * test-artifacts/.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { startDashboard, type Dashboard } from "../src/dashboard/server.ts";
import { sampleReport, trainingLines } from "./dashboard_fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "l2o-dashboard-browser-"));
let dash: Dashboard | undefined;
let browser: Browser | undefined;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests; CI installs it`);
  }
  mkdirSync(join(dir, "evals"), { recursive: true });
  writeFileSync(join(dir, "evals", "quadratic.json"), JSON.stringify(sampleReport("quadratic")));
  writeFileSync(join(dir, "live.jsonl"), trainingLines(0, 8).join(""));
  dash = await startDashboard({ dir, port: 0, pollMs: 100 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await dash?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("l2o dashboard in chromium", () => {
  it("lists the runs, draws a figure, follows a live training, and asks nothing of any other host", async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

    await page.goto(dash!.url);
    await page.locator('nav a[data-file="evals/quadratic.json"]').click();
    // The report's figure: an inline SVG with drawn paths (the lines and bands).
    const drawn = '#figure svg path[d*="L"]'; // a line, not an empty background
    await page.locator(drawn).first().waitFor({ state: "attached" });
    assert.ok((await page.locator(drawn).count()) >= 4, "the figure draws its lines and bands");
    assert.match((await page.locator("#figure svg").textContent()) ?? "", /adam/);

    await page.locator('nav a[data-file="live.jsonl"]').click();
    const status = page.locator("#live-status");
    await page.locator('#live-status[data-points="8"]').waitFor();
    await page.locator(drawn).first().waitFor({ state: "attached" });
    // The training goes on: four more meta-iterations (and an epoch) appended now.
    appendFileSync(join(dir, "live.jsonl"), trainingLines(8, 4).join(""));
    await page.locator('#live-status[data-points="12"]').waitFor({ timeout: 10000 });
    assert.match((await status.textContent()) ?? "", /12 meta-iterations; epoch 3, validation/);
    // After the new epoch the figure drawn by the server is drawn again.
    await page.locator("#figure svg", { hasText: "12 meta-iterations" }).waitFor({ timeout: 10000 });
    const points = ((await page.locator("#live polyline").getAttribute("points")) ?? "").trim().split(/\s+/);
    assert.equal(points.length, 12, "the live curve has a point per meta-iteration");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });

    const origin = dash!.url.slice(0, -1);
    const elsewhere = requests.filter((u) => !u.startsWith(`${origin}/`));
    assert.deepEqual(elsewhere, [], "every request went to the dashboard on 127.0.0.1");
    assert.ok(requests.some((u) => u.includes("/api/events?file=live.jsonl")), "the log was followed by its event stream");
    assert.deepEqual(problems, [], "no errors or warnings in the page (a blocked resource would be one)");
    await page.close();
  });
});
