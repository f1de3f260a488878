// Key files (SPEC §2): round trips for every algorithm with both providers, the three RFC 9935 /
// RFC 9881 private-key forms, fingerprints, and a table of bad inputs asserted by error code.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, toBase64, toHex } from '../../../src/crypto/bytes.js';
import { compositeGenerate, compositePrivateKeyToBytes } from '../../../src/crypto/composite-kem.js';
import { derOctetString, derSequence, derImplicit } from '../../../src/crypto/der.js';
import {
  type DecodedKey,
  type KeyAlg,
  decodeKeyDer,
  decodeKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
  expectPrivate,
  expectPublic,
  fingerprint,
  parsePem,
  spkiDer,
} from '../../../src/crypto/key-codec.js';
import { ecPrivateKeyDer, pkcs8Der, p384Pkcs8Der } from '../../../src/crypto/key-der.js';
import { nobleProvider } from '../../../src/crypto/provider-noble.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { expectCode, providers } from './helpers.js';

const p = nobleProvider;
const kem = p.mlkem768.fromSeed(Uint8Array.from({ length: 64 }, (_, i) => i));
const dsa = p.mldsa87.fromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));
const ec = p.p384.fromScalar(Uint8Array.from({ length: 48 }, (_, i) => i + 1));
const composite = compositeGenerate(p);

function pemOf(label: string, der: Uint8Array): string {
  const b = toBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b}\n-----END ${label}-----\n`;
}

describe.each(providers.map((x) => [x.name, x] as const))('round trips with the %s provider', (_n, prov) => {
  const cases: [KeyAlg, { publicKey: Uint8Array }][] = [
    ['ML-KEM-768', kem],
    ['ML-DSA-87', dsa],
    ['P-384', ec],
    ['MLKEM768-P384', composite],
  ];
  it.each(cases)('%s public and private PEM', (alg, key) => {
    const pub = decodeKeyPem(prov, encodePublicKeyPem(alg, key.publicKey), 'k.pub');
    expect(pub).toMatchObject({ kind: 'public', alg });
    expect(equalBytes(expectPublic(pub, alg, 'k.pub'), key.publicKey)).toBe(true);
    const priv = decodeKeyPem(prov, encodePrivateKeyPem(key as never), 'k.key');
    expect(priv).toMatchObject({ kind: 'private', alg });
    expect(equalBytes(expectPrivate(priv, alg, 'k.key').publicKey, key.publicKey)).toBe(true);
    // writing again gives the same bytes (deterministic encoding)
    expect(encodePrivateKeyPem(expectPrivate(priv, alg, 'k.key'))).toBe(encodePrivateKeyPem(key as never));
  });
});

describe('PQ private keys: written seed-only, read in all three forms', () => {
  it('writes the seed-only CHOICE [0] (RFC 9935 §6 / RFC 9881 §6)', () => {
    const der = parsePem(encodePrivateKeyPem(kem), 'x').der;
    // ... OCTET STRING (66) { [0] (64) seed }
    expect(toHex(der.subarray(der.length - 68, der.length - 64))).toBe('04428040');
    expect(equalBytes(der.subarray(der.length - 64), kem.seed!)).toBe(true);
    const dder = parsePem(encodePrivateKeyPem(dsa), 'x').der;
    expect(toHex(dder.subarray(dder.length - 36, dder.length - 32))).toBe('04228020');
  });

  for (const [alg, key, impl] of [
    ['ML-KEM-768', kem, p.mlkem768],
    ['ML-DSA-87', dsa, p.mldsa87],
  ] as const) {
    const expanded = impl.expand(key.seed!);
    it(`${alg}: expandedKey form is accepted and signs/decapsulates the same`, () => {
      for (const prov of providers) {
        const d = decodeKeyDer(prov, pkcs8Der(alg, derOctetString(expanded)), 'private', 'exp.key');
        const k = expectPrivate(d, alg, 'exp.key');
        expect(k.seed).toBeUndefined();
        expect(equalBytes(k.publicKey, key.publicKey)).toBe(true);
      }
    });
    it(`${alg}: both form is accepted when it matches`, () => {
      const d = decodeKeyDer(p, pkcs8Der(alg, derSequence(derOctetString(key.seed!), derOctetString(expanded))), 'private', 'both.key');
      expect(equalBytes(d.publicKey, key.publicKey)).toBe(true);
    });
    it(`${alg}: both form whose expanded key is not the seed's is rejected`, () => {
      const other = impl.expand(new Uint8Array(key.seed!.length).fill(7));
      expectCode(
        () => decodeKeyDer(p, pkcs8Der(alg, derSequence(derOctetString(key.seed!), derOctetString(other))), 'private', 'both.key'),
        'KEY_PAIR_MISMATCH',
      );
    });
    it(`${alg}: a tampered expanded key fails its internal hash check`, () => {
      const bad = Uint8Array.from(expanded);
      bad[alg === 'ML-KEM-768' ? 1200 : 70] ^= 1; // inside ek (ML-KEM) / tr (ML-DSA)
      expectCode(() => decodeKeyDer(p, pkcs8Der(alg, derOctetString(bad)), 'private', 'exp.key'), 'KEY_MALFORMED');
    });
  }

  it('expanded-only ML-DSA key signs with both providers', () => {
    const d = decodeKeyDer(p, pkcs8Der('ML-DSA-87', derOctetString(p.mldsa87.expand(dsa.seed!))), 'private', 'e');
    const k = expectPrivate(d, 'ML-DSA-87', 'e');
    for (const prov of providers) {
      const sig = prov.mldsa87.sign(k, Uint8Array.of(1), Uint8Array.of(2));
      expect(p.mldsa87.verify(dsa.publicKey, Uint8Array.of(1), sig, Uint8Array.of(2))).toBe(true);
    }
  });

  it('expanded-only ML-KEM key decapsulates with both providers', () => {
    const d = decodeKeyDer(p, pkcs8Der('ML-KEM-768', derOctetString(p.mlkem768.expand(kem.seed!))), 'private', 'e');
    const k = expectPrivate(d, 'ML-KEM-768', 'e');
    const { cipherText, sharedSecret } = p.mlkem768.encapsulate(kem.publicKey);
    for (const prov of providers) expect(equalBytes(prov.mlkem768.decapsulate(k, cipherText), sharedSecret)).toBe(true);
  });
});

