// The key-set statement (the only thing the offline root signs) and the public-keys document v2
// (SPEC §7.3): what verifies, and one refusal per check, each with its code. Real ML-DSA-87.
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { signJson } from '../../../src/crypto/signature.js';
import { generateServiceKeys, publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import {
  assertPublicKeysDocument,
  createPublicKeysDocument,
  documentRecipients,
  publicKeysDocumentText,
  verifyPublicKeysDocument,
} from '../../../src/protocol/keys-document.js';
import { GENESIS_PREVIOUS, certifyKeySet, keySetDigest, verifyKeySet } from '../../../src/protocol/keyset.js';

const p = defaultProvider();
const root = p.mldsa87.fromSeed();
const otherRoot = p.mldsa87.fromSeed();
const pin = fingerprint('ML-DSA-87', root.publicKey);
const k1 = generateServiceKeys(p);
const k2 = generateServiceKeys(p);
const auditKey = p.mldsa87.fromSeed();
const now = new Date('2026-11-28T12:00:00Z');
const cert = (keys = k1, o: { previous?: ReturnType<typeof certifyKeySet>; by?: typeof root; notBefore?: Date; days?: number } = {}) =>
  certifyKeySet(p, o.by ?? root, { kem: recipientPublicKey(publicKeysOf(keys)), decisions: keys.mldsa.publicKey, audit: auditKey.publicKey, previous: o.previous, notBefore: o.notBefore ?? now, validityDays: o.days });
const g1 = cert(k1);
const g2 = cert(k2, { previous: g1 });
const text = publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: g2, accepted: [g1] }));
const clone = () => JSON.parse(text);
/** Re-signs a statement with a key (to reach the checks after the signature). */
const resign = (statement: any, by = root, purpose: 'keyset' | 'keys' = 'keyset') => ({ statement, signature: toBase64(signJson(p, by, purpose, statement)) });

