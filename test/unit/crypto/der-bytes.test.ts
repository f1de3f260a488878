// The strict DER reader (X.690 §10) and the byte helpers: canonical encodings only, and hostile
// input (mutated and truncated key files) never produces anything but an ImaError.
import { describe, expect, it } from 'vitest';
import { ImaError } from '../../../src/errors.js';
import { equalBytes, fromBase64, fromHex, toBase64, toHex } from '../../../src/crypto/bytes.js';
import {
  DerReader,
  derBitString,
  derOid,
  derSequence,
  derSmallInteger,
} from '../../../src/crypto/der.js';
import { decodeKeyDer, privateKeyDer, spkiDer } from '../../../src/crypto/key-codec.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { nobleProvider as p } from '../../../src/crypto/provider-noble.js';
import { expectCode } from './helpers.js';

const r = (hex: string) => new DerReader(fromHex(hex), 'test.der');

describe('DerReader', () => {
  it('reads a sequence of the basic types and round-trips the writer', () => {
    const der = derSequence(derSmallInteger(0), derSmallInteger(128), derOid('1.3.6.1.5.5.7.6.60'), derBitString(Uint8Array.of(1, 2)));
    expect(toHex(der)).toBe('3016020100020200800608' + '2b06010505070' + '63c' + '0303000102');
    const s = new DerReader(der, 'x').sequence();
    expect(s.smallInteger()).toBe(0);
    expect(s.smallInteger()).toBe(128);
    expect(s.oid()).toBe('1.3.6.1.5.5.7.6.60');
    expect(Array.from(s.bitString())).toEqual([1, 2]);
    s.finish();
  });

  it('round-trips OIDs with large arcs', () => {
    for (const oid of ['2.16.840.1.101.3.4.4.2', '2.16.840.1.101.3.4.3.19', '1.2.840.10045.2.1', '1.3.132.0.34', '2.999.1']) {
      expect(new DerReader(derOid(oid), 'x').oid()).toBe(oid);
    }
  });

  const bad: [string, string][] = [
    ['indefinite length', '3080020100' + '0000'],
    ['non-minimal short length in long form', '30810100'],
    ['long length with a leading zero', '3082000100'],
    ['length past the end', '3005020100'],
    ['truncated length', '3082'],
    ['multi-byte tag', '1f0100'],
    ['non-minimal INTEGER', '020200' + '01'],
    ['negative INTEGER', '0201ff'],
    ['empty INTEGER', '0200'],
    ['BIT STRING with unused bits', '03020101'],
    ['empty OID', '0600'],
    ['OID with a non-minimal arc', '0603' + '2b8001'],
    ['OID truncated mid-arc', '0602' + '2b81'],
  ];
  it.each(bad)('rejects %s', (_w, hex) => {
    expectCode(() => {
      const x = r(hex);
      const t = x.peekTag();
      if (t === 0x02) x.smallInteger();
      else if (t === 0x03) x.bitString();
      else if (t === 0x06) x.oid();
      else x.next();
      x.finish();
    }, 'DER_MALFORMED');
  });

  it('rejects trailing bytes', () => {
    expectCode(() => {
      const x = r('020100' + '00');
      x.smallInteger();
      x.finish();
    }, 'DER_MALFORMED');
  });
});

describe('hostile key files', () => {
  const inputs: [string, 'public' | 'private', Uint8Array][] = [
    ['composite SPKI', 'public', spkiDer('MLKEM768-P384', compositeGenerate(p).publicKey)],
    ['composite PKCS#8', 'private', privateKeyDer(compositeGenerate(p))],
    ['P-384 PKCS#8', 'private', privateKeyDer(p.p384.fromScalar())],
    ['ML-DSA PKCS#8', 'private', privateKeyDer(p.mldsa87.fromSeed())],
  ];
  it.each(inputs)('%s: 600 random mutations and every truncation throw only ImaErrors', (_w, kind, der) => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const tries: Uint8Array[] = [];
    for (let i = 0; i < 600; i++) {
      const m = Uint8Array.from(der);
      const flips = 1 + rnd(3);
      for (let f = 0; f < flips; f++) m[rnd(Math.min(m.length, 40))] = rnd(256); // headers are where parsers break
      tries.push(m);
    }
    for (let n = 0; n < der.length; n += Math.max(1, Math.floor(der.length / 80))) tries.push(der.subarray(0, n));
    let rejected = 0;
    for (const t of tries) {
      try {
        decodeKeyDer(p, t, kind, 'fuzz.key');
      } catch (err) {
        expect(err).toBeInstanceOf(ImaError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(tries.length / 2);
  });
});

describe('bytes', () => {
  it('equalBytes', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(false);
  });
  it('hex round trip and strictness', () => {
    expect(toHex(fromHex('00ffA0'))).toBe('00ffa0');
    expectCode(() => fromHex('abc', 'fingerprint'), 'BAD_HEX');
    expectCode(() => fromHex('zz', 'fingerprint'), 'BAD_HEX');
  });
  it('base64 matches Buffer for every length 0..70', () => {
    for (let n = 0; n <= 70; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      const s = toBase64(b);
      expect(s).toBe(Buffer.from(b).toString('base64'));
      expect(equalBytes(fromBase64(s), b)).toBe(true);
    }
  });
  it.each(['QQ', 'QQ=', 'QR==', 'Q===', 'QUJD\n', 'QU-D', 'QU_D', '=QUJ', 'QUJD====', 'QU==QUJD'])('strict base64 rejects %j', (s) => {
    expectCode(() => fromBase64(s), 'BAD_BASE64');
  });
});
