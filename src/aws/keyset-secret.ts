/**
 * The key-set secret (SPEC §7.1): ONE Secrets Manager secret `${prefix}/keyset` holds the whole key
 * set of a generation in ONE version, so a reader never mixes two generations. Its versions are the
 * generations; staging labels say which is which (SPEC §7.2):
 *
 *   AWSCURRENT   the generation clients seal to
 *   AWSPENDING   the next one, published by a rotation's first phase (workers decrypt it already)
 *   AWSPREVIOUS  the one before, decrypted until the rotation retires it
 *
 * A version's id is chosen by ima-qs (ClientRequestToken) and names what it holds:
 *
 *   ks-g<generation, 9 digits>-<first 48 hex digits of the key-set statement's digest>
 *
 * so `keys upload|rotate|status` compare the generations in custody with the local ones from
 * metadata alone (DescribeSecret) and never read a private key back (the custody rule: operators
 * never decrypt). The SecretString (only the worker and the break-glass role read it):
 *
 *   {"format":"ima-qs-keyset-secret/v1","generation":N,"root":"<base64 root public key>",
 *    "keyset":{statement, signature},
 *    "keys":{"mlkem":"<PKCS#8 PEM>","ecdh":"<PEM>","mldsa":"<PEM>"?,"audit":"<PEM>"},
 *    "created":"2026-11-28T12:00:00Z"}
 *
 * `mldsa` (the decisions signer) is absent when the signer is held in AWS KMS; `audit` is the
 * checkpoint signer (SPEC §8.11), which every statement certifies (signers.audit). Every private key is checked against the
 * statement when loaded (key-ring.ts): a secret whose keys are not the certified ones stops the start.
 */
import { InputError, RemoteError } from '../errors.js';
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { decodeKeyPem, encodePrivateKeyPem, type PrivateKeyOf } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import type { KeySetSource, KeySetStage, KeySetVersion } from '../keys/key-ring.js';
import type { ServiceKeys } from '../keys/key-dir.js';
import { keySetDigest, keySetProblem, type SignedKeySet } from '../protocol/keyset.js';
import { exactProblem, isObj } from '../protocol/shape.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import { isUtcTime } from '../protocol/utc-time.js';
import { secretName } from './secret-format.js';
import { STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS, type SecretDescription, type SecretStore } from './secret-store.js';

export const KEYSET_SUFFIX = 'keyset';
export const KEYSET_SECRET_FORMAT = 'ima-qs-keyset-secret/v1';

/**
 * The private keys a key-set secret may hold, by role (one table, so a new role — e.g. the audit
 * checkpoint key of issue 14 — is one row): the algorithm and whether every set must have it.
 */
export const KEYSET_ROLES = [
  { role: 'mlkem', algorithm: 'ML-KEM-768', required: true },
  { role: 'ecdh', algorithm: 'P-384', required: true },
  { role: 'mldsa', algorithm: 'ML-DSA-87', required: false },
  { role: 'audit', algorithm: 'ML-DSA-87', required: true },
] as const;
export type KeySetRole = (typeof KEYSET_ROLES)[number]['role'];

export const STAGE_OF: Record<string, KeySetStage> = { [STAGE_CURRENT]: 'current', [STAGE_PENDING]: 'pending', [STAGE_PREVIOUS]: 'previous' };

export function keysetSecretName(prefix: string): string {
  return secretName(prefix, KEYSET_SUFFIX);
}

/** The version id of a generation: generation and statement digest, readable from metadata. */
export function keysetVersionId(p: Pick<CryptoProvider, 'sha3_256'>, keyset: SignedKeySet): string {
  return `ks-g${String(keyset.statement.generation).padStart(9, '0')}-${keySetDigest(p, keyset.statement).slice(0, 48)}`;
}

/** {generation, digest prefix} of one of our version ids; undefined for any other id. */
export function parseKeysetVersionId(id: string): { generation: number; digest: string } | undefined {
  const m = /^ks-g(\d{9})-([0-9a-f]{48})$/.exec(id);
  return m ? { generation: Number(m[1]), digest: m[2] } : undefined;
}

/** The generations in a secret's metadata: each version of ours with its stages. */
export interface CustodyVersion {
  versionId: string;
  generation?: number;
  digest?: string;
  stages: string[];
}

export function custodyVersions(d: SecretDescription | undefined): CustodyVersion[] {
  return (d?.versions ?? []).map((v) => ({ versionId: v.versionId, ...(parseKeysetVersionId(v.versionId) ?? {}), stages: v.stages }));
}

export interface KeySetSecretValue {
  generation: number;
  root: Uint8Array;
  keyset: SignedKeySet;
  keys: Pick<ServiceKeys, 'mlkem' | 'ecdh'> & { mldsa?: MlDsaPrivateKey; audit: MlDsaPrivateKey };
  pems: Partial<Record<KeySetRole, string>>;
  created: string;
}

/** The SecretString of one generation (compact JSON, member order as in SPEC §7.1). */
export function encodeKeySetSecret(input: { root: Uint8Array; keyset: SignedKeySet; keys: Partial<Record<KeySetRole, Parameters<typeof encodePrivateKeyPem>[0]>>; created: Date }): string {
  const keys: Record<string, string> = {};
  for (const r of KEYSET_ROLES) {
    const k = input.keys[r.role];
    if (k) keys[r.role] = encodePrivateKeyPem(k);
    else if (r.required) throw new InputError('KEY_MISSING', `a key set needs its ${r.algorithm} key`);
  }
  return JSON.stringify({
    format: KEYSET_SECRET_FORMAT,
    generation: input.keyset.statement.generation,
    root: toBase64(input.root),
    keyset: input.keyset,
    keys,
    created: input.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  });
}

