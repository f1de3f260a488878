/**
 * The checkpoint writer (SPEC §8.11): the only user of the audit key. It registers each chain
 * before its first entry and, every `everyEntries` entries or `everyMs` milliseconds (whichever
 * comes first) and at stop, writes a signed checkpoint of each chain's head to the write-once
 * checkpoint store: {chain, index, prev, size, head, batches, last_batch, time, reason, signer}.
 *
 * It learns the chain's progress from the audit chain itself (`observe`, called by AuditChain once
 * a batch statement is stored), so a checkpoint only ever names entries a signed statement covers.
 * On start (`register`) it picks up where the store says it stopped: the newest checkpoint of the
 * chain, then every statement stored after it. A failed write is logged and retried at the next
 * trigger with the very same document (a lost answer then finds its own object: no fork); the
 * decisions never wait for it — what is not yet checkpointed is what `audit verify` reports so.
 *
 * Before the registration and before each checkpoint it stores every key-set statement it holds
 * that certifies its audit key (keysets/…, SPEC §7.3, §8.11): a renewed statement over the same
 * key reaches the store before the first checkpoint that needs it, and a verifier holding the
 * root pin alone finds in the store why the audit key is to be trusted.
 */
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { verifyJson, signJson } from '../crypto/signature.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { RemoteError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { BatchStatement, SignedBatch } from '../protocol/batch-statement.js';
import {
  CHECKPOINT_GENESIS,
  CHECKPOINT_TYPE,
  MAX_CHECKPOINT_BATCHES,
  REGISTRATION_TYPE,
  checkpointKey,
  encodeStored,
  registrationKey,
  signedProblem,
  statementDigest,
  storedDigest,
  type Checkpoint,
  type CheckpointBatch,
  type ChainRegistration,
  type SignedCheckpoint,
  type SignedRegistration,
} from '../protocol/checkpoint.js';
import { CHECKPOINT_PREFIX, chainKey, keysetObjectKey } from '../protocol/checkpoint.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { CertificationBlock } from '../protocol/decision-v2.js';
import { keySetDigest } from '../protocol/keyset.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import type { AuditSigningKey } from '../keys/audit-key.js';
import type { AuditStore } from './audit-store.js';
import type { CheckpointStore } from './checkpoint-store.js';

export interface CheckpointLog {
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface CheckpointWriterOptions {
  store: CheckpointStore;
  /** the audit table, read on start to catch up with statements written after the last checkpoint */
  audit: Pick<AuditStore, 'batches' | 'get'>;
  key: AuditSigningKey;
  /**
   * the root-signed statements held now (the worker's key ring): those whose signers.audit is this
   * writer's key are stored in the checkpoint store (SPEC §8.11 keysets/); absent: none are
   */
  certifications?: () => readonly CertificationBlock[];
  clock: Clock;
  /** write a checkpoint once a chain has this many entries past its last one (default 1000) */
  everyEntries?: number;
  /** …or once this long has passed with entries past it (default 60 s) */
  everyMs?: number;
  log?: CheckpointLog;
}

interface ChainState {
  chain: string;
  /** the newest checkpoint written (undefined: none yet) */
  last?: { index: number; digest: string; size: number };
  /** statements after `last`, in first_seq order */
  pending: CheckpointBatch[];
  head: { size: number; digest: string };
  lastBatch: { first_seq: number; digest: string } | null;
  /** a document built but not yet known to be stored: retried as is */
  unsent?: SignedCheckpoint;
  /** a conflicting object sits where our next checkpoint goes: the chain is not checkpointed any more */
  conflict?: string;
}

export interface FlushResult {
  written: number;
  failed: { chain: string; code: string; message: string }[];
}

export class CheckpointWriter {
  private readonly chains = new Map<string, ChainState>();
  private readonly everyEntries: number;
  private readonly everyMs: number;
  private timer?: ReturnType<typeof setInterval>;
  private queue: Promise<unknown> = Promise.resolve();
  private lastFlushAt: number;
  private readonly published = new Set<string>();

  constructor(
    private readonly p: CryptoProvider,
    private readonly o: CheckpointWriterOptions,
  ) {
    this.everyEntries = o.everyEntries ?? 1000;
    this.everyMs = o.everyMs ?? 60_000;
    this.lastFlushAt = o.clock.now();
  }

  get signer(): string {
    return this.o.key.fingerprint;
  }

