/**
 * Crypto benchmarks (issue 2 "Benchmarks"; never part of the tests): envelope seal/open of 1 KiB
 * (one-shot) and 64 MiB (streaming), ML-DSA-87 sign/verify of 1 KiB, on both providers, with the
 * hpke-js X-Wing seal/open of 1 KiB measured in the same run as the peer. Prints a table of
 * medians and p99s with the ratios ours / X-Wing, and writes bench/results/crypto-<node>-<time>.json.
 *
 *   node --import tsx bench/crypto.bench.ts            (npm run bench runs it on Node 20 and Node 24)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import { compositeGenerate } from '../src/crypto/composite-kem.js';
import { openBytes, sealBytes } from '../src/crypto/envelope.js';
import { decryptStream, encryptStream } from '../src/crypto/envelope-stream.js';
import { getProvider } from '../src/crypto/providers.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { signBytes, verifyBytes } from '../src/crypto/signature.js';

interface Row {
  name: string;
  provider: string;
  samples: number;
  medianMs: number;
  p99Ms: number;
  /** for the 64 MiB rows */
  mibPerS?: number;
}

const rows: Row[] = [];
const quick = process.argv.includes('--quick');

function stats(name: string, provider: string, t: number[], mib?: number): Row {
  t.sort((a, b) => a - b);
  const median = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  const p99 = t[Math.min(t.length - 1, Math.ceil(t.length * 0.99) - 1)];
  const row: Row = { name, provider, samples: t.length, medianMs: median, p99Ms: p99, ...(mib ? { mibPerS: mib / (median / 1000) } : {}) };
  rows.push(row);
  process.stderr.write(`  ${provider.padEnd(7)} ${name.padEnd(28)} median ${median.toFixed(3)} ms\n`);
  return row;
}

/** Runs fn for about `budgetMs` (at least `min` samples) after a warm-up. */
async function measure(name: string, provider: string, fn: () => unknown, budgetMs = quick ? 300 : 1500, min = 30): Promise<Row> {
  for (let i = 0; i < 10; i++) await fn();
  const t: number[] = [];
  const end = performance.now() + budgetMs;
  while (t.length < min || (performance.now() < end && t.length < 5000)) {
    const a = performance.now();
    await fn();
    t.push(performance.now() - a);
  }
  return stats(name, provider, t);
}

const KiB = new Uint8Array(1024).fill(0x61);
const MiB = 1024 * 1024;

async function* generated(mib: number): AsyncGenerator<Uint8Array> {
  const block = randomBytes(MiB);
  for (let i = 0; i < mib; i++) yield block;
}

async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of source) n += c.length;
  return n;
}

async function benchProvider(p: CryptoProvider): Promise<void> {
  const name = p.name + (p.nativePq ? '*' : '');
  const key = compositeGenerate(p);
  await measure('seal 1 KiB', name, () => sealBytes(p, key.publicKey, KiB));
  const env = sealBytes(p, key.publicKey, KiB);
  await measure('open 1 KiB', name, () => openBytes(p, key, env));
  await measure('seal+open 1 KiB', name, () => openBytes(p, key, sealBytes(p, key.publicKey, KiB)));

  // 64 MiB streaming: a few samples (seconds each on noble)
  const n = quick ? 1 : p.name === 'noble' ? 3 : 7;
  const t: number[] = [];
  const sealed: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    if (i === 0) {
      for await (const c of encryptStream(p, key.publicKey, generated(64))) sealed.push(c);
    } else {
      await drain(encryptStream(p, key.publicKey, generated(64)));
    }
    t.push(performance.now() - a);
  }
  stats('seal 64 MiB (stream)', name, t, 64);
  const t2: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    await drain(decryptStream(p, key, (async function* () { yield* sealed; })()));
    t2.push(performance.now() - a);
  }
  stats('open 64 MiB (stream)', name, t2, 64);
  sealed.length = 0;

  const dsa = p.mldsa87.fromSeed();
  await measure('ML-DSA-87 sign 1 KiB', name, () => signBytes(p, dsa, 'file', KiB));
  const sig = signBytes(p, dsa, 'file', KiB);
  await measure('ML-DSA-87 verify 1 KiB', name, () => verifyBytes(p, dsa.publicKey, 'file', KiB, sig));
}

