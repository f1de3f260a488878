/**
 * The worker's key ring (SPEC §7.2 "Generations"): every key-set generation the service holds at
 * once, loaded from one source so that no worker ever mixes the keys of two generations.
 *
 *   current   the generation clients seal to (the published document's `current`)
 *   pending   the next one, published but not yet sealed to (a rotation's first phase)
 *   previous  the one before, still decrypted until it is retired (the overlap)
 *
 * Requests are opened with whichever generation's KEM key the envelope names; a request sealed to
 * a key the ring does not hold makes it reload its source (at most every `minReloadGapMs`) and is
 * otherwise retried, not refused: it may have been sealed to a generation published a moment ago.
 * The ring reloads its source every `reloadMs` too. Responses are certified by the NEWEST
 * generation valid at the decision's issued_at that certifies the worker's signer, so every worker
 * signs under the new generation from the first phase of a rotation on: a client that has seen
 * the new document never gets an answer certified by an older one.
 */
import { equalBytes, toBase64 } from '../crypto/bytes.js';
import type { CompositeKemPrivateKey } from '../crypto/composite-kem.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { RemoteError } from '../errors.js';
import type { CertificationBlock } from '../protocol/decision-v2.js';
import { verifyKeySet, type SignedKeySet } from '../protocol/keyset.js';
import { type ServiceKeys, recipientPrivateKey, recipientPublicKey } from './key-dir.js';

export type KeySetStage = 'current' | 'pending' | 'previous';

/** One generation as a source hands it over (private keys decoded, nothing verified yet). */
export interface KeySetVersion {
  stage: KeySetStage;
  keyset: SignedKeySet;
  root: Uint8Array;
  keys: Pick<ServiceKeys, 'mlkem' | 'ecdh'> & { mldsa?: MlDsaPrivateKey; audit: MlDsaPrivateKey };
  /** where it came from, for messages (a secret version id, a folder) */
  source: string;
}

export interface KeySetSource {
  /** what the source is, for logs ("secret ima/quantum/keyset", "folder /keys") */
  readonly name: string;
  load(): Promise<KeySetVersion[]>;
}

/** A generation the ring holds: checked against its statement. */
export interface HeldKeySet {
  stage: KeySetStage;
  generation: number;
  keyset: SignedKeySet;
  recipient: CompositeKemPrivateKey;
  recipientFingerprint: string;
  /** the decisions signer's public key the statement certifies */
  decisions: Uint8Array;
  /** its private key, when the set holds it (a Secrets Manager signer); absent for a KMS signer */
  decisionsKey?: MlDsaPrivateKey;
  /** the audit signer the statement certifies (SPEC §8.11), and its private key */
  audit: Uint8Array;
  auditKey: MlDsaPrivateKey;
  notBefore: number;
  notAfter: number;
}

/** Checks every version a source gave against its statement and the one root; throws on any mismatch. */
export function checkVersions(p: CryptoProvider, versions: readonly KeySetVersion[], source: string): { root: Uint8Array; sets: HeldKeySet[] } {
  if (!versions.some((v) => v.stage === 'current')) {
    throw new RemoteError('KEYSET_NO_CURRENT', `${source} holds no current key set`, { hint: 'upload one: ima-qs keys upload --keys DIR' });
  }
  const root = versions[0].root;
  const sets: HeldKeySet[] = [];
  for (const v of versions) {
    if (!equalBytes(v.root, root)) throw new RemoteError('KEYSET_ROOTS_DIFFER', `${source}: ${v.source} is certified by another root than the current set`);
    const verdict = verifyKeySet(p, v.keyset, v.root);
    if (!verdict.ok) throw new RemoteError('KEYSET_INVALID', `${source}: ${v.source}: ${verdict.reason}`);
    const k = verdict.keys;
    if (!equalBytes(recipientPublicKey({ mlkem: v.keys.mlkem.publicKey, ecdh: v.keys.ecdh.publicKey }), k.composite)) {
      throw new RemoteError('KEYSET_MISMATCH', `${source}: ${v.source} holds other KEM keys than its statement certifies`);
    }
    if (v.keys.mldsa && !equalBytes(v.keys.mldsa.publicKey, k.decisions)) {
      throw new RemoteError('KEYSET_MISMATCH', `${source}: ${v.source} holds another ML-DSA-87 key than the decisions signer its statement certifies`);
    }
    if (!v.keys.audit || !equalBytes(v.keys.audit.publicKey, k.audit)) {
      throw new RemoteError('KEYSET_MISMATCH', `${source}: ${v.source} does not hold the audit key its statement certifies`);
    }
    if (sets.some((s) => s.generation === k.generation)) throw new RemoteError('KEYSET_INVALID', `${source}: generation ${k.generation} is held twice`);
    sets.push({
      stage: v.stage,
      generation: k.generation,
      keyset: v.keyset,
      recipient: recipientPrivateKey(v.keys),
      recipientFingerprint: k.fingerprints.composite,
      decisions: k.decisions,
      ...(v.keys.mldsa ? { decisionsKey: v.keys.mldsa } : {}),
      audit: k.audit,
      auditKey: v.keys.audit,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
    });
  }
  sets.sort((a, b) => b.generation - a.generation);
  return { root, sets };
}