  /**
   * Registers `chain` (write-once; an existing registration of the same chain is kept) and loads
   * where its checkpoints stand. Must finish before the chain's first entry.
   */
  async register(chain: string, workerKey: string): Promise<{ registered: 'created' | 'exists' }> {
    await this.publishCertifications();
    const registration: ChainRegistration = { v: 1, type: REGISTRATION_TYPE, chain, worker_key: workerKey, created: new Date(this.o.clock.now()).toISOString(), signer: this.signer };
    const signed: SignedRegistration = { registration, signature: toBase64(signJson(this.p, this.o.key.key, 'chain', registration)) };
    const key = registrationKey(chain);
    const outcome = await this.o.store.putOnce(key, encodeStored(signed));
    if (outcome === 'exists') {
      // a restart on the same chain (local up, a fixed AUDIT_CHAIN_ID): the first registration stands
      const have = await this.read(key);
      const r = have && !signedProblem(have, 'registration') ? (have as unknown as SignedRegistration).registration : undefined;
      if (!r || r.chain !== chain) {
        throw new RemoteError('AUDIT_REGISTRY_CONFLICT', `${this.o.store.label}: ${key} does not hold a registration of chain ${chain}`, {
          hint: 'the checkpoint store holds something else under this chain id: give the worker another AUDIT_CHAIN_ID',
        });
      }
    }
    this.chains.set(chain, await this.load(chain));
    return { registered: outcome };
  }

  /** Stores each held statement that certifies this writer's audit key, once (write-once, content-addressed). */
  async publishCertifications(): Promise<number> {
    let stored = 0;
    for (const c of this.o.certifications?.() ?? []) {
      const st = c.keyset.statement;
      if (st.signers.audit.fingerprint !== this.signer) continue;
      const key = keysetObjectKey(st.generation, keySetDigest(this.p, st));
      if (this.published.has(key)) continue;
      const outcome = await this.o.store.putOnce(key, new TextEncoder().encode(canonicalJson({ root: c.root, keyset: c.keyset }) + '\n'));
      this.published.add(key);
      if (outcome === 'created') stored += 1;
    }
    return stored;
  }

