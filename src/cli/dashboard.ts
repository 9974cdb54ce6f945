/**
 * `l2o dashboard [DIR]`: a local page (http://127.0.0.1:PORT/, this machine only) listing the
 * evaluation reports, training logs and run files in DIR with their figures, following a
 * training live as its log grows. Ctrl-C (SIGINT) or SIGTERM stops it: the open pages' streams
 * end, the port is freed, and it exits 0.
 */
import type { Command } from "commander";
import { startDashboard } from "../dashboard/server.ts";
import { parseCount } from "./options.ts";

const DEFAULT_PORT = 8080;

export function registerDashboardCommand(program: Command): void {
  program
    .command("dashboard")
    .description("serve a local page (127.0.0.1 only) listing the evaluations, training logs and runs in a folder with their figures, following trainings live")
    .argument("[dir]", "the folder to list (searched down to 6 levels; files are told apart by their content)", "runs")
    .option("--port <n>", "the port on 127.0.0.1 (0 to 65535; 0 picks a free one)", String(DEFAULT_PORT))
    .action(async (dir: string, f: { port: string }) => {
      const port = parseCount("--port", f.port, { min: 0, max: 65535 });
      const dashboard = await startDashboard({ dir, port });
      process.stdout.write(`l2o dashboard of ${dir} at ${dashboard.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolvePromise) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void dashboard.close().then(resolvePromise);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      process.stdout.write("dashboard stopped\n");
    });
}
