/**
 * The dashboard's server: Node's `http`, listening on 127.0.0.1 only, serving one folder's
 * evaluations, training logs and runs (`catalog.ts`). Its routes, all GET:
 * - `/`: the page (`page.ts`);
 * - `/api/runs`: the catalog as JSON;
 * - `/api/figure?file=FILE`: a listed file's figure, SVG;
 * - `/api/events?file=FILE`: a listed training log or run file followed live, as server-sent
 *   events (`tail.ts`).
 * Anything else is 404. A file is read only when it resolves inside the folder (`files.ts`:
 * no `..`, no absolute path, no link that leads out; 403 otherwise) and the catalog lists it
 * (404 otherwise). Every response forbids the page to load anything from elsewhere
 * (Content-Security-Policy), and a request for another host name than 127.0.0.1 or localhost
 * (a DNS-rebinding page) is refused.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { basename } from "node:path";
import { L2oError } from "../core/errors.ts";
import { Catalog } from "./catalog.ts";
import { figureSvg } from "./figures.ts";
import { dashboardRoot, resolveInside } from "./files.ts";
import { dashboardPage } from "./page.ts";
import { tailFile } from "./tail.ts";

/** A dashboard that cannot start: its folder is missing, its port taken. */
export class DashboardError extends L2oError {
  override readonly name = "DashboardError";
}

export interface DashboardOptions {
  /** The folder to serve. */
  readonly dir: string;
  /** The port on 127.0.0.1 (0: any free one). */
  readonly port: number;
  /** How much of a followed log is sent first (its last bytes); default 8 MiB. */
  readonly backlogBytes?: number;
  /** Milliseconds between polls of a followed log; default 250. */
  readonly pollMs?: number;
}

export interface Dashboard {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  readonly port: number;
  /** Ends every stream and stops listening. */
  close(): Promise<void>;
}

/** At most this many logs followed at once (a page follows one). */
const MAX_STREAMS = 64;
const HOST = "127.0.0.1";

function csp(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function send(res: ServerResponse, status: number, type: string, body: string, nonce = ""): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Content-Security-Policy": csp(nonce || randomBytes(16).toString("base64")),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

const text = (res: ServerResponse, status: number, body: string): void => send(res, status, "text/plain; charset=utf-8", `${body}\n`);

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  let root: string;
  try {
    root = dashboardRoot(o.dir);
  } catch {
    throw new DashboardError(`the folder '${o.dir}' does not exist or is not a folder; give the folder that holds your logs and reports (default runs)`);
  }
  const catalog = new Catalog(root);
  const streams = new Set<{ stop(): void; res: ServerResponse }>();
  let port = o.port;

  /** The listed file a request names, or undefined after answering with why not. */
  const listed = (res: ServerResponse, query: URLSearchParams, kinds: readonly string[]) => {
    const name = query.get("file") ?? "";
    const r = resolveInside(root, name);
    if (!r.ok) {
      text(res, r.status, r.status === 403 ? `refused: ${r.why}` : "not found");
      return undefined;
    }
    const entry = catalog.find(name);
    if (entry === undefined || !kinds.includes(entry.kind)) {
      text(res, 404, "not found: not an evaluation report, training log or run file here");
      return undefined;
    }
    return { path: r.path, entry };
  };

  const events = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (streams.size >= MAX_STREAMS) return text(res, 503, "too many followers; close a page");
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": csp(randomBytes(16).toString("base64")),
    });
    res.write("retry: 2000\n\n");
    const tail = tailFile(path, {
      backlog: o.backlogBytes ?? 8 * 2 ** 20,
      pollMs: o.pollMs ?? 250,
      onLines: (lines) => res.write(`event: lines\ndata: ${lines.join("\ndata: ")}\n\n`),
      onReset: () => res.write("event: reset\ndata: \n\n"),
      onGone: () => {
        res.write("event: gone\ndata: \n\n");
        end();
      },
    });
    const ping = setInterval(() => res.write(": alive\n\n"), 15000);
    const handle = { stop: () => end(), res };
    function end(): void {
      clearInterval(ping);
      tail.stop();
      streams.delete(handle);
      res.end();
    }
    streams.add(handle);
    req.on("close", end);
  };

  const server = createServer((req, res) => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (host !== `${HOST}:${port}` && host !== `localhost:${port}`) return text(res, 421, "this dashboard answers only to 127.0.0.1 and localhost");
    if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "only GET");
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const route = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    if (route === "/") {
      const nonce = randomBytes(16).toString("base64");
      return send(res, 200, "text/html; charset=utf-8", dashboardPage(nonce), nonce);
    }
    if (route === "/api/runs") {
      return send(res, 200, "application/json; charset=utf-8", JSON.stringify({ folder: basename(root), entries: catalog.list() }));
    }
    if (route === "/api/figure") {
      const f = listed(res, query, ["eval", "training", "run"]);
      if (f === undefined) return;
      figureSvg(f.path, f.entry.file, f.entry.kind).then(
        (svg) => send(res, 200, "image/svg+xml; charset=utf-8", svg),
        (e: unknown) => text(res, 422, `cannot draw ${f.entry.file}: ${(e as Error).message}`),
      );
      return;
    }
    if (route === "/api/events") {
      const f = listed(res, query, ["training", "run"]);
      if (f !== undefined) events(req, res, f.path);
      return;
    }
    text(res, 404, "not found");
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") reject(new DashboardError(`port ${o.port} on ${HOST} is in use; give another --port (0 picks a free one)`));
      else if (e.code === "EACCES") reject(new DashboardError(`port ${o.port} on ${HOST} needs privileges; give a port from 1024 (0 picks a free one)`));
      else reject(e);
    });
    server.listen(o.port, HOST, () => resolvePromise());
  });
  const address = server.address();
  port = typeof address === "object" && address !== null ? address.port : o.port;
  return {
    url: `http://${HOST}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolvePromise) => {
        for (const s of [...streams]) s.stop();
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}
