/**
 * The demo page: fetches the WebAssembly kernels and the shipped optimizer (relative URLs,
 * nothing else), then races the learned optimizer against tuned baselines on the chosen
 * function, a few steps per animation frame. The page's state is in data attributes
 * (`#demo[data-state][data-step]`, each racer's row `[data-steps][data-loss0][data-loss]`),
 * which test/demo_browser.test.ts reads.
 */
import { decodeLearnedOptimizer, setKernelSource } from "../src/browser.ts";
import { ASSETS } from "./assets.ts";
import { COLORS, drawContours, drawLosses } from "./plot.ts";
import { DEMO_FUNCTIONS, Race, demoFunction, tunedRates, type LearnedForRace } from "./race.ts";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const root = $<HTMLElement>("demo");
const fnSelect = $<HTMLSelectElement>("fn");
const playButton = $<HTMLButtonElement>("play");
const speedSelect = $<HTMLSelectElement>("speed");
const status = $<HTMLElement>("status");
const contours = $<HTMLCanvasElement>("contours");
const lossCanvas = $<HTMLCanvasElement>("losses");
const tbody = $<HTMLElement>("racers");

let learned: LearnedForRace | undefined;
let race: Race | undefined;
let playing = false;
let carry = 0;
let last = 0;
const rates = new Map<string, Record<string, number>>();

const fmt = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : "diverged");

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not fetch ${url} (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

function setState(state: string, message?: string): void {
  root.dataset.state = state;
  if (message !== undefined) status.textContent = message;
  playButton.textContent = state === "running" ? "Pause" : "Play";
}

function fail(e: unknown): void {
  playing = false;
  const message = e instanceof Error ? e.message : String(e);
  setState("error", `Error: ${message}`);
  console.error(e);
}

/** The table's rows, one per racer, made when a race starts. */
function makeRows(r: Race): void {
  tbody.replaceChildren(
    ...r.racers.map((racer) => {
      const tr = document.createElement("tr");
      tr.dataset.racer = racer.id;
      tr.dataset.loss0 = String(racer.losses[0]);
      const cells = [
        `<span class="swatch" style="background:${COLORS[racer.id] ?? "#000"}"></span>`,
        racer.label,
        racer.lr === undefined ? "(learned)" : String(racer.lr),
        "0",
        fmt(racer.losses[0]!),
        fmt(racer.losses[0]!),
      ];
      tr.innerHTML = cells.map((c) => `<td>${c}</td>`).join("");
      return tr;
    }),
  );
}

function render(): void {
  if (race === undefined) return;
  drawContours(contours, race.fn, race.racers);
  drawLosses(lossCanvas, race.racers, race.spec.steps);
  root.dataset.step = String(race.step);
  for (const racer of race.racers) {
    const tr = tbody.querySelector<HTMLTableRowElement>(`tr[data-racer="${racer.id}"]`)!;
    const loss = racer.losses[racer.losses.length - 1]!;
    tr.dataset.steps = String(racer.losses.length - 1);
    tr.dataset.loss = String(loss);
    const cells = tr.querySelectorAll("td");
    cells[3]!.textContent = String(racer.losses.length - 1);
    cells[4]!.textContent = racer.diverged ? "diverged" : fmt(loss);
    cells[5]!.textContent = fmt(Math.min(...racer.losses.filter(Number.isFinite)));
  }
  if (race.done) {
    const ranked = [...race.racers].sort((a, b) => (a.losses.at(-1) ?? Infinity) - (b.losses.at(-1) ?? Infinity));
    const list = ranked.map((r, k) => `${k + 1}. ${r.label} ${fmt(r.losses.at(-1)!)}`).join(", ");
    $<HTMLElement>("verdict").textContent = `After ${race.step} steps: ${list}.`;
    setState("done", `Done: ${race.step} steps. Reset or pick another function.`);
  } else {
    $<HTMLElement>("verdict").textContent = "";
    setState(playing ? "running" : "paused", `Step ${race.step} of ${race.spec.steps}`);
  }
}

/** Starts the race on `name` (tuning the baselines the first time), playing. */
function start(name: string): void {
  if (learned === undefined) return;
  const spec = demoFunction(name);
  race?.dispose();
  race = undefined;
  fnSelect.value = name;
  root.dataset.function = name;
  root.dataset.step = "0";
  tbody.replaceChildren();
  $<HTMLElement>("fn-title").textContent = spec.title;
  $<HTMLElement>("note").textContent = spec.note;
  setState("tuning", `Tuning the learning rates on ${spec.title}...`);
  // Let the message paint before the tuning runs (a fraction of a second).
  setTimeout(() => {
    try {
      if (!rates.has(name)) rates.set(name, tunedRates(name, spec.steps));
      race = new Race(name, learned!, rates.get(name)!);
      makeRows(race);
      playing = true;
      carry = 0;
      render();
    } catch (e) {
      fail(e);
    }
  }, 20);
}

function frame(now: number): void {
  const dt = Math.min(0.1, (now - last) / 1000);
  last = now;
  if (playing && race !== undefined && !race.done) {
    try {
      carry += dt * Number(speedSelect.value);
      const n = Math.floor(carry);
      carry -= n;
      for (let k = 0; k < n && race.advance(); k++);
      if (race.done) playing = false;
      if (n > 0 || race.done) render();
    } catch (e) {
      fail(e);
    }
  }
  requestAnimationFrame(frame);
}

function controls(): void {
  for (const f of DEMO_FUNCTIONS) fnSelect.add(new Option(`${f.title} (${f.steps} steps)`, f.name));
  fnSelect.addEventListener("change", () => start(fnSelect.value));
  playButton.addEventListener("click", () => {
    if (race === undefined) return;
    if (race.done) return start(race.spec.name);
    playing = !playing;
    render();
  });
  $<HTMLButtonElement>("step").addEventListener("click", () => {
    if (race === undefined) return;
    playing = false;
    race.advance();
    render();
  });
  $<HTMLButtonElement>("reset").addEventListener("click", () => {
    if (race !== undefined) start(race.spec.name);
  });
}

async function main(): Promise<void> {
  controls();
  if (location.protocol === "file:") {
    throw new Error("this page must come from a web server (any static one: python3 -m http.server -d demo/dist, say); opened as a file it cannot fetch its WebAssembly kernels");
  }
  const [lstm, rules, file] = await Promise.all([fetchBytes(ASSETS.lstm.url), fetchBytes(ASSETS.rules.url), fetchBytes(ASSETS.optimizer.url)]);
  setKernelSource({ "web/lstm.wasm": lstm, "rules.wasm": rules });
  // wasm-simd: the WebAssembly kernel or an error, never a silent fall back to the TypeScript reference.
  learned = decodeLearnedOptimizer(file, "quadratic.safetensors", { engine: "wasm-simd" });
  const first = location.hash.slice(1);
  start(DEMO_FUNCTIONS.some((f) => f.name === first) ? first : DEMO_FUNCTIONS[0]!.name);
  requestAnimationFrame((now) => {
    last = now;
    frame(now);
  });
}

window.addEventListener("error", (e) => fail(e.error ?? e.message));
main().catch(fail);