  private async read(key: string): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.o.store.get(key);
    if (!bytes) return undefined;
    try {
      const v = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The newest checkpoint of the chain and the statements stored after it. */
  private async load(chain: string): Promise<ChainState> {
    const keys = await this.o.store.keys(`${CHECKPOINT_PREFIX}${chainKey(chain)}/`);
    const state: ChainState = { chain, pending: [], head: { size: 0, digest: CHECKPOINT_GENESIS }, lastBatch: null };
    const newest = keys.at(-1);
    if (newest) {
      const doc = await this.read(newest);
      const problem = doc ? signedProblem(doc, 'checkpoint') : 'not JSON';
      const signed = doc as unknown as SignedCheckpoint;
      if (problem || signed.checkpoint.chain !== chain || newest !== checkpointKey(chain, signed.checkpoint.index)) {
        throw new RemoteError('CHECKPOINT_STATE_INVALID', `${this.o.store.label}: the newest checkpoint of chain ${chain} (${newest}) is not one: ${problem ?? 'it names another chain or index'}`, {
          hint: 'run ima-qs audit verify --checkpoints … to see what happened to the checkpoint store',
        });
      }
      if (!verifyJson(this.p, this.o.key.key.publicKey, 'checkpoint', signed.checkpoint, safeB64(signed.signature))) {
        this.o.log?.log('warn', 'the newest checkpoint is signed by another audit key', { chain, index: signed.checkpoint.index, signer: signed.checkpoint.signer });
      }
      const c = signed.checkpoint;
      state.last = { index: c.index, digest: storedDigest(this.p, signed), size: c.size };
      state.head = { size: c.size, digest: c.head };
      state.lastBatch = c.last_batch;
    }
    // statements stored after the newest checkpoint (written before a stop or a crash)
    const from = state.last?.size ?? 0;
    for (const rec of await this.o.audit.batches(chain, { from })) {
      let st: BatchStatement;
      try {
        st = parseStrictJson(rec.statement) as BatchStatement;
      } catch {
        continue; // audit verify reports it; a checkpoint never vouches for it
      }
      if (st.first_seq !== state.head.size) break; // a gap: only a contiguous prefix is checkpointed
      this.push(state, st);
    }
    if (state.head.size > (state.last?.size ?? 0)) {
      const head = await this.o.audit.get(chain, state.head.size - 1);
      if (!head) throw new RemoteError('CHECKPOINT_STATE_INVALID', `audit chain ${chain} has batch statements up to ${state.head.size - 1} but no entry there`);
      state.head.digest = head.digest;
    }
    return state;
  }

  private push(state: ChainState, st: BatchStatement): void {
    const digest = statementDigest(this.p, st);
    state.pending.push({ first_seq: st.first_seq, size: st.size, digest });
    state.head.size = st.first_seq + st.size;
    state.lastBatch = { first_seq: st.first_seq, digest };
  }

  /**
   * A batch statement of `chain` was stored (AuditChain's onBatch): `headDigest` is the digest of
   * its last entry. Writes a checkpoint when enough entries have gathered.
   */
  observe(chain: string, signed: SignedBatch, headDigest: string): void {
    const state = this.chains.get(chain);
    if (!state) {
      this.o.log?.log('error', 'a batch of an unregistered chain: not checkpointed', { chain, first_seq: signed.statement.first_seq });
      return;
    }
    const st = signed.statement;
    if (st.first_seq < state.head.size) return; // seen already (a retried commit)
    if (st.first_seq > state.head.size) {
      this.o.log?.log('error', 'a batch statement after a gap: not checkpointed', { chain, first_seq: st.first_seq, expected: state.head.size });
      return;
    }
    this.push(state, st);
    state.head.digest = headDigest;
    if (state.head.size - (state.last?.size ?? 0) >= this.everyEntries) void this.flush('count');
  }

  /** Writes a checkpoint for every chain that moved since its last one. Serialised; never throws. */
  flush(reason: Checkpoint['reason']): Promise<FlushResult> {
    const run = () => this.flushNow(reason);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private async flushNow(reason: Checkpoint['reason']): Promise<FlushResult> {
    this.lastFlushAt = this.o.clock.now();
    const result: FlushResult = { written: 0, failed: [] };
    for (const state of this.chains.values()) {
      if (state.conflict) continue;
      try {
        result.written += await this.writeChain(state, reason);
      } catch (err) {
        const e = err as { code?: string; message?: string };
        result.failed.push({ chain: state.chain, code: e.code ?? 'ERROR', message: String(e.message ?? err).slice(0, 300) });
        this.o.log?.log('error', 'checkpoint write failed', { chain: state.chain, code: e.code ?? 'ERROR', error: String(e.message ?? err).slice(0, 300) });
      }
    }
    return result;
  }

  private async writeChain(state: ChainState, reason: Checkpoint['reason']): Promise<number> {
    let written = 0;
    for (;;) {
      if (!state.unsent) {
        if (state.head.size <= (state.last?.size ?? 0)) return written;
        state.unsent = await this.build(state, reason);
      }
      await this.publishCertifications();
      const signed = state.unsent;
      const c = signed.checkpoint;
      const body = encodeStored(signed);
      const key = checkpointKey(state.chain, c.index);
      if ((await this.o.store.putOnce(key, body)) === 'exists') {
        const have = await this.o.store.get(key);
        if (!have || Buffer.compare(Buffer.from(have), Buffer.from(body)) !== 0) {
          state.conflict = key;
          throw new RemoteError('CHECKPOINT_CONFLICT', `${this.o.store.label}: ${key} already holds another checkpoint: chain ${state.chain} is not checkpointed any more`, {
            hint: 'two writers use one chain id, or someone wrote into the checkpoint store: run ima-qs audit verify --checkpoints …',
          });
        }
        // our own earlier write whose answer was lost
      }
      state.unsent = undefined;
      state.last = { index: c.index, digest: storedDigest(this.p, signed), size: c.size };
      state.pending = state.pending.filter((b) => b.first_seq >= c.size);
      written += 1;
      this.o.log?.log('info', 'checkpoint written', { chain: state.chain, index: c.index, size: c.size, reason });
    }
  }

  /** The next checkpoint: at most MAX_CHECKPOINT_BATCHES statements (a long backlog takes several). */
  private async build(state: ChainState, reason: Checkpoint['reason']): Promise<SignedCheckpoint> {
    const batches = state.pending.slice(0, MAX_CHECKPOINT_BATCHES);
    const end = batches.at(-1)!;
    const size = end.first_seq + end.size;
    let head = state.head.digest;
    if (size !== state.head.size) {
      const rec = await this.o.audit.get(state.chain, size - 1);
      if (!rec) throw new RemoteError('CHECKPOINT_STATE_INVALID', `audit chain ${state.chain} has no entry ${size - 1}`);
      head = rec.digest;
    }
    const checkpoint: Checkpoint = {
      v: 1,
      type: CHECKPOINT_TYPE,
      chain: state.chain,
      index: state.last ? state.last.index + 1 : 0,
      prev: state.last?.digest ?? CHECKPOINT_GENESIS,
      size,
      head,
      batches,
      last_batch: { first_seq: end.first_seq, digest: end.digest },
      time: new Date(this.o.clock.now()).toISOString(),
      reason,
      signer: this.signer,
    };
    return { checkpoint, signature: toBase64(signJson(this.p, this.o.key.key, 'checkpoint', checkpoint)) };
  }

  /** Starts the interval trigger (unref'd: it never keeps a process alive). */
  start(): void {
    if (this.timer) return;
    const tick = Math.max(250, Math.min(this.everyMs, 5_000));
    this.timer = setInterval(() => {
      if (this.o.clock.now() - this.lastFlushAt >= this.everyMs && this.moved()) void this.flush('interval');
    }, tick);
    this.timer.unref?.();
  }

  private moved(): boolean {
    for (const s of this.chains.values()) if (!s.conflict && (s.unsent || s.head.size > (s.last?.size ?? 0))) return true;
    return false;
  }

  /** Stops the trigger and writes the final checkpoints (reason "stop"). */
  async stop(): Promise<FlushResult> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.flush('stop');
  }

  /** Where each chain stands (for logs and tests). */
  status(): { chain: string; checkpointed: number; head: number; conflict?: string }[] {
    return [...this.chains.values()].map((s) => ({ chain: s.chain, checkpointed: s.last?.size ?? 0, head: s.head.size, ...(s.conflict ? { conflict: s.conflict } : {}) }));
  }
}

function safeB64(s: string): Uint8Array {
  try {
    return fromBase64(s, 'signature');
  } catch {
    return new Uint8Array(0);
  }
}
