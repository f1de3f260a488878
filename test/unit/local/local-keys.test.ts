/**
 * The local stack's keys (SPEC §9, §7.3): a root in STATE/root, generation 1 in STATE/keys with its
 * audit key, certified with the service name `ima-qs-local` (issue 18 §7.3: the statement's
 * `service` is a name, not a constant); `local rotate` publishes a generation with new KEM keys and
 * the same signing and audit keys; a STATE written before the audit key gets one at start.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { AUDIT_KEY_FILES } from '../../../src/keys/audit-key.js';
import { generateServiceKeys, writeKeyDir } from '../../../src/keys/key-dir.js';
import { KEYSET_FILES, loadKeySetDir, readKeySetFile } from '../../../src/keys/key-set-files.js';
import { LOCAL_SERVICE, ensureLocalKeys, rotateLocal } from '../../../src/local/local-keys.js';

const p = getProvider('node');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const state = () => {
  const d = mkdtempSync(join(tmpdir(), 'ima-local-keys-'));
  dirs.push(d);
  return d;
};

describe('local keys', () => {
  it('first start: generation 1 certified as ima-qs-local, with a separate audit signer; rotate keeps the signing and audit keys', async () => {
    const s = state();
    const k = await ensureLocalKeys(p, s, new Date());
    expect(k.created).toBe(true);
    const g1 = await loadKeySetDir(p, join(s, 'keys'));
    const st = g1.keyset.statement;
    expect(st.service).toBe(LOCAL_SERVICE);
    expect(LOCAL_SERVICE).toBe('ima-qs-local');
    expect(st.root).toBe(k.pin);
    expect(st.signers.audit.fingerprint).toBe(fingerprint('ML-DSA-87', g1.audit.publicKey));
    expect(st.signers.audit.fingerprint).not.toBe(st.signers.decisions.fingerprint);
    const r = await rotateLocal(p, s, { now: new Date() });
    expect(r).toMatchObject({ phase: 'publish', generation: 2 });
    const g2 = await loadKeySetDir(p, join(s, 'keys-g2'));
    expect(g2.keyset.statement.service).toBe(LOCAL_SERVICE);
    expect(g2.keyset.statement.signers.audit).toEqual(st.signers.audit);
    expect(g2.keyset.statement.signers.decisions).toEqual(st.signers.decisions);
    expect(g2.keyset.statement.kem.fingerprint).not.toBe(st.kem.fingerprint);
  });

  it('a STATE/keys written before the audit key (no keyset.json, no audit pair) gets both at start', async () => {
    const s = state();
    await writeKeyDir(join(s, 'keys'), generateServiceKeys(p));
    expect(existsSync(join(s, 'keys', AUDIT_KEY_FILES.private))).toBe(false);
    await ensureLocalKeys(p, s, new Date());
    expect(existsSync(join(s, 'keys', AUDIT_KEY_FILES.private))).toBe(true);
    expect((await readKeySetFile(join(s, 'keys', KEYSET_FILES.current))).statement.signers.audit.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});