describe('key-set statement (SPEC §7.3)', () => {
  it('generation 1 names 64 zeros as previous; the next names its digest and is generation + 1; 90 days by default', () => {
    expect(g1.statement).toMatchObject({ v: 1, service: 'ima-qs', root: pin, generation: 1, previous: GENESIS_PREVIOUS, not_before: '2026-11-28T12:00:00Z', not_after: '2027-02-26T12:00:00Z' });
    expect(g2.statement.generation).toBe(2);
    expect(g2.statement.previous).toBe(keySetDigest(p, g1.statement));
    expect(g1.statement.kem.fingerprint).toBe(fingerprint('MLKEM768-P384', recipientPublicKey(publicKeysOf(k1))));
    expect(g1.statement.signers.decisions.fingerprint).toBe(fingerprint('ML-DSA-87', k1.mldsa.publicKey));
    expect(g1.statement.signers.audit.fingerprint).toBe(fingerprint('ML-DSA-87', auditKey.publicKey));
    expect(() => certifyKeySet(p, root, { kem: recipientPublicKey(publicKeysOf(k1)), decisions: k1.mldsa.publicKey, audit: k1.mldsa.publicKey, notBefore: now })).toThrow(/separate/);
  });

  it('verifies under the root, at a time inside its validity, and yields the certified keys', () => {
    const v = verifyKeySet(p, g2, root.publicKey, { at: now.getTime() + 1000, minGeneration: 2 });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.keys.generation).toBe(2);
    expect(Buffer.from(v.keys.decisions).equals(Buffer.from(k2.mldsa.publicKey))).toBe(true);
    expect(Buffer.from(v.keys.composite).equals(Buffer.from(recipientPublicKey(publicKeysOf(k2))))).toBe(true);
  });

  const refusals: [string, () => { x: unknown; root?: Uint8Array; at?: number; min?: number }, string][] = [
    ['another root', () => ({ x: g1, root: otherRoot.publicKey }), 'ROOT_MISMATCH'],
    ['a statement signed by another root that names ours', () => ({ x: resign(g1.statement, otherRoot) }), 'BAD_SIGNATURE'],
    ['a signature under another context (ima-qs/v1/keys)', () => ({ x: resign(g1.statement, root, 'keys') }), 'BAD_SIGNATURE'],
    ['a swapped KEM key', () => ({ x: { ...g1, statement: { ...g1.statement, kem: g2.statement.kem } } }), 'BAD_SIGNATURE'],
    ['a lower generation than seen', () => ({ x: g1, min: 2 }), 'ROLLBACK'],
    ['a time before not_before', () => ({ x: g1, at: now.getTime() - 1 }), 'NOT_YET_VALID'],
    ['a time after not_after', () => ({ x: g1, at: Date.parse(g1.statement.not_after) + 1 }), 'EXPIRED'],
    ['a listed fingerprint that is not the key’s (re-signed)', () => ({ x: resign({ ...g1.statement, kem: { ...g1.statement.kem, fingerprint: '0'.repeat(64) } }) }), 'MALFORMED'],
    ['generation 2 with 64 zeros as previous (re-signed)', () => ({ x: resign({ ...g2.statement, previous: GENESIS_PREVIOUS }) }), 'MALFORMED'],
    ['an unknown signer purpose (re-signed)', () => ({ x: resign({ ...g1.statement, signers: { ...g1.statement.signers, votes: g1.statement.signers.decisions } }) }), 'MALFORMED'],
    ['no decisions signer (re-signed)', () => ({ x: resign({ ...g1.statement, signers: {} }) }), 'MALFORMED'],
    ['no audit signer (re-signed): every statement certifies both purposes', () => ({ x: resign({ ...g1.statement, signers: { decisions: g1.statement.signers.decisions } }) }), 'MALFORMED'],
    ['the audit signer is the decisions signer (re-signed): the audit key must be separate', () => ({ x: resign({ ...g1.statement, signers: { decisions: g1.statement.signers.decisions, audit: g1.statement.signers.decisions } }) }), 'MALFORMED'],
    ['not_after before not_before (re-signed)', () => ({ x: resign({ ...g1.statement, not_after: '2026-01-01T00:00:00Z' }) }), 'MALFORMED'],
    ['a date of February 30 (re-signed)', () => ({ x: resign({ ...g1.statement, not_before: '2026-02-30T00:00:00Z' }) }), 'MALFORMED'],
    ['generation 0 (re-signed)', () => ({ x: resign({ ...g1.statement, generation: 0 }) }), 'MALFORMED'],
    ['an extra member (re-signed)', () => ({ x: resign({ ...g1.statement, note: 'x' }) }), 'MALFORMED'],
    ['an extra member beside statement and signature', () => ({ x: { ...g1, extra: 1 } }), 'MALFORMED'],
  ];
  for (const [name, make, failure] of refusals) {
    it(`says no (${failure}) for ${name}`, () => {
      const { x, root: r, at, min } = make();
      const v = verifyKeySet(p, x, r ?? root.publicKey, { at: at ?? now.getTime(), minGeneration: min });
      expect(v).toMatchObject({ ok: false, failure });
    });
  }
});

