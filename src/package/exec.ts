/**
 * The external programs `ima-qs package worker --image` runs (ldd, dpkg, buildah, tar): execFile
 * with an argument array (never a shell), a timeout, bounded output, and a failure that names the
 * program and quotes at most the last lines of its stderr (build tools print paths and progress,
 * never secrets; the build context holds none).
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ImaError, PreconditionError } from '../errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** the error code when the program fails (default PACKAGE_TOOL_FAILED) */
  code?: string;
}

/** The last `n` non-empty lines of a tool's stderr, bounded: enough to see why it failed. */
export function stderrTail(stderr: string, n = 3, max = 600): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.slice(-n).join(' | ').slice(-max);
}

export function run(cmd: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env: opts.env as NodeJS.ProcessEnv | undefined, cwd: opts.cwd },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        const what = `${cmd.replace(/^.*\//, '')} ${args[0] ?? ''}`.trim();
        if (e.code === 'ENOENT') {
          return reject(new PreconditionError('PACKAGE_TOOL_MISSING', `${cmd} is not installed`, { hint: 'install it (Debian: apt-get install -y buildah podman runc)', cause: err }));
        }
        const why = e.killed ? `did not finish within ${Math.round(opts.timeoutMs / 1000)} s` : `failed (exit ${typeof e.code === 'number' ? e.code : '?'}): ${stderrTail(String(stderr ?? '')) || 'no message'}`;
        reject(new ImaError('remote', opts.code ?? 'PACKAGE_TOOL_FAILED', `${what} ${why}`, { cause: err, details: { tool: cmd } }));
      },
    );
  });
}

/** The absolute path of `name` on PATH, or undefined. */
export async function findOnPath(name: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* not here */
    }
  }
  return undefined;
}
