/** The process-facing entry: real streams, real environment. Used only by bin/ima-qs.js. */
import { run } from './cli.js';
import type { CliDeps } from './context.js';

export function processDeps(): CliDeps {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    stdoutBytes: process.stdout,
    env: process.env,
    cwd: process.cwd(),
    interactive,
    confirm: async (message) => {
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message, default: false }, { output: process.stderr });
    },
    // only a command that asks for it (local up) installs the handlers: others keep the default
    stopSignal: () => {
      const c = new AbortController();
      const stop = (signal: NodeJS.Signals) => c.abort(signal);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return c.signal;
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  return run(argv, processDeps());
}
