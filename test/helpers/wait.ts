/**
 * Bounded waiting for the integration tests that drive real processes and emulators: poll until
 * a condition holds or a generous deadline passes (no timing is ever asserted), and a child
 * process's exit.
 */
import type { ChildProcess } from 'node:child_process';

/** Polls `fn` until it returns something other than undefined; throws after `ms`. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 40_000, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** How a child process ended: its exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** The exit code of a child process (null when a signal ended it). */
export async function exited(child: ChildProcess): Promise<number | null> {
  return (await exitOf(child)).code;
}
