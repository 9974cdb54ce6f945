// The benchmarks' command-line flags: `--name value`, else the default.

/** The value after `--name` on the command line, or `dflt` when the flag is absent (or last). */
export function arg(name: string, dflt: string): string;
export function arg(name: string, dflt: string | undefined): string | undefined;
export function arg(name: string, dflt: string | undefined): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