export interface KeyRingOptions {
  /** reload the source this often (default 60 s; 0 = never on a timer) */
  reloadMs?: number;
  /** at most one reload on an unknown recipient per this gap (default 5 s) */
  minReloadGapMs?: number;
  now?: () => number;
  /** told after every reload that changed the generations held */
  onChange?: (ring: KeyRing) => void;
  /** told when a timed reload failed (the ring keeps what it held) */
  onReloadError?: (err: unknown) => void;
}

export class KeyRing {
  private held: { root: Uint8Array; sets: HeldKeySet[] };
  private loadedAt: number;
  private timer?: ReturnType<typeof setInterval>;
  private reloading?: Promise<void>;
  private readonly now: () => number;

  private constructor(
    private readonly p: CryptoProvider,
    private readonly source: KeySetSource,
    held: { root: Uint8Array; sets: HeldKeySet[] },
    private readonly opts: KeyRingOptions,
  ) {
    this.held = held;
    this.now = opts.now ?? (() => Date.now());
    this.loadedAt = this.now();
  }

  /** Loads the source once (a failure stops the start) and starts the reload timer. */
  static async open(p: CryptoProvider, source: KeySetSource, opts: KeyRingOptions = {}): Promise<KeyRing> {
    const ring = new KeyRing(p, source, checkVersions(p, await source.load(), source.name), opts);
    const every = opts.reloadMs ?? 60_000;
    if (every > 0) {
      ring.timer = setInterval(() => void ring.reload().catch((err) => opts.onReloadError?.(err)), every);
      ring.timer.unref?.();
    }
    return ring;
  }

  get root(): Uint8Array {
    return this.held.root;
  }

  /** The generations held, newest first. */
  get sets(): readonly HeldKeySet[] {
    return this.held.sets;
  }

  get sourceName(): string {
    return this.source.name;
  }

  /** Re-reads the source; concurrent callers share one read. A failed read keeps what was held and throws. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        const next = checkVersions(this.p, await this.source.load(), this.source.name);
        const before = this.held.sets.map((s) => `${s.stage}:${s.generation}`).join(',');
        this.held = next;
        this.loadedAt = this.now();
        if (next.sets.map((s) => `${s.stage}:${s.generation}`).join(',') !== before) this.opts.onChange?.(this);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  /**
   * The KEM key for an envelope's recipient fingerprint (hex). A fingerprint the ring does not hold
   * makes it reload (rate-limited); undefined if it still does not hold it.
   */
  async recipientFor(fingerprintHex: string): Promise<CompositeKemPrivateKey | undefined> {
    const find = () => this.held.sets.find((s) => s.recipientFingerprint === fingerprintHex)?.recipient;
    const hit = find();
    if (hit) return hit;
    if (this.now() - this.loadedAt >= (this.opts.minReloadGapMs ?? 5_000)) await this.reload().catch(() => undefined);
    return find();
  }

  /** The newest generation valid at `at` (ms), pending included. */
  newest(at: number): HeldKeySet | undefined {
    return this.held.sets.find((s) => s.notBefore <= at && at <= s.notAfter);
  }

  /**
   * The certification of `signer` for a decision issued at `at`: the newest generation valid then
   * that certifies it as the decisions signer. Throws SIGNER_NOT_CERTIFIED (a retry) when none does.
   */
  certificationFor(signer: Uint8Array, at: number): CertificationBlock {
    const s = this.held.sets.find((x) => x.notBefore <= at && at <= x.notAfter && equalBytes(x.decisions, signer));
    if (!s) {
      throw new RemoteError('SIGNER_NOT_CERTIFIED', `no key-set generation held by ${this.source.name} certifies this worker's signer at ${new Date(at).toISOString()}`, {
        hint: 'certify the signer with the root (ima-qs keys certify) and publish the new generation (ima-qs keys rotate)',
      });
    }
    return { root: toBase64(this.held.root), keyset: s.keyset };
  }

  /** The public key of a decisions signer some held generation certifies, by its fingerprint (hex). */
  decisionsKeyOf(fingerprintHex: string): Uint8Array | undefined {
    return this.held.sets.find((s) => fingerprint('ML-DSA-87', s.decisions) === fingerprintHex)?.decisions;
  }

  /** The certification of every generation held (the checkpoint writer stores those of its audit key). */
  certifications(): CertificationBlock[] {
    const root = toBase64(this.held.root);
    return this.held.sets.map((s) => ({ root, keyset: s.keyset }));
  }

  /**
   * The audit key the checkpoint writer signs with (SPEC §7.3 signers.audit, §8.11): that of the
   * newest generation valid at `at` which certifies `signer` as its decisions signer, with the
   * certification that proves it (published in the checkpoint store beside the registration).
   */
  auditKeyFor(signer: Uint8Array, at: number): { key: MlDsaPrivateKey; generation: number; certification: CertificationBlock } {
    const certification = this.certificationFor(signer, at);
    const s = this.held.sets.find((x) => x.keyset === certification.keyset)!;
    return { key: s.auditKey, generation: s.generation, certification };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
