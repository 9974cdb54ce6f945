/**
 * SIGINT and SIGTERM during a long job: instead of the default (the process dies at once,
 * its files half written and the terminal's cursor hidden by the progress bar), the first
 * signal aborts `signal`, which the job checks at its next safe point (a training: the next
 * horizon) to save its state and return; the command then exits with 128 + the signal's
 * number (130, 143). A handler runs only when the job lets the event loop run, so a signal
 * during a horizon waits for its end. Another signal after the first, while the job winds up
 * (checkpoint, worker threads), quits at once, the cursor shown again.
 */
import { constants } from "node:os";

export interface SignalStop {
  /** Aborted by the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** 128 + the received signal's number (0 when none came). */
  readonly exitCode: number;
  /** Gives SIGINT and SIGTERM back to their default action. */
  dispose(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

const exitCodeOf = (sig: NodeJS.Signals): number => 128 + (constants.signals[sig] ?? 0);

/** Shows the terminal's cursor again (the progress bar hides it). */
export function showCursor(): void {
  if (process.stderr.isTTY) process.stderr.write("\x1b[?25h");
}

export function stopOnSignals(): SignalStop {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (received !== undefined) {
      showCursor();
      process.stderr.write(`\nl2o: ${sig} again: quitting at once\n`);
      process.exit(exitCodeOf(sig));
    }
    received = sig;
    controller.abort(sig);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received === undefined ? 0 : exitCodeOf(received);
    },
    dispose() {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}
