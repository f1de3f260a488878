/**
 * `ima-qs demo`: the README's main job until the local service exists — in a temporary folder,
 * keys generate → encrypt → decrypt → sign → verify, plus the two "no" answers (a modified
 * ciphertext and a modified signed file), through the same operations the commands use.
 */
import type { Command } from 'commander';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../cli.js';
import type { CliDeps } from '../context.js';
import { ImaError, VerificationError } from '../errors.js';
import { table } from '../output.js';
import { decryptFile, encryptFile, signFile, verifyFile } from './file-ops.js';
import { generateKeyDir } from './keys.js';

interface Step {
  step: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export async function runDemo(deps: CliDeps, o: { keep?: boolean; bytes?: number }): Promise<{ dir: string; kept: boolean; steps: Step[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'ima-qs-demo-'));
  const d: CliDeps = { ...deps, cwd: dir };
  const steps: Step[] = [];
  const timed = async (step: string, fn: () => Promise<string>, expectNo?: string) => {
    const t0 = performance.now();
    try {
      const detail = await fn();
      steps.push({ step, ok: expectNo === undefined, detail: expectNo ? `expected ${expectNo}, but it succeeded` : detail, ms: performance.now() - t0 });
    } catch (err) {
      if (expectNo && err instanceof ImaError && err.code === expectNo) {
        steps.push({ step, ok: true, detail: `refused as it must be: ${err.code}`, ms: performance.now() - t0 });
      } else {
        steps.push({ step, ok: false, detail: err instanceof ImaError ? `${err.code}: ${err.message}` : String(err), ms: performance.now() - t0 });
      }
    }
  };
  try {
    const size = o.bytes ?? 1024 * 1024 + 123;
    const plain = Buffer.alloc(size);
    for (let i = 0; i < size; i++) plain[i] = (i * 2654435761) >>> 24; // deterministic, not all zeros
    await writeFile(join(dir, 'report.bin'), plain);

    await timed('keys generate', async () => {
      const r = await generateKeyDir(d, { out: 'keys' });
      return `8 key files (the audit key too) + keyset.json + report + upload script; root (the pin) ${r.root.fingerprint.slice(0, 16)}…`;
    });
    await timed('encrypt', async () => {
      const r = await encryptFile(d, { input: 'report.bin', output: 'report.bin.ima', to: 'keys' });
      return `${r.plaintextBytes} B → ${r.outputBytes} B to ${r.recipient.slice(0, 16)}…`;
    });
    await timed('decrypt', async () => {
      const r = await decryptFile(d, { input: 'report.bin.ima', output: 'report.out', identity: 'keys' });
      const same = Buffer.compare(await readFile(join(dir, 'report.out')), plain) === 0;
      if (!same) throw new VerificationError('DEMO_MISMATCH', 'the decrypted file differs from the original');
      return `${r.plaintextBytes} B, identical to the original`;
    });
    await timed(
      'decrypt a modified copy',
      async () => {
        const c = await readFile(join(dir, 'report.bin.ima'));
        c[c.length - 100] ^= 1;
        await writeFile(join(dir, 'modified.ima'), c);
        await decryptFile(d, { input: 'modified.ima', output: 'modified.out', identity: 'keys' });
        return '';
      },
      'DECRYPT_FAILED',
    );
    await timed('sign', async () => {
      const r = await signFile(d, { file: 'report.bin', key: 'keys' });
      return `${r.signature}, ML-DSA-87, context ima-qs/v1/file`;
    });
    await timed('verify', async () => {
      const r = await verifyFile(d, { file: 'report.bin', signature: 'report.bin.sig', key: 'keys' });
      if (!r.ok) throw new VerificationError('DEMO_VERIFY', `${r.failed?.check} check failed`);
      return r.checks.map((c) => `${c.check} ok`).join(', ');
    });
    await timed(
      'verify a modified file',
      async () => {
        const m = Buffer.from(plain);
        m[0] ^= 1;
        await writeFile(join(dir, 'report.modified'), m);
        const r = await verifyFile(d, { file: 'report.modified', signature: 'report.bin.sig', key: 'keys' });
        if (!r.ok) throw new VerificationError('DIGEST_MISMATCH', `${r.failed?.check} check failed`);
        return '';
      },
      'DIGEST_MISMATCH',
    );
  } finally {
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  }
  return { dir, kept: Boolean(o.keep), steps };
}

export function registerDemo(program: Command, app: App): void {
  app
    .command(program, {
      name: 'demo-files',
      description: 'the file commands in a temporary folder: keys generate → encrypt → decrypt → sign → verify',
      examples: ['ima-qs demo-files', 'ima-qs demo-files --json', 'ima-qs demo-files --keep'],
      notes: 'Exit 0 when every step gave the expected answer (including the two expected refusals).',
    })
    .option('--keep', 'keep the temporary folder (its path is printed)')
    .action(
      app.action(async (o: { keep?: boolean }) => {
        const r = await runDemo(app.deps, o);
        const bad = r.steps.find((s) => !s.ok);
        const human =
          table(['step', 'result', 'detail', 'ms'], r.steps.map((s) => [s.step, s.ok ? 'ok' : 'FAILED', s.detail, s.ms.toFixed(1)])) +
          (r.kept ? `\nfiles kept in ${r.dir}` : '');
        return {
          data: { ...r, passed: !bad },
          human,
          failure: bad ? new VerificationError('DEMO_FAILED', `demo step failed: ${bad.step}: ${bad.detail}`) : undefined,
        };
      }),
    );
}
