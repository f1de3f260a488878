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
    // the root, in its own folder beside it (never uploaded): its fingerprint is the pin
    expect(doc.root).toMatchObject({ dir: `${dir}_root`, created: true });
    expect(doc.root.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.root.fingerprint).not.toBe(doc.fingerprints.mldsa);
    expect(mode(`${dir}_root`)).toBe(0o700);
    expect(mode(join(`${dir}_root`, 'root_ml_dsa_87_private.key'))).toBe(0o600);
    expect(existsSync(join(dir, 'root_ml_dsa_87_private.key'))).toBe(false);
    expect(report).toContain(doc.root.fingerprint);
    // keyset.json: generation 1, signed by that root, certifying this folder's keys, 90 days
    const ks = JSON.parse(readFileSync(join(dir, 'keyset.json'), 'utf8'));
    expect(ks.statement).toMatchObject({ generation: 1, root: doc.root.fingerprint, kem: { fingerprint: doc.fingerprints.composite }, signers: { decisions: { fingerprint: doc.fingerprints.mldsa } } });
    expect(Date.parse(ks.statement.not_after) - Date.parse(ks.statement.not_before)).toBe(90 * 86_400_000);
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

describe('keys generate --root --previous, keys certify', () => {
  it('the next generation of a root: generation + 1, previous = the digest of the one before, the same pin', async () => {
    const base = tempDir();
    const g1 = (await runCli(['keys', 'generate', '--out', join(base, 'g1'), '--json'])).json();
    const r = await runCli(['keys', 'generate', '--out', join(base, 'g2'), '--root', `${join(base, 'g1')}_root`, '--previous', join(base, 'g1', 'keyset.json'), '--valid-days', '30', '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json()).toMatchObject({ generation: 2, root: { fingerprint: g1.root.fingerprint, created: false } });
    const s1 = JSON.parse(readFileSync(join(base, 'g1', 'keyset.json'), 'utf8'));
    const s2 = JSON.parse(readFileSync(join(base, 'g2', 'keyset.json'), 'utf8'));
    expect(JSON.parse(readFileSync(join(base, 'g2', 'previous_keyset.json'), 'utf8'))).toEqual(s1);
    expect(s2.statement.previous).toMatch(/^[0-9a-f]{64}$/);
    expect(s2.statement.previous).not.toBe('0'.repeat(64));
    expect(Date.parse(s2.statement.not_after) - Date.parse(s2.statement.not_before)).toBe(30 * 86_400_000);
    const again = await runCli(['keys', 'generate', '--out', join(base, 'g1'), '--force', '--json']);
    expect(again.code).toBe(0); // --force replaces the folder and its default root: a new pin
    expect(again.json().root.fingerprint).not.toBe(g1.root.fingerprint);
  });

  it('keys certify renews a folder as the next generation; a previous statement of another root is refused', async () => {
    const base = tempDir();
    const g1 = (await runCli(['keys', 'generate', '--out', join(base, 'k'), '--json'])).json();
    const other = (await runCli(['keys', 'generate', '--out', join(base, 'x'), '--json'])).json();
    const no = await runCli(['keys', 'certify', '--root', `${join(base, 'k')}_root`, '--keys', join(base, 'k'), '--previous', join(base, 'k', 'keyset.json'), '--json']);
    expect(no.json().error.code).toBe('FILE_EXISTS'); // keyset.json is replaced only with --force
    const r = await runCli(['keys', 'certify', '--root', `${join(base, 'k')}_root`, '--keys', join(base, 'k'), '--previous', join(base, 'k', 'keyset.json'), '--force', '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json()).toMatchObject({ generation: 2, root: g1.root.fingerprint, kem: g1.fingerprints.composite });
    const foreign = await runCli(['keys', 'certify', '--root', `${join(base, 'k')}_root`, '--keys', join(base, 'k'), '--previous', join(base, 'x', 'keyset.json'), '--force', '--json']);
    expect(foreign.code).toBe(3);
    expect(foreign.json().error.code).toBe('KEYSET_NOT_FROM_ROOT');
    expect(other.root.fingerprint).not.toBe(g1.root.fingerprint);
    const bad = await runCli(['keys', 'certify', '--root', `${join(base, 'k')}_root`, '--keys', join(base, 'k'), '--valid-days', '401', '--force', '--json']);
    expect(bad.json().error.code).toBe('BAD_VALIDITY');
  });
});

describe('keys show', () => {
  it('lists every key file and the composite recipient, with fingerprints matching generate', async () => {
    const dir = tempDir();
    const gen = (await runCli(['keys', 'generate', '--out', dir, '--json'])).json();
    const r = await runCli(['keys', 'show', dir, '--json']);
    expect(r.code).toBe(0);
    const rows = r.json().keys as { file: string; algorithm: string; kind: string; size: number; fingerprint: string }[];
    expect(rows).toHaveLength(10); // the six service files, the audit key pair, the root's public key copy and the composite recipient
    // the root's public key (a copy in the key folder; its fingerprint is the pin)
    expect(rows.find((x) => x.file === 'root_ml_dsa_87_public.key')).toMatchObject({ algorithm: 'ML-DSA-87', kind: 'public', fingerprint: gen.root.fingerprint });
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
