/**
 * The offline root and the key-set statement on disk (SPEC §2.4, §7.3).
 *
 *   ROOT folder (its own, never uploaded; 0700):
 *     root_ml_dsa_87_private.key / root_ml_dsa_87_public.key     ML-DSA-87, 0600 / 0644
 *   KEY folder (the §2.4 service key folder, with its audit key pair audit_ml_dsa_87_*.key) gains:
 *     keyset.json                 this folder's generation: {statement, signature} signed by the root
 *     previous_keyset.json        the generation before it (absent for generation 1)
 *     root_ml_dsa_87_public.key   the root's public key (what the published document carries)
 *
 * The root signs nothing but key-set statements (keyset.ts). Its fingerprint is the pin clients
 * hold, so rotating every online key leaves the pin unchanged. A folder is loaded as a key set
 * only when its statement verifies under its root key and certifies the folder's own KEM keys,
 * its audit key (signers.audit), and its ML-DSA-87 key unless the decisions signer is held
 * elsewhere (e.g. in AWS KMS).
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { equalBytes } from '../crypto/bytes.js';
import { encodePrivateKeyPem, encodePublicKeyPem, fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { ensurePrivateDir, exists, isDirectory, readInputFile, writeFileAtomic, writePrivateFile } from '../io/files.js';
import { certifyKeySet, keySetProblem, verifyKeySet, type SignedKeySet } from '../protocol/keyset.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import { KEY_FILES, loadPrivateKeys, readPrivateKey, readPublicKey, recipientPublicKey, type ServiceKeys } from './key-dir.js';
import { AUDIT_KEY_FILES } from './audit-key.js';

export const ROOT_FILES = { private: 'root_ml_dsa_87_private.key', public: 'root_ml_dsa_87_public.key' } as const;
export const KEYSET_FILES = { current: 'keyset.json', previous: 'previous_keyset.json', root: ROOT_FILES.public } as const;
const MAX_KEYSET_FILE_BYTES = 64 * 1024;

/** A new root key pair into its own folder (0700, private 0600); refuses existing files without `force`. */
export async function writeRootDir(p: CryptoProvider, dir: string, opts: { force?: boolean } = {}): Promise<MlDsaPrivateKey> {
  if (!opts.force) {
    const present = [];
    for (const f of Object.values(ROOT_FILES)) if (await exists(join(dir, f))) present.push(f);
    if (present.length) {
      throw new InputError('FILE_EXISTS', `${dir} already holds a root key (${present.join(', ')})`, {
        hint: 'give it with --root to certify with it, or choose another folder; a new root changes the pin every client holds',
      });
    }
  }
  const root = p.mldsa87.fromSeed();
  await ensurePrivateDir(dir);
  await writePrivateFile(join(dir, ROOT_FILES.private), encodePrivateKeyPem(root), opts.force === true);
  await writeFileAtomic(join(dir, ROOT_FILES.public), encodePublicKeyPem('ML-DSA-87', root.publicKey), { mode: 0o644, force: opts.force === true });
  return root;
}

/** The root's private key from its folder (checked against its public file). */
export async function loadRootKey(p: CryptoProvider, dir: string): Promise<MlDsaPrivateKey> {
  if (!(await isDirectory(dir))) throw new InputError('NOT_A_DIRECTORY', `${dir} is not a root key folder`, { hint: `the folder holding ${ROOT_FILES.private}` });
  return readPrivateKey(p, join(dir, ROOT_FILES.private), 'ML-DSA-87');
}

/** The root's public key: a root folder, a key folder (its copy), or the public key file itself. */
export async function loadRootPublicKey(p: CryptoProvider, dirOrFile: string): Promise<Uint8Array> {
  const path = (await isDirectory(dirOrFile)) ? join(dirOrFile, ROOT_FILES.public) : dirOrFile;
  return readPublicKey(p, path, 'ML-DSA-87');
}

/** A signed key-set statement file (bounded, strict JSON, shape checked; the signature is checked by whoever trusts it). */
export async function readKeySetFile(path: string, deps: { stdin?: NodeJS.ReadableStream } = {}): Promise<SignedKeySet> {
  const bytes = await readInputFile(path, MAX_KEYSET_FILE_BYTES, 'key-set statement', { tooLargeCode: 'KEYSET_MALFORMED', stdin: deps.stdin });
  let v: unknown;
  try {
    v = parseStrictJsonBytes(bytes);
  } catch (cause) {
    throw new InputError('KEYSET_MALFORMED', `${path} is not JSON (a key-set statement is the keyset.json keys generate writes)`, { cause });
  }
  const problem = keySetProblem(v);
  if (problem) throw new InputError('KEYSET_MALFORMED', `${path} is not a key-set statement: ${problem}`);
  return v as SignedKeySet;
}

export function keySetText(s: SignedKeySet): string {
  return JSON.stringify(s, null, 2) + '\n';
}

export interface CertifyDirInput {
  root: MlDsaPrivateKey;
  dir: string;
  /** the previous generation's statement (generation + 1; absent: generation 1) */
  previous?: SignedKeySet;
  /** the decisions signer when it is not the folder's ML-DSA-87 key (an AWS KMS key's public key) */
  decisionsSigner?: Uint8Array;
  service?: string;
  validityDays?: number;
  notBefore: Date;
  force?: boolean;
}

/**
 * Certifies a key folder with the root: writes keyset.json (and previous_keyset.json, and the
 * root's public key) into it. The folder's composite key is the statement's KEM key; its
 * audit_ml_dsa_87_public.key the audit signer (required: every generation certifies one).
 */
