/**
 * The dashboard's server through real HTTP requests on a free port: what it serves and lists,
 * every way out of its folder refused (`..`, encoded or doubly encoded, absolute paths,
 * backslashes, links that lead out), unknown paths 404, its headers; and a training log
 * followed by server-sent events as lines are appended, cut halfway, and rewound.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDashboard, type Dashboard } from "../src/dashboard/server.ts";
import { sampleReport, trainingLines } from "./dashboard_fixtures.ts";

const base = mkdtempSync(join(tmpdir(), "l2o-dashboard-test-"));
const dir = join(base, "runs");
let dash: Dashboard;

before(async () => {
  mkdirSync(join(dir, "sub"), { recursive: true });
  mkdirSync(join(base, "elsewhere"), { recursive: true });
  const report = JSON.stringify(sampleReport("quadratic"));
  writeFileSync(join(dir, "sub", "eval.json"), report);
  writeFileSync(join(dir, "train.jsonl"), trainingLines(0, 6).join(""));
  writeFileSync(join(dir, "run.jsonl"), [0, 1, 2].map((t) => JSON.stringify({ step: t, meanLoss: 3 - t, ci95: 0.1, n: 4 }) + "\n").join(""));
  writeFileSync(join(dir, "notes.txt"), "not a run\n");
  writeFileSync(join(dir, "broken.json"), "{");
  // Outside the folder: a real report, which a way out would serve.
  writeFileSync(join(base, "outside.json"), report);
  writeFileSync(join(base, "elsewhere", "e.json"), report);
  symlinkSync(join(base, "outside.json"), join(dir, "link-out.json"));
  symlinkSync(join(base, "elsewhere"), join(dir, "dir-out"));
  symlinkSync(join(dir, "sub", "eval.json"), join(dir, "link-in.json"));
  dash = await startDashboard({ dir, port: 0, pollMs: 40 });
});
after(async () => {
  await dash?.close();
  rmSync(base, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with `path` sent exactly as written (no URL normalisation on the way). */
