import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DIGEST_SIZE,
  checkDigest,
  checkPcrIndex,
  extendPcr,
  parseBankList,
  parseHex,
  parsePcrRead,
  pickPcr,
  replayDigests,
  zeroPcr,
} from '../../../src/tpm/pcr-math.js';

// independent reference: TPM 2.0 Part 1 §17.5, new = H(old || digest), written with node:crypto directly
const ref = (alg: string, old: Buffer, d: Buffer) => createHash(alg).update(Buffer.concat([old, d])).digest();

describe('extendPcr', () => {
  for (const bank of ['sha256', 'sha384'] as const) {
    it(`${bank}: matches H(old || digest) over a chain of random digests`, () => {
      let mine = zeroPcr(bank);
      let theirs = Buffer.alloc(DIGEST_SIZE[bank]);
      const ds: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const d = randomBytes(DIGEST_SIZE[bank]);
        ds.push(d);
        mine = extendPcr(bank, mine, d);
        theirs = ref(bank, theirs, d);
        expect(Buffer.from(mine).equals(theirs)).toBe(true);
      }
      expect(Buffer.from(replayDigests(bank, ds)).equals(theirs)).toBe(true);
    });
  }

  it('matches a value a real TPM (swtpm 0.7.1) produced: pcr 0…0 extended with 32 zero bytes', () => {
    // observed with tpm2_pcrextend 11:sha256=00…00 on a fresh swtpm, then tpm2_pcrread
    const v = extendPcr('sha256', zeroPcr('sha256'), new Uint8Array(32));
    expect(Buffer.from(v).toString('hex')).toBe('f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b');
  });

  it('refuses digests and old values of the wrong length', () => {
    expect(() => extendPcr('sha256', zeroPcr('sha256'), new Uint8Array(48))).toThrow(expect.objectContaining({ code: 'BAD_DIGEST_LENGTH' }));
    expect(() => extendPcr('sha384', zeroPcr('sha384'), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'BAD_DIGEST_LENGTH' }));
    expect(() => extendPcr('sha256', new Uint8Array(31), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'BAD_PCR_VALUE' }));
  });
});

describe('input checks', () => {
  it.each([0, 11, 23])('pcr %i is accepted', (i) => expect(checkPcrIndex(i)).toBe(i));
  it.each([24, -1, 1.5, Number.NaN])('pcr %s is BAD_PCR_INDEX, exit 3', (i) => {
    try {
      checkPcrIndex(i);
      expect.unreachable();
    } catch (e: any) {
      expect(e.code).toBe('BAD_PCR_INDEX');
      expect(e.exitCode).toBe(3);
    }
  });
  it('checkDigest names the expected size', () => {
    expect(() => checkDigest('sha256', new Uint8Array(2))).toThrow(/2 bytes; a sha256 digest is 32 bytes/);
  });
  it('parses bank lists', () => {
    expect(parseBankList('sha256,SHA384,sha256')).toEqual(['sha256', 'sha384']);
    expect(() => parseBankList('sha1')).toThrow(expect.objectContaining({ code: 'BAD_BANK' }));
    expect(() => parseBankList('')).toThrow(expect.objectContaining({ code: 'BAD_BANK' }));
  });
  it('parses hex', () => {
    expect(Buffer.from(parseHex('0xA0b1', 'x')).toString('hex')).toBe('a0b1');
    expect(() => parseHex('abc', 'x')).toThrow(expect.objectContaining({ code: 'BAD_HEX' }));
    expect(() => parseHex('zz', 'x')).toThrow(expect.objectContaining({ code: 'BAD_HEX' }));
  });
});

// the real output of tpm2-tools 5.4 against swtpm 0.7.1
const REAL = `  sha1:
    0 : 0x0000000000000000000000000000000000000000
    1 : 0x0000000000000000000000000000000000000000
  sha256:
    11: 0xF5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B
  sha384:
    11: 0x000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
`;

describe('parsePcrRead', () => {
  it('parses the real format, including "0 : 0x" for one-digit indices', () => {
    const r = parsePcrRead(REAL);
    expect(Object.keys(r)).toEqual(['sha1', 'sha256', 'sha384']);
    expect(r.sha1[0].length).toBe(20);
    expect(Buffer.from(r.sha256[11]).toString('hex')).toBe('f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b');
    const picked = pickPcr(r, 11, ['sha256', 'sha384']);
    expect(picked.sha384.length).toBe(48);
  });

  it('an empty bank (pcr out of range) gives TPM_PCR_OUT_OF_RANGE when picked', () => {
    const r = parsePcrRead('  sha256:\n');
    expect(r).toEqual({ sha256: {} });
    expect(() => pickPcr(r, 24, ['sha256'])).toThrow(expect.objectContaining({ code: 'TPM_PCR_OUT_OF_RANGE' }));
  });

  it.each([
    ['a value before any bank', '    11: 0x00\n'],
    ['a garbage line', '  sha256:\n  hello\n'],
    ['non-hex value', '  sha256:\n    11: 0xZZ\n'],
    ['wrong length for the bank', '  sha256:\n    11: 0x0011\n'],
    ['odd hex digits', '  sha256:\n    11: 0x001\n'],
    ['a repeated index', `  sha256:\n    11: 0x${'00'.repeat(32)}\n    11: 0x${'00'.repeat(32)}\n`],
    ['a repeated bank', '  sha256:\n  sha256:\n'],
    ['an index out of range', `  sha256:\n    24: 0x${'00'.repeat(32)}\n`],
  ])('malformed: %s → TPM_BAD_OUTPUT (exit 4)', (_name, text) => {
    try {
      parsePcrRead(text);
      expect.unreachable();
    } catch (e: any) {
      expect(e.code).toBe('TPM_BAD_OUTPUT');
      expect(e.exitCode).toBe(4);
    }
  });
});
