/**
 * The local stack's keys (SPEC §9): a root, generations of key folders, and their stages, all in
 * STATE — the file-system twin of AWS custody (keys/key-set-dir-source.ts).
 *
 *   STATE/root/          the stack's root key pair. On one machine the root is not offline: this
 *                        is a development stack, and its root is only as safe as STATE
 *   STATE/keys/          generation 1 (the `keys generate` layout, certified: keyset.json)
 *   STATE/keys-g<N>/     later generations (`ima-qs local rotate`)
 *   STATE/stages.json    which folder is current, pending, previous
 *
 * `local rotate` renews the KEM keys and certifies the SAME signing key and audit key again (a
 * running worker keeps its signers; a new signer needs a restart, as on AWS). A start renews the current
 * generation's statement (a new generation over the same keys) when it expires within 30 days.
 */
import { join } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import { PreconditionError } from '../errors.js';
import { exists } from '../io/files.js';
import { KEY_FILES, generateServiceKeys, writeKeyDir } from '../keys/key-dir.js';
import type { KeyRing } from '../keys/key-ring.js';
import { generateAuditKey, hasAuditKey, writeAuditKey } from '../keys/audit-key.js';
import { publishGeneration, readStages, retireGeneration, switchGeneration, initStages, type Stages } from '../keys/key-set-dir-source.js';
import { KEYSET_FILES, ROOT_FILES, certifyKeyDir, loadKeySetDir, loadRootKey, readKeySetFile, writeRootDir } from '../keys/key-set-files.js';
import { createPublicKeysDocument, publicKeysDocumentText } from '../protocol/keys-document.js';

export const LOCAL_SERVICE = 'ima-qs-local';
export const LOCAL_ROOT_DIR = 'root';
export const LOCAL_FIRST_GENERATION = 'keys';
/** a statement expiring sooner than this is renewed at start */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface LocalKeys {
  /** the root's fingerprint: THE pin of this stack */
  pin: string;
  created: boolean;
  renewed: boolean;
}

/** First start: root, generation 1 and the stages file; later starts: checks, and renews an expiring statement. */
export async function ensureLocalKeys(p: CryptoProvider, state: string, now: Date): Promise<LocalKeys> {
  const rootDir = join(state, LOCAL_ROOT_DIR);
  const keysDir = join(state, LOCAL_FIRST_GENERATION);
  const root = (await exists(join(rootDir, ROOT_FILES.private))) ? await loadRootKey(p, rootDir) : await writeRootDir(p, rootDir);
  const created = !(await exists(join(keysDir, KEY_FILES.mldsaPrivate)));
  if (created) await writeKeyDir(keysDir, generateServiceKeys(p));
  // the audit key (SPEC §8.11): generated with the keys, or added to a folder written before it existed
  if (!(await hasAuditKey(keysDir))) await writeAuditKey(keysDir, generateAuditKey(p));
  // a state directory from before the root (no keyset.json): its keys are certified as generation 1
  if (!(await exists(join(keysDir, KEYSET_FILES.current)))) await certifyKeyDir(p, { root, dir: keysDir, service: LOCAL_SERVICE, notBefore: now });
  await initStages(state, LOCAL_FIRST_GENERATION);
  const stages = (await readStages(state))!;
  const currentDir = join(state, stages.current);
  const current = await readKeySetFile(join(currentDir, KEYSET_FILES.current));
  let renewed = false;
  if (Date.parse(current.statement.not_after) - now.getTime() < RENEW_BEFORE_MS && !stages.pending && !stages.previous) {
    await certifyKeyDir(p, { root, dir: currentDir, previous: current, service: LOCAL_SERVICE, notBefore: now, force: true });
    renewed = true;
  }
  return { pin: fingerprint('ML-DSA-87', root.publicKey), created, renewed };
}

/** The document the local proxy serves: the ring's current generation, and its pending and previous ones as accepted. */
export function localDocumentText(ring: KeyRing): string {
  const by = (s: string) => ring.sets.find((x) => x.stage === s)?.keyset;
  const accepted = [by('pending'), by('previous')].flatMap((k) => (k ? [k] : []));
  return publicKeysDocumentText(createPublicKeysDocument({ root: ring.root, current: by('current')!, accepted }));
}

export type LocalPhase = 'publish' | 'switch' | 'retire';

export interface LocalRotation {
  phase: LocalPhase;
  stages: Stages;
  generation: number;
}

/**
 * The next rotation phase of a local stack (the running stack picks it up within its reload
 * period): publish a new generation (new KEM keys, the same signing key, certified by STATE/root),
 * switch clients to it, retire the old one.
 */
export async function rotateLocal(p: CryptoProvider, state: string, opts: { expect?: LocalPhase; now: Date }): Promise<LocalRotation> {
  const stages = await readStages(state);
  if (!stages) throw new PreconditionError('NO_LOCAL_STACK', `${state} has no ${'stages.json'}: start the stack once (ima-qs local up)`);
  const phase: LocalPhase = stages.previous ? 'retire' : stages.pending ? 'switch' : 'publish';
  if (opts.expect && opts.expect !== phase) throw new PreconditionError('PHASE_OUT_OF_ORDER', `the next phase is ${phase}, not ${opts.expect}`);
  if (phase === 'retire') {
    const s = await retireGeneration(state);
    return { phase, stages: s, generation: (await readKeySetFile(join(state, s.current, KEYSET_FILES.current))).statement.generation };
  }
  if (phase === 'switch') {
    const s = await switchGeneration(state);
    return { phase, stages: s, generation: (await readKeySetFile(join(state, s.current, KEYSET_FILES.current))).statement.generation };
  }
  const root = await loadRootKey(p, join(state, LOCAL_ROOT_DIR));
  const current = await loadKeySetDir(p, join(state, stages.current));
  const generation = current.keyset.statement.generation + 1;
  const name = `keys-g${generation}`;
  const dir = join(state, name);
  const fresh = generateServiceKeys(p);
  // new KEM keys; the signing and audit keys of the current generation (a running worker keeps its signers)
  await writeKeyDir(dir, { ...fresh, mldsa: current.keys.mldsa }, { force: true });
  await writeAuditKey(dir, current.audit, { force: true });
  await certifyKeyDir(p, { root, dir, previous: current.keyset, service: LOCAL_SERVICE, notBefore: opts.now, force: true });
  const s = await publishGeneration(p, state, name);
  return { phase, stages: s, generation };
}