describe('fingerprint', () => {
  it('is lowercase hex SHA3-256 of the SPKI DER', () => {
    const f = fingerprint('ML-DSA-87', dsa.publicKey);
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(f).toBe(toHex(sha3_256(spkiDer('ML-DSA-87', dsa.publicKey))));
    expect(fingerprint('ML-KEM-768', kem.publicKey)).not.toBe(f);
  });
});

describe('P-384 keys as OpenSSL writes them', () => {
  it('reads node:crypto PKCS#8 and SPKI P-384 keys', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const priv = decodeKeyPem(p, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'node.key');
    const pub = decodeKeyPem(p, publicKey.export({ format: 'pem', type: 'spki' }) as string, 'node.pub');
    expect(priv.alg).toBe('P-384');
    expect(equalBytes(priv.publicKey, expectPublic(pub, 'P-384', 'node.pub'))).toBe(true);
  });
});

// ---- the table of bad inputs ----

const kemSpki = spkiDer('ML-KEM-768', kem.publicKey);
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');

function withOid(der: Uint8Array, from: string, to: string): Uint8Array {
  const hex = toHex(der).replace(from, to);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

const badPublic: [string, string, string][] = [
  ['truncated DER', pemOf('PUBLIC KEY', kemSpki.subarray(0, kemSpki.length - 1)), 'KEY_MALFORMED'],
  ['trailing bytes after the SPKI', pemOf('PUBLIC KEY', concatBytes(kemSpki, Uint8Array.of(0))), 'KEY_MALFORMED'],
  ['unknown OID', pemOf('PUBLIC KEY', withOid(kemSpki, '0609608648016503040402', '0609608648016503040409')), 'KEY_UNSUPPORTED_ALGORITHM'],
  ['a truncated OID', pemOf('PUBLIC KEY', withOid(kemSpki, '0609608648016503040402', '06096086480165030404ff')), 'KEY_MALFORMED'],
  ['an ML-KEM-1024 OID', pemOf('PUBLIC KEY', withOid(kemSpki, '0609608648016503040402', '0609608648016503040403')), 'KEY_UNSUPPORTED_ALGORITHM'],
  ['an EC P-256 key made by node:crypto', p256.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'KEY_WRONG_ALGORITHM'],
  ['an RSA key', rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'KEY_UNSUPPORTED_ALGORITHM'],
  ['an Ed25519 key', ed.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'KEY_UNSUPPORTED_ALGORITHM'],
  ['a PKCS#1 RSA label', rsa.publicKey.export({ format: 'pem', type: 'pkcs1' }) as string, 'KEY_UNSUPPORTED_FORMAT'],
  ['a certificate label', pemOf('CERTIFICATE', kemSpki), 'KEY_UNSUPPORTED_FORMAT'],
  ['mismatched BEGIN/END labels', pemOf('PUBLIC KEY', kemSpki).replace('END PUBLIC KEY', 'END PRIVATE KEY'), 'KEY_MALFORMED'],
  ['text after the END line', pemOf('PUBLIC KEY', kemSpki) + 'extra\n', 'KEY_MALFORMED'],
  ['text before the BEGIN line', 'hello\n' + pemOf('PUBLIC KEY', kemSpki), 'KEY_MALFORMED'],
  ['two PEM blocks', pemOf('PUBLIC KEY', kemSpki) + pemOf('PUBLIC KEY', kemSpki), 'KEY_MALFORMED'],
  ['bad base64', pemOf('PUBLIC KEY', kemSpki).replace(/A/, '*'), 'KEY_MALFORMED'],
  ['not PEM at all', 'just some text', 'KEY_MALFORMED'],
  ['empty file', '', 'KEY_MALFORMED'],
  ['an ML-KEM key one byte short', pemOf('PUBLIC KEY', derSequence(kemSpki.subarray(4, 17), Uint8Array.from([0x03, 0x82, 0x04, 0xa0, 0x00, ...kem.publicKey.subarray(1)]))), 'KEY_WRONG_SIZE'],
  ['ML-KEM AlgorithmIdentifier with NULL parameters', pemOf('PUBLIC KEY', derSequence(derSequence(kemSpki.subarray(6, 17), Uint8Array.of(5, 0)), kemSpki.subarray(17))), 'KEY_MALFORMED'],
  ['a P-384 point off the curve', pemOf('PUBLIC KEY', (() => { const d = spkiDer('P-384', ec.publicKey); d[d.length - 1] ^= 1; return d; })()), 'KEY_MALFORMED'],
  ['non-minimal DER length', pemOf('PUBLIC KEY', Uint8Array.from([0x30, 0x83, 0x00, ...kemSpki.subarray(2)])), 'KEY_MALFORMED'],
];

describe('bad public key files', () => {
  it.each(badPublic.map(([what, text, code]) => ({ what, text, code })))('$what → $code', ({ text, code }) => {
    expectCode(() => decodeKeyPem(p, text, 'server.pub'), code);
  });

  it('says what the file is and what was expected', () => {
    const err = expectCode(
      () => decodeKeyPem(p, p256.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'server.pub'),
      'KEY_WRONG_ALGORITHM',
    );
    expect(err.message).toBe('server.pub is an EC P-256 key; an ECDH P-384 key was expected');
    const short = expectCode(() => decodeKeyPem(p, badPublic.find((b) => b[0].includes('one byte short'))![1], 'server.pub'), 'KEY_WRONG_SIZE');
    expect(short.message).toContain('1183 bytes');
    expect(short.message).toContain('1184');
  });
});

const badPrivate: [string, string, string][] = [
  ['a P-256 private key made by node:crypto', p256.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'KEY_WRONG_ALGORITHM'],
  ['an RSA private key', rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'KEY_UNSUPPORTED_ALGORITHM'],
  ['a SEC 1 "EC PRIVATE KEY"', p256.privateKey.export({ format: 'pem', type: 'sec1' }) as string, 'KEY_UNSUPPORTED_FORMAT'],
  ['an ML-DSA seed of 31 bytes', pemOf('PRIVATE KEY', pkcs8Der('ML-DSA-87', derImplicit(0, new Uint8Array(31)))), 'KEY_WRONG_SIZE'],
  ['an ML-KEM expanded key of 2399 bytes', pemOf('PRIVATE KEY', pkcs8Der('ML-KEM-768', derOctetString(new Uint8Array(2399)))), 'KEY_WRONG_SIZE'],
  ['an unknown private key form', pemOf('PRIVATE KEY', pkcs8Der('ML-KEM-768', derImplicit(1, new Uint8Array(64)))), 'KEY_MALFORMED'],
  ['a P-384 key whose stored point is wrong', pemOf('PRIVATE KEY', p384Pkcs8Der(ec.scalar, p.p384.fromScalar().publicKey)), 'KEY_PAIR_MISMATCH'],
  ['a P-384 scalar of zero', pemOf('PRIVATE KEY', p384Pkcs8Der(new Uint8Array(48))), 'KEY_MALFORMED'],
  ['trailing bytes after the PKCS#8', pemOf('PRIVATE KEY', concatBytes(parsePem(encodePrivateKeyPem(dsa), 'x').der, Uint8Array.of(0))), 'KEY_MALFORMED'],
  ['a composite dk with a truncated ECPrivateKey', pemOf('PRIVATE KEY', pkcs8Der('MLKEM768-P384', new Uint8Array(80))), 'KEY_MALFORMED'],
  // issue 18 / SPEC §2.2-2.3: trailing octets at every level of a P-384 and a composite key
  ['trailing octets after the ECPrivateKey in its OCTET STRING', pemOf('PRIVATE KEY', pkcs8Der('P-384', concatBytes(ecPrivateKeyDer(ec.scalar), Uint8Array.of(0, 0)))), 'KEY_MALFORMED'],
  ['trailing octets inside the ECPrivateKey SEQUENCE', pemOf('PRIVATE KEY', pkcs8Der('P-384', withTrailingInside(ecPrivateKeyDer(ec.scalar)))), 'KEY_MALFORMED'],
  ['trailing octets after the ECPrivateKey of a composite dk', pemOf('PRIVATE KEY', pkcs8Der('MLKEM768-P384', concatBytes(compositePrivateKeyToBytes(composite), Uint8Array.of(0)))), 'KEY_MALFORMED'],
  ['a P-384 scalar of 47 bytes', pemOf('PRIVATE KEY', pkcs8Der('P-384', derSequence(Uint8Array.of(2, 1, 1), derOctetString(new Uint8Array(47).fill(1))))), 'KEY_WRONG_SIZE'],
  ['76-character PEM lines', `-----BEGIN PRIVATE KEY-----\n${toBase64(parsePem(encodePrivateKeyPem(ec), 'x').der).match(/.{1,76}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, 'KEY_MALFORMED'],
];

/** The same SEQUENCE (short-form length) with a NULL appended inside it, after its last element. */
function withTrailingInside(seq: Uint8Array): Uint8Array {
  expect(seq[1] & 0x80).toBe(0);
  return derSequence(seq.subarray(2), Uint8Array.of(5, 0));
}

describe('bad private key files', () => {
  it.each(badPrivate.map(([what, text, code]) => ({ what, text, code })))('$what → $code', ({ what, text, code }) => {
    for (const prov of providers) {
      const e = expectCode(() => decodeKeyPem(prov, text, 'server.key'), code);
      if (what.startsWith('trailing octets')) expect(e.message).toMatch(/trailing bytes after ECPrivateKey/);
      if (what.startsWith('76-character')) expect(e.message).toMatch(/a line has 76 characters/);
    }
  });
});

describe('expectPublic / expectPrivate', () => {
  const pubKem = decodeKeyPem(p, encodePublicKeyPem('ML-KEM-768', kem.publicKey), 'kem.pub');
  const pubDsa = decodeKeyPem(p, encodePublicKeyPem('ML-DSA-87', dsa.publicKey), 'dsa.pub');
  const privKem: DecodedKey = decodeKeyPem(p, encodePrivateKeyPem(kem), 'kem.key');
  it('an ML-DSA key where ML-KEM is expected', () => {
    const e = expectCode(() => expectPublic(pubDsa, 'ML-KEM-768', 'dsa.pub'), 'KEY_WRONG_ALGORITHM');
    expect(e.message).toBe('dsa.pub is an ML-DSA-87 public key; an ML-KEM-768 public key was expected');
  });
  it('a private key where a public key is expected', () => {
    expectCode(() => expectPublic(privKem, 'ML-KEM-768', 'kem.key'), 'KEY_NOT_PUBLIC');
  });
  it('a public key where a private key is expected', () => {
    expectCode(() => expectPrivate(pubKem, 'ML-KEM-768', 'kem.pub'), 'KEY_NOT_PRIVATE');
  });
  it('no secret bytes in error messages', () => {
    const e = expectCode(() => expectPublic(privKem, 'ML-KEM-768', 'kem.key'), 'KEY_NOT_PUBLIC');
    const seedHex = toHex(kem.seed!).slice(0, 16);
    expect(JSON.stringify(e.toJSON())).not.toContain(seedHex);
  });
});

describe('ML-KEM-768 public keys: the FIPS 203 §7.2 modulus check at decode', () => {
  // coefficient 0 of t̂ set to 0xFFF (≥ q = 3329): a key that ByteEncode12(ByteDecode12(·)) changes
  const bad = (pk: Uint8Array) => {
    const b = Uint8Array.from(pk);
    b[0] = 0xff;
    b[1] |= 0x0f;
    return b;
  };
  it('a valid key decodes; one out-of-range coefficient is KEY_MALFORMED', () => {
    expect(decodeKeyPem(p, encodePublicKeyPem('ML-KEM-768', kem.publicKey), 'ok.pub').kind).toBe('public');
    expectCode(() => decodeKeyPem(p, encodePublicKeyPem('ML-KEM-768', bad(kem.publicKey)), 'bad.pub'), 'KEY_MALFORMED');
  });
  it('the same for the ML-KEM half of a composite public key', () => {
    expectCode(() => decodeKeyPem(p, encodePublicKeyPem('MLKEM768-P384', bad(composite.publicKey)), 'bad.pub'), 'KEY_MALFORMED');
  });
  it('the last coefficient (bytes 1149–1151) is checked too', () => {
    const b = Uint8Array.from(kem.publicKey);
    b[1151] = 0xff; // high byte of coefficient 767 → 0xFFx ≥ q
    expectCode(() => decodeKeyPem(p, encodePublicKeyPem('ML-KEM-768', b), 'bad.pub'), 'KEY_MALFORMED');
  });
});
