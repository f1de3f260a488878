/**
 * SPEC §7.1: a reader refuses a key secret whose `pem` does not decode as SECRET_MALFORMED (remote
 * state, exit 4) — never as a local bad-input error (exit 3) — and never quotes the secret value.
 * The store is an in-memory stand-in for the one port call read here (`get`); the AWS adapter
 * itself is tested against moto_server in test/integration/aws.
 */
import { describe, expect, it } from 'vitest';
import { readKeySecret } from '../../../src/aws/service-keys.js';
import { KEY_SECRETS, encodeKeySecret } from '../../../src/aws/secret-format.js';
import type { SecretStore } from '../../../src/aws/secret-store.js';
import { encodePrivateKeyPem, fingerprint } from '../../../src/crypto/key-codec.js';
import { getProvider } from '../../../src/crypto/providers.js';

const p = getProvider('noble');
const key = p.mldsa87.fromSeed();
const spec = KEY_SECRETS.find((s) => s.algorithm === 'ML-DSA-87')! as (typeof KEY_SECRETS)[number] & { algorithm: 'ML-DSA-87' };
const fp = fingerprint('ML-DSA-87', key.publicKey);

function storeWith(value: string): SecretStore {
  return { get: async (name: string) => ({ name, versionId: 'v1', stages: ['AWSCURRENT'], value }) } as unknown as SecretStore;
}
const secret = (pem: string) => encodeKeySecret({ algorithm: 'ML-DSA-87', fingerprint: fp, pem, created: '2026-11-28T12:00:00Z' });
const errorOf = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('readKeySecret', () => {
  const pem = encodePrivateKeyPem(key);

  it('reads a well-formed secret', async () => {
    const r = await readKeySecret(p, storeWith(secret(pem)), 'ima/quantum', spec);
    expect(r.fingerprint).toBe(fp);
  });

  const lines = pem.trim().split('\n');
  const body = lines.slice(1, -1).join('');
  it.each([
    ['a PEM whose base64 is broken', `${lines[0]}\n${body.slice(0, 20)}!${body.slice(21)}\n${lines.at(-1)}\n`],
    ['a truncated PEM', pem.slice(0, 60)],
    ['a PEM whose DER is cut short', `${lines[0]}\n${Buffer.from(body, 'base64').subarray(0, 30).toString('base64')}\n${lines.at(-1)}\n`],
    ['an EC PRIVATE KEY block', pem.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY')],
  ])('refuses %s as SECRET_MALFORMED (exit 4), without the value in the message', async (_n, bad) => {
    const e = (await errorOf(readKeySecret(p, storeWith(secret(bad)), 'ima/quantum', spec))) as Error & { code: string; exitCode: number };
    expect(e).toMatchObject({ code: 'SECRET_MALFORMED', exitCode: 4 });
    expect(e.message).not.toContain(body.slice(0, 16));
  });

  it('refuses a secret that states another fingerprint', async () => {
    const other = encodeKeySecret({ algorithm: 'ML-DSA-87', fingerprint: 'a'.repeat(64), pem, created: '2026-11-28T12:00:00Z' });
    expect(await errorOf(readKeySecret(p, storeWith(other), 'ima/quantum', spec))).toMatchObject({ code: 'SECRET_FINGERPRINT_MISMATCH', exitCode: 4 });
  });
});