export async function certifyKeyDir(p: CryptoProvider, input: CertifyDirInput): Promise<SignedKeySet> {
  const dir = input.dir;
  const target = join(dir, KEYSET_FILES.current);
  if (!input.force && (await exists(target))) {
    throw new InputError('FILE_EXISTS', `${target} already exists`, { hint: 'pass --force to certify the folder again (a new generation)' });
  }
  const mlkem = await readPublicKey(p, join(dir, KEY_FILES.mlkemPublic), 'ML-KEM-768');
  const ecdh = await readPublicKey(p, join(dir, KEY_FILES.ecdhPublic), 'P-384');
  const decisions = input.decisionsSigner ?? (await readPublicKey(p, join(dir, KEY_FILES.mldsaPublic), 'ML-DSA-87'));
  if (!(await exists(join(dir, AUDIT_KEY_FILES.public)))) {
    throw new InputError('AUDIT_KEY_MISSING', `${dir} holds no audit key (${AUDIT_KEY_FILES.public}); every key-set statement certifies one (SPEC §7.3)`, {
      hint: `add it first: ima-qs keys generate --out ${dir} --audit-key-only`,
    });
  }
  const audit = await readPublicKey(p, join(dir, AUDIT_KEY_FILES.public), 'ML-DSA-87');
  if (input.previous) {
    const v = verifyKeySet(p, input.previous, input.root.publicKey);
    if (!v.ok) throw new InputError('KEYSET_NOT_FROM_ROOT', `the previous statement does not verify under this root: ${v.reason}`, { hint: 'give the keyset.json of the generation before, and the root that signed it' });
  }
  const signed = certifyKeySet(p, input.root, {
    service: input.service,
    previous: input.previous,
    kem: recipientPublicKey({ mlkem, ecdh }),
    decisions,
    audit,
    notBefore: input.notBefore,
    validityDays: input.validityDays,
  });
  await ensurePrivateDir(dir);
  if (input.previous) await writeFileAtomic(join(dir, KEYSET_FILES.previous), keySetText(input.previous), { mode: 0o644, force: true });
  await writeFileAtomic(join(dir, KEYSET_FILES.root), encodePublicKeyPem('ML-DSA-87', input.root.publicKey), { mode: 0o644, force: true });
  await writeFileAtomic(target, keySetText(signed), { mode: 0o644, force: true });
  return signed;
}

/** A key folder loaded as one generation: its private keys, its statement (verified), the root. */
export interface KeySetDir {
  keys: ServiceKeys;
  /** the audit private key (checked against signers.audit) */
  audit: MlDsaPrivateKey;
  keyset: SignedKeySet;
  previous?: SignedKeySet;
  root: Uint8Array;
  /** true when the statement's decisions signer is the folder's own ML-DSA-87 key (not a KMS key) */
  signerInFolder: boolean;
}

/**
 * Loads a certified key folder: the three private keys (pair-checked), keyset.json verified under
 * the folder's root public key, and the statement's KEM key equal to the folder's composite key.
 */
export async function loadKeySetDir(p: CryptoProvider, dir: string): Promise<KeySetDir> {
  const keys = await loadPrivateKeys(p, dir);
  const statementPath = join(dir, KEYSET_FILES.current);
  if (!(await exists(statementPath))) {
    throw new InputError('KEYSET_MISSING', `${dir} has no ${KEYSET_FILES.current}: the folder is not certified by a root`, {
      hint: 'certify it: ima-qs keys certify --root ROOT_DIR --keys DIR (keys generate does it for a new folder)',
    });
  }
  const keyset = await readKeySetFile(statementPath);
  const root = await readPublicKey(p, join(dir, KEYSET_FILES.root), 'ML-DSA-87');
  const v = verifyKeySet(p, keyset, root);
  if (!v.ok) throw new InputError('KEYSET_INVALID', `${statementPath} does not verify under ${KEYSET_FILES.root}: ${v.reason}`);
  const composite = recipientPublicKey({ mlkem: keys.mlkem.publicKey, ecdh: keys.ecdh.publicKey });
  if (!equalBytes(composite, v.keys.composite)) {
    throw new InputError('KEYSET_MISMATCH', `${statementPath} certifies another KEM key than the folder's (${v.keys.fingerprints.composite.slice(0, 16)}…, the folder holds ${fingerprint('MLKEM768-P384', composite).slice(0, 16)}…)`, {
      hint: 'the folder mixes generations: certify it again (ima-qs keys certify)',
    });
  }
  const auditPath = join(dir, AUDIT_KEY_FILES.private);
  if (!(await exists(auditPath))) throw new InputError('AUDIT_KEY_MISSING', `${dir} holds no audit private key (${AUDIT_KEY_FILES.private})`, { hint: `add it: ima-qs keys generate --out ${dir} --audit-key-only, then certify the folder again` });
  const audit = await readPrivateKey(p, auditPath, 'ML-DSA-87');
  if (!equalBytes(audit.publicKey, v.keys.audit)) {
    throw new InputError('KEYSET_MISMATCH', `${statementPath} certifies another audit key than the folder's (${v.keys.fingerprints.audit.slice(0, 16)}…)`, { hint: 'the folder mixes generations: certify it again (ima-qs keys certify)' });
  }
  const previousPath = join(dir, KEYSET_FILES.previous);
  const previous = (await exists(previousPath)) ? await readKeySetFile(previousPath) : undefined;
  return { keys, audit, keyset, ...(previous ? { previous } : {}), root, signerInFolder: equalBytes(v.keys.decisions, keys.mldsa.publicKey) };
}