describe('public-keys document v2 (SPEC §7.3)', () => {
  it('verifies against the ROOT pin: the current generation, every certified signer, every recipient', () => {
    const v = verifyPublicKeysDocument(p, text, { pin, now });
    expect(v.valid).toBe(true);
    if (!v.valid) return;
    expect(v.keys.generation).toBe(2);
    expect(v.keys.recipients).toEqual([g2.statement.kem.fingerprint, g1.statement.kem.fingerprint]);
    expect(v.keys.signers.map((k) => fingerprint('ML-DSA-87', k))).toEqual([g2.statement.signers.decisions.fingerprint, g1.statement.signers.decisions.fingerprint]);
    // an upper-case pin, and the parsed object, verify like the text; the text is canonical JSON
    expect(verifyPublicKeysDocument(p, clone(), { pin: pin.toUpperCase(), now }).valid).toBe(true);
    // the published text is canonical: republishing the same statements gives the same bytes (its version id, SPEC §7.2)
    expect(publicKeysDocumentText(JSON.parse(text))).toBe(text);
    expect(publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: g2, accepted: [g1] }))).toBe(text);
    expect(documentRecipients(text)).toEqual(v.keys.recipients);
  });

  it('the ONLINE signer\'s fingerprint is not a pin: a document pinned to it is refused', () => {
    const v = verifyPublicKeysDocument(p, text, { pin: fingerprint('ML-DSA-87', k2.mldsa.publicKey), now });
    expect(v).toMatchObject({ valid: false, code: 'KEYS_DOC_PIN_MISMATCH' });
  });

  const cases: [string, () => { input: unknown; pinned?: string; at?: Date; min?: number }, string][] = [
    ['another root pinned', () => ({ input: text, pinned: fingerprint('ML-DSA-87', otherRoot.publicKey) }), 'KEYS_DOC_PIN_MISMATCH'],
    ['a pin that is not 64 hex digits', () => ({ input: text, pinned: pin.slice(0, 62) }), 'KEYS_DOC_PIN_MISMATCH'],
    ['a document whose root is another key (its statements re-signed by it)', () => {
      const d = clone();
      d.root = { alg: 'ML-DSA-87', public_key: toBase64(otherRoot.publicKey), fingerprint: fingerprint('ML-DSA-87', otherRoot.publicKey) };
      d.current = resign({ ...d.current.statement, root: d.root.fingerprint }, otherRoot);
      d.accepted = [];
      return { input: d };
    }, 'KEYS_DOC_PIN_MISMATCH'],
    ['an older current generation than seen (a rollback)', () => ({ input: publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: g1 })), min: 2 }), 'KEYS_DOC_ROLLBACK'],
    ['an accepted statement with a flipped signature byte', () => {
      const d = clone();
      const s = fromBase64(d.accepted[0].signature);
      s[7] ^= 1;
      d.accepted[0].signature = toBase64(s);
      return { input: d };
    }, 'KEYS_DOC_BAD_SIGNATURE'],
    ['a current statement valid only later', () => ({ input: text, at: new Date(now.getTime() - 1000) }), 'KEYS_DOC_NOT_YET_VALID'],
    ['an expired current statement', () => ({ input: text, at: new Date(Date.parse(g2.statement.not_after) + 1000) }), 'KEYS_DOC_EXPIRED'],
    ['the same generation twice', () => ({ input: { ...clone(), accepted: [clone().current] } }), 'KEYS_DOC_MALFORMED'],
    ['three accepted statements', () => ({ input: { ...clone(), accepted: [g1, g1, g1] } }), 'KEYS_DOC_MALFORMED'],
    ['a root fingerprint that is not its key’s', () => ({ input: { ...clone(), root: { ...clone().root, fingerprint: '0'.repeat(64) } } }), 'KEYS_DOC_MALFORMED'],
    ['an unknown member', () => ({ input: { ...clone(), extra: 1 } }), 'KEYS_DOC_MALFORMED'],
    ['the v1 format (signed by an online key)', () => ({ input: { ...clone(), format: 'ima-qs-public-keys/v1' } }), 'KEYS_DOC_MALFORMED'],
    ['not JSON', () => ({ input: '{"format":' }), 'KEYS_DOC_MALFORMED'],
    ['an array', () => ({ input: [] }), 'KEYS_DOC_MALFORMED'],
    ['a duplicate member (last would win in JSON.parse)', () => ({ input: text.replace('{"accepted":', '{"accepted":[],"accepted":') }), 'KEYS_DOC_MALFORMED'],
    ['oversized text', () => ({ input: ' '.repeat(130_000) }), 'KEYS_DOC_MALFORMED'],
  ];
  for (const [name, make, code] of cases) {
    it(`says no (${code}) for ${name}`, () => {
      const { input, pinned, at, min } = make();
      const v = verifyPublicKeysDocument(p, input, { pin: pinned ?? pin, now: at ?? now, minGeneration: min });
      expect(v).toMatchObject({ valid: false, code });
    });
  }

  it('assertPublicKeysDocument throws a VerificationError (exit 1)', () => {
    expect(() => assertPublicKeysDocument(p, text, { pin: fingerprint('ML-DSA-87', otherRoot.publicKey), now })).toThrow(expect.objectContaining({ code: 'KEYS_DOC_PIN_MISMATCH', exitCode: 1 }));
  });
});
