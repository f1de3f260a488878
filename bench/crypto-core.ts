// Quick medians of the crypto core per provider (not a test; run on Node 20 and Node 24):
//   node node_modules/tsx/dist/cli.mjs bench/crypto-core.ts
// composite encaps+decaps, ML-DSA-87 sign / verify (1 KiB), and — as a reference for the
// issue's bench target — KEM + AES-256-GCM of 1 KiB vs hpke-js X-Wing seal+open of 1 KiB.
import { CipherSuite, HkdfSha256, Aes128Gcm } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import { compositeDecapsulate, compositeEncapsulate, compositeGenerate } from '../src/crypto/composite-kem.js';
import { getProvider } from '../src/crypto/providers.js';
import { signBytes, verifyBytes } from '../src/crypto/signature.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function time(n: number, f: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await f(); // warm-up
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await f();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return median(t);
}

const msg = new Uint8Array(1024).fill(7);
const rows: [string, string, number][] = [];
for (const name of ['noble', 'node'] as const) {
  const p = getProvider(name);
  const label = `${name}${name === 'node' ? (p.nativePq ? ' (native PQ)' : ' (noble PQ)') : ''}`;
  const key = compositeGenerate(p);
  rows.push([label, 'composite encaps+decaps', await time(300, () => compositeDecapsulate(p, key, compositeEncapsulate(p, key.publicKey).cipherText))]);
  rows.push([label, 'composite encaps + AES-GCM 1 KiB seal+open', await time(300, () => {
    const { cipherText, sharedSecret } = compositeEncapsulate(p, key.publicKey);
    const nonce = new Uint8Array(12);
    const sealed = p.aes256gcm.seal(sharedSecret, nonce, msg, cipherText);
    const ss = compositeDecapsulate(p, key, cipherText);
    if (!p.aes256gcm.open(ss, nonce, sealed, cipherText)) throw new Error('open failed');
  })]);
  const dsa = p.mldsa87.fromSeed();
  const sig = signBytes(p, dsa, 'file', msg);
  rows.push([label, 'ML-DSA-87 sign 1 KiB', await time(name === 'noble' ? 100 : 200, () => signBytes(p, dsa, 'file', msg))]);
  rows.push([label, 'ML-DSA-87 verify 1 KiB', await time(200, () => verifyBytes(p, dsa.publicKey, 'file', msg, sig))]);
}
const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
const rkp = await suite.kem.generateKeyPair();
rows.push(['hpke-js', 'X-Wing seal+open 1 KiB', await time(200, async () => {
  const { ct, enc } = await suite.seal({ recipientPublicKey: rkp.publicKey }, msg);
  await suite.open({ recipientKey: rkp, enc }, ct);
})]);

console.log(`node ${process.version} (OpenSSL ${process.versions.openssl})`);
for (const [p, op, ms] of rows) console.log(`${p.padEnd(20)} ${op.padEnd(44)} ${ms.toFixed(3)} ms`);
