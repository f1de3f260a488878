/**
 * Runs one tpm2-tools program: `execFile` with an argument array (never a shell), a timeout (a
 * stuck TPM makes the tools hang forever), the TCTI in the child's environment, and every failure
 * mapped to a RemoteError (exit 4) with a stable code. The tool's own stderr never reaches the
 * user verbatim except its last "ERROR:" line (no stack traces, no secrets: the tools print none).
 */
import { execFile } from 'node:child_process';
import { RemoteError } from '../errors.js';

export interface ToolOptions {
  /** TPM2TOOLS_TCTI for the child */
  tcti: string;
  /** the environment to inherit (PATH decides where the tools are found) */
  env: Record<string, string | undefined>;
  timeoutMs: number;
  cwd?: string;
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

/** Failure of a tool after it ran (rc ≠ 0), before mapping; exported for tests of the mapping. */
export interface ToolFailure {
  tool: string;
  rc: number | null;
  stderr: string;
  /** Node's error code (ENOENT, …) when the tool did not start */
  spawnCode?: string;
  timedOut: boolean;
  timeoutMs: number;
  tcti: string;
}

export function runTool(tool: string, args: string[], opts: ToolOptions): Promise<ToolOutput> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  env.TPM2TOOLS_TCTI = opts.tcti;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      { env, cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
        const spawnCode = typeof e.code === 'string' ? e.code : undefined;
        const timedOut = Boolean(e.killed) && Date.now() - started >= opts.timeoutMs - 5;
        reject(
          mapToolFailure({
            tool,
            rc: typeof e.code === 'number' ? e.code : null,
            stderr: String(stderr ?? ''),
            spawnCode,
            timedOut,
            timeoutMs: opts.timeoutMs,
            tcti: opts.tcti,
          }),
        );
      },
    );
  });
}

/** Maps what a failed tool left behind to one RemoteError code (SPEC §6.6 lists them). */
export function mapToolFailure(f: ToolFailure): RemoteError {
  const details = { tool: f.tool, rc: f.rc, tcti: f.tcti };
  if (f.spawnCode === 'ENOENT') {
    return new RemoteError('TPM_TOOLS_MISSING', `${f.tool} is not installed (not found on PATH)`, {
      hint: 'install tpm2-tools (Debian/Ubuntu: apt-get install tpm2-tools), or use --simulated STATEFILE on a machine without a tpm',
      details: { tool: f.tool },
    });
  }
  if (f.timedOut) {
    return new RemoteError('TPM_TIMEOUT', `${f.tool} did not answer within ${f.timeoutMs / 1000} s`, {
      hint: `the tpm (tcti ${f.tcti}) accepted the connection but never answered; check it, or raise --timeout`,
      details,
    });
  }
  if (f.spawnCode) {
    return new RemoteError('TPM_ERROR', `${f.tool} could not be started (${f.spawnCode})`, { details });
  }
  const s = f.stderr;
  if (/Could not load tcti|Failed to instantiate TCTI|Cannot connect to|Failed to connect/i.test(s)) {
    return new RemoteError('TPM_UNREACHABLE', `no tpm reachable through tcti ${f.tcti}`, {
      hint: 'check --tcti or TPM2TOOLS_TCTI (e.g. device:/dev/tpmrm0, swtpm:path=/run/swtpm.sock); on a machine without a tpm use --simulated STATEFILE',
      details,
    });
  }
  if (/bad locality|\(0x907\)/i.test(s)) {
    return new RemoteError('TPM_BAD_LOCALITY', `${f.tool}: the tpm refused the command at this locality`, {
      hint: 'pcrs 0-15 cannot be reset from locality 0; only pcr 16 and 23 can be reset by software',
      details,
    });
  }
  if (/expects a size of \d+ bytes/.test(s) || /\(0x1d5\)|\(0x95\)|size is incorrect/i.test(s)) {
    return new RemoteError('TPM_BAD_DIGEST_SIZE', `${f.tool}: a digest has the wrong size for its bank`, {
      hint: 'a sha256 digest is 32 bytes (64 hex digits), a sha384 digest 48 bytes (96 hex digits)',
      details: { ...details, expected: /expects a size of (\d+) bytes/.exec(s)?.[1] ?? null },
    });
  }
  if (/Esys_PCR_\w+\(0x184\)|pcr index .*out of range|PCR index out of range/i.test(s)) {
    return new RemoteError('TPM_PCR_OUT_OF_RANGE', `${f.tool}: the pcr index is out of range for this tpm`, {
      hint: 'a pc-client tpm has pcrs 0 to 23',
      details,
    });
  }
  return new RemoteError('TPM_ERROR', `${f.tool} failed (rc ${f.rc ?? '?'}): ${lastErrorLine(s)}`, {
    hint: 'run `ima-qs tpm doctor` to check the tpm and the tools',
    details,
  });
}

/** The tool's last "ERROR:" line, trimmed and bounded; the tools print no secrets. */
export function lastErrorLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('ERROR'));
  const last = lines.filter((l) => !/Unable to run/.test(l)).pop() ?? lines.pop() ?? 'no error message';
  return last.replace(/^ERROR:\s*/, '').slice(0, 200);
}
