/**
 * Every JSON input goes through the strict reader (SPEC §3.3, issue 18): each document that
 * verifies as written is refused — with its own error — once a member is duplicated, or an integer
 * is spelled with an exponent. The signature-file row is the differential the issue found: with
 * JSON.parse (last member wins) the duplicated file still verified.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCore } from '../../../src/audit/audit-entry.js';
import { decodeKeySetSecret, encodeKeySetSecret } from '../../../src/aws/keyset-secret.js';
import { testKeySet } from '../../helpers/keyset.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { createSignatureFile, encodeSignatureFile, parseSignatureFile, verifySignatureFile } from '../../../src/protocol/signature-file.js';
import { generateServiceKeys, publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import { verifyPublicKeysDocument } from '../../../src/protocol/keys-document.js';
import { decodeQueued, encodeQueued } from '../../../src/protocol/records.js';
import { parseInnerRequest } from '../../../src/protocol/request.js';
import { loadState } from '../../../src/rollout/state.js';
import { CODE_COUNCIL } from '../../../src/service/council/councils.js';
import { HttpPersonaModel } from '../../../src/service/council/persona-model-http.js';
import { parseQuoteDoc } from '../../../src/tpm/quote.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';

const p = getProvider('node');
const codeOf = async (f: () => unknown): Promise<string | undefined> => {
  try {
    await f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};
/** Puts `extra` (a `"name":value` text) right after the first `{`. */
const withFirst = (text: string, extra: string) => text.replace('{', `{${extra},`);
const dir = mkdtempSync(join(tmpdir(), 'ima-qs-json-'));

describe('signature file (SPEC §5.2)', () => {
  const data = randomBytes(700);
  const st = { size: data.length, sha3_512: new Uint8Array(createHash('sha3-512').update(data).digest()) };
  const key = p.mldsa87.fromSeed();
  const text = encodeSignatureFile(createSignatureFile(p, key, st));

  it('a second "context" member: JSON.parse would read the last one and verify; the strict reader refuses the file', () => {
    const dup = withFirst(text, '"context":"ima-qs/v1/vote"');
    const lastWins = JSON.parse(dup);
    expect(lastWins.context).toBe('ima-qs/v1/file'); // what the old reader saw
    expect(verifySignatureFile(p, parseSignatureFile(text, 'ok.sig'), key.publicKey, st).ok).toBe(true);
    expect(() => parseSignatureFile(dup, 'dup.sig')).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE_FILE', message: expect.stringMatching(/duplicate member name "context"/) }));
  });

  it('"size": 700e0 is not the integer 700', () => {
    const written = text.replace(`"size": ${data.length}`, `"size": ${data.length}e0`);
    expect(written).not.toBe(text);
    expect(() => parseSignatureFile(written, 'exp.sig')).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE_FILE', message: expect.stringMatching(/plain integers/) }));
  });
});

