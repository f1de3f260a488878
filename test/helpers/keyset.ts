/**
 * Certified key sets for tests: service keys, a root, the root-signed key-set statement, the
 * public-keys document and the certification a response carries (SPEC §7.3, §8.10). Real keys,
 * real signatures; nothing here is a stand-in.
 */
import { toBase64 } from '../../src/crypto/bytes.js';
import { fingerprint } from '../../src/crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../../src/crypto/provider.js';
import { generateServiceKeys, publicKeysOf, recipientPublicKey, writeKeyDir, type ServiceKeys } from '../../src/keys/key-dir.js';
import { certifyKeyDir, writeRootDir } from '../../src/keys/key-set-files.js';
import { writeAuditKey } from '../../src/keys/audit-key.js';
import type { CertificationBlock } from '../../src/protocol/decision-v2.js';
import { createPublicKeysDocument, publicKeysDocumentText } from '../../src/protocol/keys-document.js';
import { certifyKeySet, type SignedKeySet } from '../../src/protocol/keyset.js';

export interface TestKeySet {
  keys: ServiceKeys;
  /** the audit key the statement certifies (signers.audit) */
  audit: MlDsaPrivateKey;
  root: MlDsaPrivateKey;
  keyset: SignedKeySet;
  /** the root fingerprint: the pin */
  pin: string;
  /** the published document (current = this set) as text */
  doc: string;
  certification: CertificationBlock;
}

export function testKeySet(
  p: CryptoProvider,
  o: { root?: MlDsaPrivateKey; previous?: SignedKeySet; keys?: ServiceKeys; audit?: MlDsaPrivateKey; decisions?: Uint8Array; notBefore?: Date; validityDays?: number; service?: string; accepted?: SignedKeySet[] } = {},
): TestKeySet {
  const keys = o.keys ?? generateServiceKeys(p);
  const audit = o.audit ?? p.mldsa87.fromSeed();
  const root = o.root ?? p.mldsa87.fromSeed();
  const pub = publicKeysOf(keys);
  const keyset = certifyKeySet(p, root, {
    service: o.service,
    previous: o.previous,
    kem: recipientPublicKey(pub),
    decisions: o.decisions ?? pub.mldsa,
    audit: audit.publicKey,
    notBefore: o.notBefore ?? new Date(Date.now() - 60_000),
    validityDays: o.validityDays,
  });
  return {
    keys,
    audit,
    root,
    keyset,
    pin: fingerprint('ML-DSA-87', root.publicKey),
    doc: publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: keyset, accepted: o.accepted })),
    certification: { root: toBase64(root.publicKey), keyset },
  };
}

/** A certified key folder on disk (keys generate's layout) and its root folder. */
export async function writeCertifiedKeyDir(
  p: CryptoProvider,
  dir: string,
  rootDir: string,
  o: { keys?: ServiceKeys; audit?: MlDsaPrivateKey; root?: MlDsaPrivateKey; previous?: SignedKeySet; notBefore?: Date; service?: string } = {},
): Promise<{ keys: ServiceKeys; audit: MlDsaPrivateKey; root: MlDsaPrivateKey; keyset: SignedKeySet; pin: string }> {
  const keys = o.keys ?? generateServiceKeys(p);
  const audit = o.audit ?? p.mldsa87.fromSeed();
  await writeKeyDir(dir, keys, { force: true });
  await writeAuditKey(dir, audit, { force: true });
  const root = o.root ?? (await writeRootDir(p, rootDir, { force: true }));
  const keyset = await certifyKeyDir(p, { root, dir, previous: o.previous, notBefore: o.notBefore ?? new Date(Date.now() - 60_000), service: o.service, force: true });
  return { keys, audit, root, keyset, pin: fingerprint('ML-DSA-87', root.publicKey) };
}
