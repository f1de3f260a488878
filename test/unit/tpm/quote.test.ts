import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type QuoteDoc, QUOTE_FORMAT, parseAttest, parseQuoteDoc, verifyQuote } from '../../../src/tpm/quote.js';

// a TPMS_ATTEST built by hand from TPM 2.0 Part 2 §10.12.12, independent of the parser
function attest(nonce: Buffer, sel: [number, number][], pcrDigest: Buffer, over: { magic?: number; type?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  parts.push(u32(over.magic ?? 0xff544347), u16(over.type ?? 0x8018));
  const name = randomBytes(34);
  parts.push(u16(name.length), name, u16(nonce.length), nonce);
  parts.push(Buffer.alloc(8, 1), u32(7), u32(0), Buffer.from([1]), Buffer.alloc(8, 2)); // clockInfo, firmwareVersion
  parts.push(u32(sel.length));
  for (const [alg, pcr] of sel) {
    const bits = Buffer.alloc(3);
    bits[pcr >> 3] |= 1 << (pcr & 7);
    parts.push(u16(alg), Buffer.from([3]), bits);
  }
  parts.push(u16(pcrDigest.length), pcrDigest);
  return Buffer.concat(parts);
}

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const akPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

function makeDoc(nonce: Buffer, v256: Buffer, v384: Buffer, over: { magic?: number; type?: number } = {}): QuoteDoc {
  const digest = createHash('sha256').update(Buffer.concat([v256, v384])).digest();
  const msg = attest(nonce, [[0x0b, 11], [0x0c, 11]], digest, over);
  return {
    format: QUOTE_FORMAT, simulated: false, pcr: 11, banks: ['sha256', 'sha384'],
    values: { sha256: v256.toString('hex'), sha384: v384.toString('hex') },
    nonce: nonce.toString('hex'), message: msg.toString('hex'),
    signature: sign('sha256', msg, privateKey).toString('hex'), signatureScheme: 'rsassa-sha256',
    akPem, akHandle: '0x81010002', akFingerprint: 'x', time: 't',
  };
}

const nonce = randomBytes(16);
const v256 = randomBytes(32);
const v384 = randomBytes(48);

describe('parseAttest', () => {
  it('reads magic, type, extraData, selection and digest', () => {
    const a = parseAttest(Buffer.from(makeDoc(nonce, v256, v384).message, 'hex'));
    expect(a.magic).toBe(0xff544347);
    expect(a.type).toBe(0x8018);
    expect(Buffer.from(a.extraData).equals(nonce)).toBe(true);
    expect(a.selection).toEqual([{ alg: 'sha256', algId: 0x0b, pcrs: [11] }, { alg: 'sha384', algId: 0x0c, pcrs: [11] }]);
    expect(a.resetCount).toBe(7);
  });
  it('refuses truncated and over-long messages', () => {
    const m = Buffer.from(makeDoc(nonce, v256, v384).message, 'hex');
    expect(() => parseAttest(m.subarray(0, m.length - 1))).toThrow(expect.objectContaining({ code: 'BAD_QUOTE_MESSAGE' }));
    expect(() => parseAttest(Buffer.concat([m, Buffer.from([0])]))).toThrow(expect.objectContaining({ code: 'BAD_QUOTE_MESSAGE' }));
  });
});

describe('verifyQuote', () => {
  const ok = makeDoc(nonce, v256, v384);
  const failing = (v: ReturnType<typeof verifyQuote>) => v.checks.filter((c) => !c.ok).map((c) => c.check);

  it('accepts a good quote, pinned or not', () => {
    expect(verifyQuote(ok, { nonce, akPem }).ok).toBe(true);
    const self = verifyQuote(ok, { nonce });
    expect(self.ok).toBe(true);
    expect(self.akSelfAsserted).toBe(true);
  });
  it('a wrong nonce fails the nonce check', () => {
    expect(failing(verifyQuote(ok, { nonce: randomBytes(16), akPem }))).toEqual(['nonce']);
  });
  it('a tampered value fails the pcr digest check', () => {
    const bad = { ...ok, values: { ...ok.values, sha384: randomBytes(48).toString('hex') } };
    expect(failing(verifyQuote(bad, { nonce, akPem }))).toEqual(['pcr digest']);
  });
  it('another pinned key fails key and signature', () => {
    expect(failing(verifyQuote(ok, { nonce, akPem: other }))).toEqual(['attestation key', 'signature']);
  });
  it('a flipped message bit fails the signature', () => {
    const m = Buffer.from(ok.message, 'hex');
    m[m.length - 1] ^= 1;
    expect(failing(verifyQuote({ ...ok, message: m.toString('hex') }, { nonce, akPem }))).toEqual(['signature', 'pcr digest']);
  });
  it('a claimed selection other than the attested one fails', () => {
    expect(failing(verifyQuote({ ...ok, banks: ['sha256'] }, { nonce, akPem }))).toContain('pcr selection');
  });
  it('a signed structure that is not a quote fails the structure check', () => {
    const d = makeDoc(nonce, v256, v384, { type: 0x8017 });
    expect(failing(verifyQuote(d, { nonce, akPem }))).toContain('structure');
    expect(verifyQuote(d, { nonce, akPem }).ok).toBe(false);
  });
});

describe('parseQuoteDoc', () => {
  it('round-trips a document and refuses broken ones', () => {
    const d = makeDoc(nonce, v256, v384);
    expect(parseQuoteDoc(JSON.stringify(d), 'q.json').pcr).toBe(11);
    for (const bad of ['nope', '{}', JSON.stringify({ ...d, pcr: 24 }), JSON.stringify({ ...d, banks: ['sha1'] }), JSON.stringify({ ...d, nonce: 'XYZ' })]) {
      expect(() => parseQuoteDoc(bad, 'q.json')).toThrow(expect.objectContaining({ code: 'BAD_QUOTE_FILE' }));
    }
  });
});