async function benchXWing(): Promise<void> {
  const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  const rkp = await suite.kem.generateKeyPair();
  await measure('seal 1 KiB', 'x-wing', () => suite.seal({ recipientPublicKey: rkp.publicKey }, KiB));
  const { ct, enc } = await suite.seal({ recipientPublicKey: rkp.publicKey }, KiB);
  await measure('open 1 KiB', 'x-wing', () => suite.open({ recipientKey: rkp.privateKey, enc }, ct));
  await measure('seal+open 1 KiB', 'x-wing', async () => {
    const s = await suite.seal({ recipientPublicKey: rkp.publicKey }, KiB);
    return suite.open({ recipientKey: rkp.privateKey, enc: s.enc }, s.ct);
  });
}

/**
 * The target ratio, measured interleaved: one X-Wing seal+open, then one of ours, alternately, so
 * that both see the same machine load (this machine is shared; medians of separate runs drift).
 */
async function interleaved(p: CryptoProvider): Promise<{ ours: Row; xwing: Row }> {
  const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  const rkp = await suite.kem.generateKeyPair();
  const key = compositeGenerate(p);
  const xw = async () => {
    const s = await suite.seal({ recipientPublicKey: rkp.publicKey }, KiB);
    await suite.open({ recipientKey: rkp.privateKey, enc: s.enc }, s.ct);
  };
  const ours = () => openBytes(p, key, sealBytes(p, key.publicKey, KiB));
  for (let i = 0; i < 20; i++) {
    await xw();
    ours();
  }
  const tx: number[] = [];
  const to: number[] = [];
  const n = quick ? 50 : 400;
  for (let i = 0; i < n; i++) {
    let a = performance.now();
    await xw();
    tx.push(performance.now() - a);
    a = performance.now();
    ours();
    to.push(performance.now() - a);
  }
  const name = p.name + (p.nativePq ? '*' : '');
  return { xwing: stats('seal+open 1 KiB interleaved', 'x-wing', tx), ours: stats('seal+open 1 KiB interleaved', name, to) };
}

process.stderr.write(`crypto bench on node ${process.version} (${process.versions.openssl})\n`);
// the peer first and last, so a drifting machine shows in the two X-Wing rows
await benchXWing();
for (const p of [getProvider('node'), getProvider('noble')]) await benchProvider(p);

const inter = await interleaved(getProvider('node'));
const xw = rows.find((r) => r.provider === 'x-wing' && r.name === 'seal+open 1 KiB')!;
const ratios = [
  { provider: `${inter.ours.provider} (interleaved)`, ratio: inter.ours.medianMs / inter.xwing.medianMs },
  ...rows
    .filter((r) => r.name === 'seal+open 1 KiB' && r.provider !== 'x-wing')
    .map((r) => ({ provider: r.provider, ratio: r.medianMs / xw.medianMs })),
];

const pad = (s: string, n: number) => s.padEnd(n);
const lines = [
  `node ${process.version}, OpenSSL ${process.versions.openssl}; * = native ML-KEM/ML-DSA`,
  `${pad('operation', 28)} ${pad('provider', 8)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(9)} ${'MiB/s'.padStart(7)} ${'samples'.padStart(7)}`,
  ...rows.map(
    (r) =>
      `${pad(r.name, 28)} ${pad(r.provider, 8)} ${r.medianMs.toFixed(3).padStart(10)} ${r.p99Ms.toFixed(3).padStart(9)} ${(r.mibPerS ? r.mibPerS.toFixed(0) : '').padStart(7)} ${String(r.samples).padStart(7)}`,
  ),
  ...ratios.map((x) => `seal+open 1 KiB, ${x.provider} / x-wing: ${x.ratio.toFixed(2)}×`),
];
process.stdout.write(lines.join('\n') + '\n');

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`crypto-node${process.versions.node}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(file, JSON.stringify({ node: process.version, openssl: process.versions.openssl, rows, ratios }, null, 2) + '\n');
process.stderr.write(`wrote ${file.pathname}\n`);