describe('sealed request, queue message, keys document, audit core, key secret', () => {
  const keys = generateServiceKeys(p);
  const inner = {
    v: 1,
    request_id: '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b',
    timestamp: '2026-05-01T12:00:00.000Z',
    route: 'analyze',
    reply_key: Buffer.from(recipientPublicKey(publicKeysOf(keys))).toString('base64'),
    payload: { name: 'a.py', content: 'print(1)' },
  };
  const innerText = JSON.stringify(inner);

  it('inner request (§8.1): BAD_REQUEST_CONTENT for a duplicate route or v: 1.0', async () => {
    expect(parseInnerRequest(new TextEncoder().encode(innerText)).route).toBe('analyze');
    for (const bad of [withFirst(innerText, '"route":"patents"'), innerText.replace('"v":1', '"v":1.0')]) {
      expect(await codeOf(() => parseInnerRequest(new TextEncoder().encode(bad)))).toBe('BAD_REQUEST_CONTENT');
    }
  });

  it('inner request timestamps are the §1.5 millisecond form naming a real instant', async () => {
    for (const t of ['2026-02-30T12:00:00.000Z', '2026-05-01T24:00:00.000Z', '2026-05-01T12:00:00Z', '2026-05-01T12:00:00.0000Z', '2026-05-01T12:00:00.000+00:00']) {
      expect(await codeOf(() => parseInnerRequest(new TextEncoder().encode(JSON.stringify({ ...inner, timestamp: t }))))).toBe('BAD_REQUEST_CONTENT');
    }
    expect(parseInnerRequest(new TextEncoder().encode(JSON.stringify({ ...inner, timestamp: '2028-02-29T23:59:59.999Z' }))).v).toBe(1);
  });

  it('queue message (§8.2): POISON_MESSAGE for a duplicate handle', async () => {
    const msg = encodeQueued('ab'.repeat(32), 'analyze', 1_700_000_000_000, Uint8Array.of(1, 2, 3));
    expect(decodeQueued(msg).msg.route).toBe('analyze');
    expect(await codeOf(() => decodeQueued(withFirst(msg, `"handle":"${'cd'.repeat(32)}"`)))).toBe('POISON_MESSAGE');
    expect(await codeOf(() => decodeQueued(msg.replace('"received_at":1700000000000', '"received_at":1.7e12')))).toBe('POISON_MESSAGE');
  });

  it('public-keys document (§7.3): KEYS_DOC_MALFORMED for a duplicate member or a fractional second', () => {
    const ks = testKeySet(p, { keys, notBefore: new Date('2026-11-28T12:00:00Z') });
    const now = new Date('2026-11-28T12:00:01Z');
    const text = ks.doc;
    expect(verifyPublicKeysDocument(p, text, { pin: ks.pin, now }).valid).toBe(true);
    const dup = withFirst(text, '"accepted":[]');
    expect(dup).not.toBe(text);
    expect(verifyPublicKeysDocument(p, dup, { pin: ks.pin, now })).toMatchObject({ valid: false, code: 'KEYS_DOC_MALFORMED' });
    const frac = text.replace('"not_before":"2026-11-28T12:00:00Z"', '"not_before":"2026-11-28T12:00:00.5Z"');
    expect(frac).not.toBe(text);
    expect(verifyPublicKeysDocument(p, frac, { pin: ks.pin, now })).toMatchObject({ valid: false, code: 'KEYS_DOC_MALFORMED' });
  });

  it('audit core (§8.7): AUDIT_ENTRY_MALFORMED for a duplicate member', async () => {
    const core = '{"v":2,"chain":"c","seq":0}';
    expect(parseCore({ chain: 'c', seq: 0, core, digest: '', signature: '' })).toMatchObject({ v: 2 });
    expect(await codeOf(() => parseCore({ chain: 'c', seq: 0, core: withFirst(core, '"seq":1'), digest: '', signature: '' }))).toBe('AUDIT_ENTRY_MALFORMED');
  });

  it('key-set secret (§7.1): a duplicate member, or created with a fraction, is not our secret', () => {
    const ks = testKeySet(p, { keys });
    const good = encodeKeySetSecret({ root: ks.root.publicKey, keyset: ks.keyset, keys: { mlkem: keys.mlkem, ecdh: keys.ecdh, audit: ks.audit }, created: new Date('2026-11-28T12:00:00Z') });
    expect(decodeKeySetSecret(p, good, 's').generation).toBe(1);
    expect(() => decodeKeySetSecret(p, withFirst(good, '"generation":2'), 's')).toThrow(expect.objectContaining({ code: 'SECRET_MALFORMED' }));
    expect(() => decodeKeySetSecret(p, good.replace('12:00:00Z"}', '12:00:00.000Z"}'), 's')).toThrow(expect.objectContaining({ code: 'SECRET_MALFORMED' }));
  });
});

describe('quote, state files and persona-model answers', () => {
  it('quote document (§6.5): BAD_QUOTE_FILE', async () => {
    expect(await codeOf(() => parseQuoteDoc('{"format":"ima-qs/tpm-quote/v1","format":"x"}', 'q.json'))).toBe('BAD_QUOTE_FILE');
  });

  it('rollout state and simulated bank state: their own codes', async () => {
    const roll = join(dir, 'rollout.json');
    writeFileSync(roll, '{"version":1,"items":{}}');
    expect((await loadState(roll)).version).toBe(1);
    writeFileSync(roll, '{"version":1,"items":{},"items":{}}');
    expect(await codeOf(() => loadState(roll))).toBe('BAD_ROLLOUT_STATE');
    const sim = join(dir, 'sim.json');
    writeFileSync(sim, '{"format":"ima-qs/simulated-pcr-bank/v1","simulated":true,"pcrs":{}}');
    const bank = new SimulatedBank(sim);
    expect((await bank.read(11, ['sha256'])).sha256).toBeDefined();
    writeFileSync(sim, '{"format":"ima-qs/simulated-pcr-bank/v1","simulated":true,"pcrs":{},"pcrs":{"sha256":{}}}');
    expect(await codeOf(() => bank.read(11, ['sha256']))).toBe('BAD_SIMULATED_STATE');
  });

  it('persona-model answer (§8.6): PERSONA_MODEL_BAD_ANSWER for a duplicate member', async () => {
    const votes = CODE_COUNCIL.personas.map((x) => ({ persona: x.id, vote: 'approve', confidence: 700, rationale: 'fine' }));
    let answer = JSON.stringify({ v: 1, votes });
    const srv = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(answer);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/council`;
    const input = { route: 'analyze' as const, request_digest: 'ab'.repeat(32), payload: { name: 'f', content: 'x' } };
    try {
      expect(await new HttpPersonaModel({ url }).consult(CODE_COUNCIL, input)).toHaveLength(21);
      answer = answer.replace('"confidence":700', '"confidence":1000,"confidence":700');
      expect(await codeOf(() => new HttpPersonaModel({ url }).consult(CODE_COUNCIL, input))).toBe('PERSONA_MODEL_BAD_ANSWER');
      answer = JSON.stringify({ v: 1, votes }).replace('"confidence":700', '"confidence":7e2');
      expect(await codeOf(() => new HttpPersonaModel({ url }).consult(CODE_COUNCIL, input))).toBe('PERSONA_MODEL_BAD_ANSWER');
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