/** Parses and decodes a key-set secret value; `source` names it in errors (never its contents). */
export function decodeKeySetSecret(p: CryptoProvider, text: string, source: string): KeySetSecretValue {
  const bad = (why: string, cause?: unknown) =>
    new RemoteError('SECRET_MALFORMED', `${source} is not an ima-qs key-set secret: ${why}`, { hint: 'see SPEC §7.1; upload the key set again with ima-qs keys upload', cause });
  let v: unknown;
  try {
    v = parseStrictJson(text);
  } catch (cause) {
    throw bad('not JSON', cause);
  }
  const e = exactProblem(v, ['format', 'generation', 'root', 'keyset', 'keys', 'created'], 'the secret');
  if (e) throw bad(e);
  const o = v as Record<string, unknown>;
  if (o.format !== KEYSET_SECRET_FORMAT) throw bad(`format is not ${KEYSET_SECRET_FORMAT}`);
  const ke = keySetProblem(o.keyset);
  if (ke) throw bad(ke);
  const keyset = o.keyset as SignedKeySet;
  if (o.generation !== keyset.statement.generation) throw bad('generation is not the statement\'s');
  if (!isUtcTime(o.created, 'seconds')) throw bad('created is not a UTC time like 2026-11-28T12:00:00Z');
  let root: Uint8Array;
  try {
    root = fromBase64(String(o.root), 'root');
  } catch (cause) {
    throw bad('root is not base64', cause);
  }
  if (!isObj(o.keys)) throw bad('keys is not an object');
  const pems: Partial<Record<KeySetRole, string>> = {};
  const keys: Record<string, unknown> = {};
  for (const name of Object.keys(o.keys)) if (!KEYSET_ROLES.some((r) => r.role === name)) throw bad(`keys has an unknown member ${JSON.stringify(name.slice(0, 40))}`);
  for (const r of KEYSET_ROLES) {
    const pem = o.keys[r.role];
    if (pem === undefined) {
      if (r.required) throw bad(`keys.${r.role} is missing`);
      continue;
    }
    if (typeof pem !== 'string' || pem.length > 16384) throw bad(`keys.${r.role} is not a PEM text`);
    let decoded;
    try {
      decoded = decodeKeyPem(p, pem, `${source} keys.${r.role}`);
    } catch (cause) {
      throw bad(`keys.${r.role} does not decode (${(cause as { code?: string }).code ?? 'error'})`, cause);
    }
    if (decoded.kind !== 'private' || decoded.alg !== r.algorithm) throw new RemoteError('SECRET_WRONG_KEY', `${source} keys.${r.role} holds a ${decoded.kind} ${decoded.alg} key; an ${r.algorithm} private key was expected`);
    keys[r.role] = decoded.key;
    pems[r.role] = pem;
  }
  return {
    generation: keyset.statement.generation,
    root,
    keyset,
    keys: keys as KeySetSecretValue['keys'],
    pems,
    created: o.created as string,
  };
}

/** Narrow a decoded role to its key type (for callers that write files). */
export type RoleKey<R extends KeySetRole> = R extends 'mlkem' ? PrivateKeyOf['ML-KEM-768'] : R extends 'ecdh' ? PrivateKeyOf['P-384'] : PrivateKeyOf['ML-DSA-87'];

/**
 * The worker's source (SPEC §7.2): one DescribeSecret (a snapshot of which version holds which
 * label), then each labelled version read by its id (versions never change), so the generations
 * loaded are exactly those of one moment.
 */
export class SecretsKeySetSource implements KeySetSource {
  readonly name: string;
  private readonly secret: string;

  constructor(
    private readonly p: CryptoProvider,
    private readonly store: Pick<SecretStore, 'describe' | 'getVersion'>,
    prefix: string,
  ) {
    this.secret = keysetSecretName(prefix);
    this.name = `secret ${this.secret}`;
  }

  async load(): Promise<KeySetVersion[]> {
    const d = await this.store.describe(this.secret);
    if (!d) throw new RemoteError('AWS_NOT_FOUND', `secret ${this.secret} does not exist`, { hint: 'create it (infra/) and upload a key set: ima-qs keys upload' });
    const out: KeySetVersion[] = [];
    for (const v of d.versions) {
      const stage = v.stages.map((s) => STAGE_OF[s]).find((s) => s !== undefined);
      if (!stage) continue;
      const got = await this.store.getVersion(this.secret, v.versionId);
      const source = `${this.secret} version ${v.versionId.slice(0, 24)}`;
      const k = decodeKeySetSecret(this.p, got.value, source);
      const id = parseKeysetVersionId(v.versionId);
      if (id && (id.generation !== k.generation || id.digest !== keySetDigest(this.p, k.keyset.statement).slice(0, 48))) {
        throw new RemoteError('SECRET_MALFORMED', `${source}: its version id names another generation than it holds`);
      }
      out.push({ stage, keyset: k.keyset, root: k.root, keys: k.keys, source });
    }
    return out;
  }
}
