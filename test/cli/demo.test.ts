/** `ima-qs demo`: every step gives the expected answer, in-process and as the built binary. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('ima-qs demo', () => {
  it('runs keys generate → encrypt → decrypt → sign → verify and both refusals, exit 0', async () => {
    const r = await runCli(['demo-files', '--json']);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc).toMatchObject({ ok: true, passed: true, kept: false });
    expect(doc.steps.map((s: { step: string }) => s.step)).toEqual([
      'keys generate',
      'encrypt',
      'decrypt',
      'decrypt a modified copy',
      'sign',
      'verify',
      'verify a modified file',
    ]);
    for (const s of doc.steps) expect(s).toMatchObject({ ok: true });
  });

  it('prints a table for people', async () => {
    const r = await runCli(['demo-files']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('refused as it must be: DECRYPT_FAILED');
    expect(r.stdout).toContain('refused as it must be: DIGEST_MISMATCH');
  });
});
