/** `ima-qs keys generate` and `ima-qs keys show`, in-process. */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { tempDir } from './helpers/bytes-io.js';

const KEY_NAMES = [
  'audit_ml_dsa_87_public.key',
  'audit_ml_dsa_87_private.key',
  'ml_kem_768_public.key',
  'ml_kem_768_private.key',
  'ml_dsa_87_public.key',
  'ml_dsa_87_private.key',
  'ecdh_p384_public.key',
  'ecdh_p384_private.key',
];
const mode = (p: string) => statSync(p).mode & 0o777;

describe('keys generate', () => {
  it('writes six PEM files, the report and the upload script with the right modes', async () => {
    const dir = join(tempDir(), 'quantum_keys');
    const r = await runCli(['keys', 'generate', '--out', dir, '--json']);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc.ok).toBe(true);
    expect(doc.fingerprints.mldsa).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.fingerprints.composite).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(dir)).toBe(0o700);
    for (const n of KEY_NAMES) {
      const text = readFileSync(join(dir, n), 'utf8');
      expect(text).toMatch(n.includes('private') ? /^-----BEGIN PRIVATE KEY-----\n/ : /^-----BEGIN PUBLIC KEY-----\n/);
      if (n.includes('private')) expect(mode(join(dir, n))).toBe(0o600);
    }
    const report = readFileSync(join(dir, 'KEY_GENERATION_REPORT.md'), 'utf8');
    for (const fp of Object.values(doc.fingerprints) as string[]) expect(report).toContain(fp);
    for (const size of ['1184', '1088', '2592', '4627', '97']) expect(report).toContain(size);
    expect(report).not.toMatch(/PRIVATE KEY-----|seed [0-9a-f]{16}/);
    // no private PEM body leaks into the report
    const privBody = readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8').split('\n')[1];
    expect(report).not.toContain(privBody);
    const script = join(dir, 'upload_keys_to_aws.sh');
    expect(mode(script)).toBe(0o700);
    expect(readFileSync(script, 'utf8')).toContain('ima-qs keys upload --keys "$(dirname "$0")" --kms-key "${KMS_KEY_ID:?set KMS_KEY_ID}" "$@"');
  });

  it('refuses to overwrite without --force and writes nothing; --force replaces the keys', async () => {
    const dir = tempDir();
    expect((await runCli(['keys', 'generate', '--out', dir])).code).toBe(0);
    const before = readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8');
    const again = await runCli(['keys', 'generate', '--out', dir, '--json']);
    expect(again.code).toBe(3);
    expect(again.json().error.code).toBe('FILE_EXISTS');
    expect(readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8')).toBe(before);
    const forced = await runCli(['keys', 'generate', '--out', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8')).not.toBe(before);
  });

  it('--audit-key-only adds the audit key pair to a folder without one, and never replaces it', async () => {
    const dir = tempDir();
    expect((await runCli(['keys', 'generate', '--out', dir])).code).toBe(0);
    const mldsa = readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8');
    const audit = readFileSync(join(dir, 'audit_ml_dsa_87_private.key'), 'utf8');
    // a folder that has one: refused, nothing changed
    const again = await runCli(['keys', 'generate', '--out', dir, '--audit-key-only', '--json']);
    expect(again.code).toBe(3);
    expect(again.json().error.code).toBe('FILE_EXISTS');
    expect(readFileSync(join(dir, 'audit_ml_dsa_87_private.key'), 'utf8')).toBe(audit);
    // a folder from before the audit key: it is added, the service keys stay
    for (const f of ['audit_ml_dsa_87_private.key', 'audit_ml_dsa_87_public.key']) rmSync(join(dir, f));
    const added = await runCli(['keys', 'generate', '--out', dir, '--audit-key-only', '--json']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json().auditFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(join(dir, 'audit_ml_dsa_87_private.key'))).toBe(0o600);
    expect(mode(join(dir, 'audit_ml_dsa_87_public.key'))).toBe(0o644);
    expect(readFileSync(join(dir, 'ml_dsa_87_private.key'), 'utf8')).toBe(mldsa);
    expect((await runCli(['keys', 'generate', '--out', dir, '--audit-key-only', '--force'])).code).toBe(2);
  });

  it('a folder holding only the report is refused before any key is written', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'KEY_GENERATION_REPORT.md'), 'mine\n');
    const r = await runCli(['keys', 'generate', '--out', dir]);
    expect(r.code).toBe(3);
    expectNoStack(r.stderr);
    for (const n of KEY_NAMES) expect(existsSync(join(dir, n))).toBe(false);
  });
});

describe('keys show', () => {
  it('lists every key file and the composite recipient, with fingerprints matching generate', async () => {
    const dir = tempDir();
    const gen = (await runCli(['keys', 'generate', '--out', dir, '--json'])).json();
    const r = await runCli(['keys', 'show', dir, '--json']);
    expect(r.code).toBe(0);
    const rows = r.json().keys as { file: string; algorithm: string; kind: string; size: number; fingerprint: string }[];
    expect(rows).toHaveLength(9); // eight files (the audit key pair too) and the composite recipient
    const row = (file: string) => rows.find((x) => x.file === file)!;
    expect(row('ml_dsa_87_public.key')).toMatchObject({ algorithm: 'ML-DSA-87', kind: 'public', size: 2592, fingerprint: gen.fingerprints.mldsa });
    expect(row('ml_dsa_87_private.key')).toMatchObject({ kind: 'private', fingerprint: gen.fingerprints.mldsa });
    expect(row('ml_kem_768_public.key')).toMatchObject({ size: 1184, fingerprint: gen.fingerprints.mlkem });
    expect(row('ecdh_p384_public.key')).toMatchObject({ algorithm: 'P-384', size: 97 });
    expect(rows.find((x) => x.algorithm === 'MLKEM768-P384')).toMatchObject({ size: 1281, fingerprint: gen.fingerprints.composite });
    expect(row('audit_ml_dsa_87_public.key')).toMatchObject({ algorithm: 'ML-DSA-87', kind: 'public', fingerprint: gen.auditFingerprint });
    expect(gen.auditFingerprint).not.toBe(gen.fingerprints.mldsa);
  });

  it('shows a single file as a table', async () => {
    const dir = tempDir();
    await runCli(['keys', 'generate', '--out', dir]);
    const r = await runCli(['keys', 'show', join(dir, 'ml_kem_768_public.key')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ML-KEM-768');
    expect(r.stdout).toContain('1184 B');
  });

  it.each([
    ['a missing path', (d: string) => join(d, 'nope'), 'FILE_NOT_FOUND'],
    ['a folder without key files', (d: string) => d, 'NO_KEY_FILES'],
    ['a file that is not PEM', (d: string) => (writeFileSync(join(d, 'x.key'), 'hello\n'), join(d, 'x.key')), 'KEY_MALFORMED'],
  ])('%s is bad input (exit 3)', async (_n, target, code) => {
    const r = await runCli(['keys', 'show', target(tempDir()), '--json']);
    expect(r.code).toBe(3);
    expect(r.json().error.code).toBe(code);
    expectNoStack(r.stderr);
  });
});