function get(path: string, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: "127.0.0.1", port: dash.port, path, method: opts.method ?? "GET", headers: opts.host ? { host: opts.host } : {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("l2o dashboard server", () => {
  it("listens on 127.0.0.1 and lists the reports, logs and runs by content", async () => {
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await get("/api/runs");
    assert.equal(r.status, 200);
    const { entries } = JSON.parse(r.body) as { entries: Array<{ file: string; kind: string }> };
    const kinds = Object.fromEntries(entries.map((e) => [e.file, e.kind]));
    assert.deepEqual(kinds, { "sub/eval.json": "eval", "train.jsonl": "training", "run.jsonl": "run", "link-in.json": "eval" });
  });

  it("serves the page with a policy that allows nothing from elsewhere", async () => {
    const r = await get("/");
    assert.equal(r.status, 200);
    assert.match(r.body, /<title>l2o dashboard<\/title>/);
    const policy = String(r.headers["content-security-policy"]);
    assert.match(policy, /default-src 'self'/);
    assert.match(policy, /script-src 'nonce-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(policy, /https?:|\*|'unsafe-eval'/);
    const nonce = /'nonce-([^']+)'/.exec(policy)![1]!;
    assert.ok(r.body.includes(`<script nonce="${nonce}">`), "the page's script carries the response's nonce");
    assert.doesNotMatch(r.body, /\b(src|href)="(https?:)?\/\//, "no resource from another origin");
    assert.equal(r.headers["x-content-type-options"], "nosniff");
  });

  it("draws a listed file's figure", async () => {
    for (const file of ["sub/eval.json", "train.jsonl", "run.jsonl", "link-in.json"]) {
      const r = await get(`/api/figure?file=${encodeURIComponent(file)}`);
      assert.equal(r.status, 200, `${file}: ${r.body}`);
      assert.match(String(r.headers["content-type"]), /^image\/svg\+xml/);
      assert.match(r.body, /^<svg[^>]*>[\s\S]*<path [^>]*d="M[\s\S]*<\/svg>$/, file);
    }
  });

  it("refuses every way out of its folder", async () => {
    const out = join(base, "outside.json");
    const attempts = [
      "../outside.json",
      "..%2Foutside.json",
      "%2e%2e/outside.json",
      "%2E%2E%2Foutside.json",
      "%252e%252e%252foutside.json",
      "sub/../../outside.json",
      "sub/%2e%2e/%2e%2e/outside.json",
      "./sub/eval.json",
      encodeURIComponent(out),
      out,
      "%2Fetc%2Fpasswd",
      "..%5Coutside.json",
      "sub%5C..%5C..%5Coutside.json",
      "C:%5Cwindows%5Cwin.ini",
      "sub%00.json",
      "link-out.json",
      "dir-out/e.json",
      "",
    ];
    for (const a of attempts) {
      for (const route of ["/api/figure", "/api/events"]) {
        const r = await get(`${route}?file=${a}`);
        assert.equal(r.status, 403, `${route}?file=${a}: ${r.status} ${r.body}`);
        assert.doesNotMatch(r.body, /<svg/);
      }
    }
  });

  it("answers 404 for unknown paths and for files it does not list", async () => {
    for (const path of ["/etc/passwd", "/../../etc/passwd", "/api/figure/../../outside.json", "/%2e%2e/outside.json", "/api", "/api/runs/x", "/favicon.ico", "/index.html"]) {
      assert.equal((await get(path)).status, 404, path);
    }
    for (const file of ["missing.json", "notes.txt", "broken.json", "sub", "sub/missing.jsonl"]) {
      const r = await get(`/api/figure?file=${encodeURIComponent(file)}`);
      assert.equal(r.status, 404, `${file}: ${r.body}`);
    }
    // A report has no event stream.
    assert.equal((await get("/api/events?file=sub%2Feval.json")).status, 404);
  });

  it("answers only GET and only to its own host name", async () => {
    assert.equal((await get("/", { method: "POST" })).status, 405);
    assert.equal((await get("/api/runs", { host: "evil.example:80" })).status, 421);
    assert.equal((await get("/api/runs", { host: `localhost:${dash.port}` })).status, 200);
  });
});

// ---- server-sent events --------------------------------------------------------------------

interface SseEvent {
  event: string;
  data: string;
}

/** Connects to an event stream; `next` waits for events until `done` says enough. */
function sse(path: string): Promise<{ events: SseEvent[]; until(done: (events: SseEvent[]) => boolean, what: string): Promise<void>; close(): void }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: "127.0.0.1", port: dash.port, path }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
      const events: SseEvent[] = [];
      let waiters: Array<() => void> = [];
      let buf = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev: SseEvent = { event: "message", data: "" };
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) ev.event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length === 0) continue; // retry, comments
          ev.data = data.join("\n");
          events.push(ev);
        }
        for (const w of waiters) w();
      });
      resolvePromise({
        events,
        until(done, what) {
          return new Promise<void>((ok, fail) => {
            if (done(events)) return ok();
            const timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}`)), 5000);
            waiters.push(() => {
              if (done(events)) {
                clearTimeout(timer);
                waiters = [];
                ok();
              }
            });
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** The lines the stream has sent since its last reset. */
const linesSince = (events: SseEvent[]): string[] => {
  const last = events.map((e) => e.event).lastIndexOf("reset");
  return events.slice(last + 1).filter((e) => e.event === "lines").flatMap((e) => e.data.split("\n"));
};

describe("l2o dashboard events", () => {
  it("sends a log's lines, then each complete line appended, and the log again after a rewind", async () => {
    const log = join(dir, "live.jsonl");
    const lines = trainingLines(0, 2); // four lines
    writeFileSync(log, lines.slice(0, 2).join(""));
    const s = await sse("/api/events?file=live.jsonl");
    try {
      await s.until((ev) => linesSince(ev).length === 2, "the two lines there");
      appendFileSync(log, lines[2]!);
      await s.until((ev) => linesSince(ev).length === 3, "the appended line");
      // A line written in two halves is sent once it is whole.
      appendFileSync(log, lines[3]!.slice(0, 20));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(linesSince(s.events).length, 3, "half a line is not sent");
      appendFileSync(log, lines[3]!.slice(20));
      await s.until((ev) => linesSince(ev).length === 4, "the completed line");
      assert.deepEqual(linesSince(s.events), lines.map((l) => l.trimEnd()));

      // Rewound to its first line (as a resumed training does) and written on with other lines.
      const other = trainingLines(100, 2);
      truncateSync(log, Buffer.byteLength(lines[0]!));
      appendFileSync(log, other.join(""));
      await s.until((ev) => ev.some((e) => e.event === "reset") && linesSince(ev).length === 1 + other.length, "a reset and the log again");
      assert.deepEqual(linesSince(s.events), [lines[0]!, ...other].map((l) => l.trimEnd()));
    } finally {
      s.close();
    }
  });

  it("sends only the last part of a big log, from a whole line", async () => {
    const small = await startDashboard({ dir, port: 0, pollMs: 40, backlogBytes: 1000 });
    const lines = trainingLines(0, 200);
    writeFileSync(join(dir, "big.jsonl"), lines.join(""));
    const r = await new Promise<string>((resolvePromise, reject) => {
      const req = request({ host: "127.0.0.1", port: small.port, path: "/api/events?file=big.jsonl" }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          body += d;
          if (body.includes("event: lines") && body.endsWith("\n\n")) {
            req.destroy();
            resolvePromise(body);
          }
        });
      });
      req.on("error", reject);
      req.end();
    });
    await small.close();
    const got = r.split("\n").filter((l) => l.startsWith("data: {")).map((l) => l.slice(6));
    const bytes = got.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    assert.ok(bytes <= 1000 && got.length > 3, `${got.length} lines, ${bytes} bytes`);
    assert.deepEqual(got, lines.slice(-got.length).map((l) => l.trimEnd()), "the last whole lines, none cut");
  });
});

// ---- the command ---------------------------------------------------------------------------

describe("l2o dashboard", () => {
  const BIN = fileURLToPath(new URL("../bin/l2o.js", import.meta.url));
  const run = (...args: string[]) => spawn(process.execPath, [BIN, "dashboard", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const finish = (child: ReturnType<typeof run>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolvePromise) => {
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    });

  it("prints its URL, serves the folder, and stops on SIGINT with exit 0", async () => {
    const child = run(dir, "--port", "0");
    const done = finish(child);
    const url = await new Promise<string>((resolvePromise, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer | string) => {
        out += String(d);
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolvePromise(m[1]!);
      });
      child.on("close", () => reject(new Error(`exited before printing its URL: ${out}`)));
    });
    const r = await fetch(`${url}api/runs`);
    assert.equal(r.status, 200);
    assert.ok(((await r.json()) as { entries: unknown[] }).entries.length >= 3);
    child.kill("SIGINT");
    const { code, stdout } = await done;
    assert.equal(code, 0);
    assert.match(stdout, /dashboard stopped\n$/);
    await assert.rejects(fetch(`${url}api/runs`), "the port is closed");
  });

  it("refuses a bad port, a missing folder and a port in use in one line (exit 2)", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[dir, "--port", "70000"], /--port must be from 0 to 65,535, got '70000'/],
      [[dir, "--port", "0x50"], /--port expects an integer/],
      [[join(base, "missing")], /the folder '.*missing' does not exist or is not a folder/],
      [[join(dir, "notes.txt")], /the folder '.*notes\.txt' does not exist or is not a folder/],
      [[dir, "--port", String(dash.port)], new RegExp(`port ${dash.port} on 127\\.0\\.0\\.1 is in use; give another --port \\(0 picks a free one\\)`)],
    ];
    const results = await Promise.all(cases.map(([args]) => finish(run(...args))));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^l2o: error: [^\n]+\n$/);
      assert.match(r.stderr, cases[i]![1]);
    });
  });
});
