/**
 * What a command may touch of the outside world, injected so that tests can run the whole program
 * in-process (STYLE.md §2). Commands never use `process.*` or `console.*` directly.
 */
import type { Readable } from 'node:stream';

/** Somewhere text goes: stdout or stderr. */
export interface TextSink {
  write(chunk: string): unknown;
  /** true when a person is looking at it (progress bars, colours, prompts) */
  readonly isTTY?: boolean;
}

/** A yes/no question asked of a person; tests inject scripted answers. */
export type Confirm = (message: string) => Promise<boolean>;

export interface CliDeps {
  stdout: TextSink;
  stderr: TextSink;
  /** raw byte streams for `-` as a file name */
  stdin: Readable;
  stdoutBytes?: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** a person can answer prompts (stdin and stderr are terminals) */
  interactive: boolean;
  /** asks a person; only called when `interactive` and neither --json nor --yes */
  confirm?: Confirm;
  now?: () => Date;
  /**
   * For long-running commands (`local up`): a signal that aborts when the user asks to stop
   * (SIGINT/SIGTERM in the process; tests abort it themselves). Called only by such commands.
   */
  stopSignal?: () => AbortSignal;
}
