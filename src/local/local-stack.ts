/**
 * The whole black box on one machine (issue 6 §1, DESIGN.md "Real components"): the SAME proxy
 * handler (src/service/proxy/handler.ts) behind a loopback HTTP server, the SAME worker pipeline
 * and consumer (src/service/worker/) fed by an in-process queue, the SAME DynamoDB adapter
 * (src/aws/dynamo-table.ts) talking to dynalite with its LevelDB under STATE/db, and the audit
 * chain anchored in a TPM through tpm2-tools (--tcti, e.g. swtpm) or a labelled simulated bank.
 *
 * State directory layout: SPEC §9. Keys are generated on first start (the `keys generate` layout)
 * and reused after; decisions and the audit chain survive a restart. `stop()` stops accepting
 * requests, lets the worker drain what is queued (bounded), then stops the worker, the tables
 * and the log in that order.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createWriteStream, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { loadAuditRecipient, serviceRecipient } from '../audit/audit-recipient.js';
import { AUDIT_KEY, TableAuditStore } from '../audit/audit-store.js';
import { DynamoTable } from '../aws/dynamo-table.js';
import { fromHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { defaultProvider } from '../crypto/providers.js';
import { ImaError, PreconditionError, RemoteError, UsageError, toImaError } from '../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../io/files.js';
import { fingerprint } from '../crypto/key-codec.js';
import { KeyRing } from '../keys/key-ring.js';
import { InlineSigner } from '../crypto/signer.js';
import { DirKeySetSource } from '../keys/key-set-dir-source.js';
import { ensureLocalKeys, localDocumentText } from './local-keys.js';
import { jsonLogger, type Logger } from '../service/log.js';
import { MemoryQueue } from '../service/memory/memory-queue.js';
import { systemClock } from '../ports.js';
import { InProcessDecisionWaiter } from '../service/proxy/decision-waiter.js';
import { createProxyHandler } from '../service/proxy/handler.js';
import { DECISIONS_KEY, DEFAULT_TABLES, REQUESTS_KEY } from '../protocol/records.js';
import type { CouncilModelSpec } from '../service/council/budget-council.js';
import { EmfMetrics, WorkerMetrics, proxyMetrics } from '../service/metrics.js';
import { Consumer } from '../service/worker/consumer.js';
import type { PipelineRunner } from '../service/worker/pipelines.js';
import { localChain, startLocalPipelines } from './local-pipelines.js';
import type { BankDescription, PcrBank } from '../tpm/pcr-bank.js';
import { SimulatedBank } from '../tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../tpm/tpm2-tools.js';
import { startLoopbackServer, type HttpFrontOptions, type LoopbackServer } from './http-server.js';
import { CheckpointWriter } from '../audit/checkpoint-writer.js';
import { FileCheckpointStore } from '../audit/checkpoint-store-file.js';
import { auditSigningKey } from '../keys/audit-key.js';
import { checkCorsOrigins } from './cors.js';
import { createTables, startDynalite, takeLock } from './local-db.js';

export { createTables, startDynalite };
import { loadPageAssets } from '../web/assets.js';
import { servedPage } from '../web/site.js';

/** SPEC §9: where each part of the local stack keeps its state, relative to STATE. */
export const STATE_LAYOUT = {
  keys: 'keys',
  root: 'root',
  stages: 'stages.json',
  db: 'db',
  simulatedBank: 'tpm-sim.json',
  log: 'service.log',
  keysDocument: 'public-keys.json',
  stack: 'stack.json',
  lock: 'local.lock',
  /** SPEC §8.11: registrations and signed checkpoints, write-once files */
  checkpoints: 'checkpoints',
} as const;

/** The base of the local pipelines' audit chains, `local/<i>` (SPEC §9). */
export const LOCAL_CHAIN = 'local';
export const LOCAL_PCR = 11;

export type AnchorChoice = { kind: 'tpm'; tcti: string } | { kind: 'simulated' };

export interface LocalStackOptions {
  stateDir: string;
  anchor: AnchorChoice;
  port?: number;
  host?: string;
  pcr?: number;
  /**
   * pipelines, each on its own thread with its own audit chain local/<i> (default: one per core);
   * 0 runs one pipeline on this thread, its council in-process without a budget (debugging)
   */
  workers?: number;
  /** the council's time budget per request (default 10 s; SPEC §8.8 COUNCIL_BUDGET_MS) */
  councilBudgetMs?: number;
  /** the council thread's model instead of the rules (tests: a module exporting createModel()) */
  councilModel?: CouncilModelSpec;
  /** EMF metrics of the proxy and the worker into STATE/service.log (default true) */
  metrics?: boolean;
  provider?: CryptoProvider;
  env?: Record<string, string | undefined>;
  /** an extra sink for the service's JSON log lines (they always go to STATE/service.log) */
  logSink?: { write(s: string): unknown };
  /** how long stop() lets the worker drain queued requests (default 10 s) */
  drainMs?: number;
  /**
   * a separate auditor key the audit payloads are sealed to (key folder or composite public key
   * file, absolute or relative to the process); default: the stack's own key (STATE/keys)
   */
  auditRecipient?: string;
  /** bounds of the loopback HTTP front (timeouts, connection cap, drain): SPEC §9, HTTP_FRONT_DEFAULTS */
  http?: HttpFrontOptions;
  /** how often the worker re-reads STATE/stages.json and its generations (default 2 s) */
  keysReloadMs?: number;
  /** checkpoint triggers (SPEC §8.11): every N entries (default 100) or S seconds (default 30), and at stop */
  checkpoints?: { everyEntries?: number; everyMs?: number };
  /** serve the browser page at GET / (issue 16; `local up` does) */
  page?: boolean;
  /** browser origins allowed to call the service (`local up --cors`, checked by checkCorsOrigins) */
  cors?: readonly string[];
}

export interface LocalStack {
  readonly endpoint: string;
  readonly port: number;
  readonly stateDir: string;
  /** THE fingerprint to pin: the stack's root (STATE/root), SHA3-256 of its ML-DSA-87 SPKI */
  readonly fingerprint: string;
  /** the online signer's fingerprint (the decisions signer the root certifies) */
  readonly signerFingerprint: string;
  readonly keysCreated: boolean;
  /** the generations the worker holds (`local rotate` changes them; the ring reloads them) */
  readonly ring: KeyRing;
  readonly anchor: BankDescription & { pcr: number };
  /** pipelines on their own threads (0: one on the main thread) */
  readonly workers: number;
  readonly http: LoopbackServer['stats'];
  readonly consumer: Consumer;
  readonly audit: TableAuditStore;
  /** the pipelines' audit chains, local/0 … */
  readonly chains: string[];
  /** who can read the audit payloads: the stack's key ("STATE/keys", the default) or a separate auditor key (its path) */
  readonly auditRecipient: { fingerprint: string; source: string; auditor: boolean };
  /** the checkpoint writer (STATE/checkpoints, signed with the audit key the current generation certifies) */
  readonly checkpoints: CheckpointWriter;
  /** the browser page with the pin in its fragment (never sent to the server), when served */
  readonly pageUrl?: string;
  readonly cors: readonly string[];
  stop(): Promise<void>;
}

function bankFor(choice: AnchorChoice, stateDir: string, env: Record<string, string | undefined>): PcrBank {
  if (choice.kind === 'tpm') return new Tpm2ToolsBank({ env, tcti: choice.tcti });
  return new SimulatedBank(join(stateDir, STATE_LAYOUT.simulatedBank));
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const stateDir = resolve(opts.stateDir);
  const p = opts.provider ?? defaultProvider();
  const env = opts.env ?? {};
  const pcr = opts.pcr ?? LOCAL_PCR;
  const cors = checkCorsOrigins(opts.cors ?? []);
  await ensurePrivateDir(stateDir);
  const unlock = await takeLock(join(stateDir, STATE_LAYOUT.lock));
  const cleanups: (() => Promise<unknown>)[] = [unlock];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    // a separate auditor key first: a bad one stops the start before anything is created
    const auditor = opts.auditRecipient === undefined ? undefined : await loadAuditRecipient(p, resolve(opts.auditRecipient), '--audit-recipient');
    // keys: a root, generation 1 (the `keys generate` layout, certified), stages (SPEC §9)
    const localKeys = await ensureLocalKeys(p, stateDir, new Date());
    const keysCreated = localKeys.created;
    const ring = await KeyRing.open(p, new DirKeySetSource(p, stateDir), { reloadMs: opts.keysReloadMs ?? 2000, minReloadGapMs: 500 });
    cleanups.push(async () => ring.stop());
    const current = ring.sets.find((x) => x.stage === 'current')!;
    const signingKey = ring.newest(Date.now())?.decisionsKey ?? current.decisionsKey;
    if (!signingKey) throw new PreconditionError('SIGNER_NOT_HELD', 'the current generation holds no signing key');
    const signerFp = fingerprint('ML-DSA-87', signingKey.publicKey);
    const recipient = auditor ?? serviceRecipient(current.recipient.publicKey, `STATE/${STATE_LAYOUT.keys}`);
    // the audit key (SPEC §7.3, §8.11): the one the generation certifying the signer certifies
    const auditHeld = ring.auditKeyFor(signingKey.publicKey, Date.now());
    const auditRecipient = { fingerprint: recipient.fingerprint, source: recipient.source, auditor: auditor !== undefined };

    const logStream: WriteStream = createWriteStream(join(stateDir, STATE_LAYOUT.log), { flags: 'a', mode: 0o600 });
    cleanups.push(() => new Promise<void>((ok) => logStream.end(() => ok())));
    const sink = { write: (s: string) => (logStream.write(s), opts.logSink?.write(s)) };
    const log: Logger = jsonLogger(sink, { service: 'ima-qs-local' });

    // the TPM (or the labelled simulated bank) must answer before we accept anything
    const bank = bankFor(opts.anchor, stateDir, env);
    try {
      await bank.read(pcr, ['sha256']);
    } catch (err) {
      const e = toImaError(err);
      throw new RemoteError(e.code, `the pcr anchor does not answer: ${e.message}`, { hint: e.hint ?? 'check --tcti (is swtpm running?), or use --simulated', cause: err });
    }

    const db = await startDynalite(join(stateDir, STATE_LAYOUT.db));
    cleanups.push(() => db.close());
    const dynamo = new DynamoDBClient({ endpoint: db.url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 4 });
    cleanups.push(async () => dynamo.destroy());
    await createTables(dynamo);
    const requests = new DynamoTable(dynamo, DEFAULT_TABLES.requests, REQUESTS_KEY);
    const decisions = new DynamoTable(dynamo, DEFAULT_TABLES.decisions, DECISIONS_KEY);
    const auditStore = new TableAuditStore(new DynamoTable(dynamo, DEFAULT_TABLES.audit, AUDIT_KEY));

    // the decisions signer: this thread's, and the one each pipeline thread opens from the same folder
    const signer = new InlineSigner(p, signingKey);
    cleanups.push(() => signer.close());
    const keyReload = { reloadMs: opts.keysReloadMs ?? 2000, minReloadGapMs: 500 };

    // registrations and checkpoints (SPEC §8.11): every pipeline chain is registered before its
    // first entry; the writer (and the audit key) stays on this thread
    const workers = opts.workers ?? availableParallelism();
    const checkpoints = new CheckpointWriter(p, {
      store: new FileCheckpointStore(join(stateDir, STATE_LAYOUT.checkpoints)),
      audit: auditStore,
      key: auditSigningKey(auditHeld.key, `STATE generation ${auditHeld.generation}`),
      certifications: () => ring.certifications(),
      clock: systemClock,
      everyEntries: opts.checkpoints?.everyEntries ?? 100,
      everyMs: opts.checkpoints?.everyMs ?? 30_000,
      log,
    });
    for (let i = 0; i < Math.max(1, workers); i++) await checkpoints.register(localChain(LOCAL_CHAIN, i), signerFp);

    // long polls (SPEC §8.2 `?wait=S`) are woken by the worker's store of the decision, which
    // hands the stored item over: no table read for a held poll
    const waiter = new InProcessDecisionWaiter();
    const deadLetter = new MemoryQueue();
    const queue = new MemoryQueue({ visibilitySeconds: 60, redrive: { deadLetter, maxReceiveCount: 5 }, pollMs: 5 });
    const pipelines: PipelineRunner[] = await startLocalPipelines({
      p,
      ring,
      signer,
      keySource: { kind: 'dir', dir: stateDir },
      signerSpec: { kind: 'keyset', fingerprint: signerFp },
      keyReload,
      signerFingerprint: signerFp,
      recipient: { publicKey: recipient.publicKey, fingerprint: recipient.fingerprint },
      base: LOCAL_CHAIN,
      workers,
      inline: { requests, decisions, auditStore, bank },
      dynamoUrl: db.url,
      anchor: opts.anchor.kind === 'tpm' ? { kind: 'tpm', tcti: opts.anchor.tcti, env } : { kind: 'simulated', stateFile: join(stateDir, STATE_LAYOUT.simulatedBank) },
      pcr,
      ...(opts.councilModel ? { councilModel: opts.councilModel } : {}),
      ...(opts.councilBudgetMs !== undefined ? { councilBudgetMs: opts.councilBudgetMs } : {}),
      waiter,
      onBatch: (chain, signed, head) => checkpoints.observe(chain, signed, head),
      log,
    });
    cleanups.push(() => Promise.all(pipelines.map((x) => x.close())));
    // EMF metrics (SPEC §8.8) into STATE/service.log, never onto the CLI's stdout
    const emf = (service: 'proxy' | 'worker') => new EmfMetrics(service, opts.metrics === false ? 'off' : logStream, log, { flushEveryMs: 1000 });
    const workerEmf = emf('worker');
    const proxyEmf = emf('proxy');
    cleanups.push(async () => {
      workerEmf.close();
      proxyEmf.close();
    });
    checkpoints.start();
    // after the consumer has stopped (cleanups run in reverse): the final checkpoint of every chain
    cleanups.push(() => checkpoints.stop());
    const consumer = new Consumer(queue, pipelines, log, { waitSeconds: 1, visibilitySeconds: 60, graceMs: 10_000 }, new WorkerMetrics(workerEmf));

    // the keys document: the ring's generations (current, then pending and previous as accepted),
    // rebuilt whenever the ring's stages change, and kept in STATE for reading
    let published: { document: string; recipientFingerprints: Uint8Array[]; key: string } | undefined;
    const keys = async () => {
      const key = ring.sets.map((x) => `${x.stage}:${x.generation}`).join(',');
      if (published?.key !== key) {
        const document = localDocumentText(ring);
        published = { document, recipientFingerprints: ring.sets.map((x) => fromHex(x.recipientFingerprint)), key };
        await writeFileAtomic(join(stateDir, STATE_LAYOUT.keysDocument), document + '\n', { force: true });
      }
      return published;
    };
    await keys();
    // the page is configured with no pin: it comes from the link's fragment that local up prints
    const page = opts.page ? servedPage(await loadPageAssets(), { auth: 'none', label: 'local' }) : undefined;
    const handler = createProxyHandler({ p, requests, decisions, queue, clock: systemClock, keys, log, waiter, page, metrics: proxyMetrics(proxyEmf) });

    consumer.start();
    cleanups.push(() => consumer.stop());
    let http: LoopbackServer;
    try {
      http = await startLoopbackServer(handler, {
        ...opts.http,
        host: opts.host,
        port: opts.port,
        cors,
        // the access log: one line per answer, the route key only (no path, query or body)
        onAnswer: (a) => log.log('info', 'http', { route: a.route, status: a.status, ms: a.ms }),
        onError: (err) => log.log('error', 'http handler failed', { error: String((err as Error)?.message ?? err).slice(0, 200) }),
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new UsageError('PORT_IN_USE', `port ${opts.port} is already in use`, { hint: 'pick another --port, or 0 for any free one' });
      if (code === 'EACCES') throw new UsageError('PORT_DENIED', `port ${opts.port} needs privileges`, { hint: 'use a port above 1023' });
      throw err;
    }
    const anchor = { ...bank.describe(), pcr };
    const chains = pipelines.map((x) => x.chain);
    await writeFileAtomic(
      join(stateDir, STATE_LAYOUT.stack),
      // `db`: the running tables' endpoint, so `audit --state` can read while the stack holds STATE/db
      JSON.stringify({ endpoint: http.url, fingerprint: localKeys.pin, signer: signerFp, chains, anchor, auditRecipient, checkpoints: { dir: `STATE/${STATE_LAYOUT.checkpoints}`, auditKey: checkpoints.signer }, db: db.url, pid: process.pid, started: new Date().toISOString() }, null, 2) + '\n',
      { force: true },
    );
    const pageUrl = page ? `${http.url}/#pin=${localKeys.pin}` : undefined;
    log.log('info', 'local stack started', { endpoint: http.url, page: page !== undefined, cors, pin: localKeys.pin, signer: signerFp, generations: ring.sets.map((x) => `${x.stage}:${x.generation}`), audit_recipient: auditRecipient.fingerprint, audit_recipient_source: auditRecipient.source, anchor: anchor.kind, simulated: anchor.simulated, pcr, workers, chains });

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        await http.close(); // no new requests
        const deadline = Date.now() + (opts.drainMs ?? 10_000);
        while (queue.depth > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        log.log('info', 'local stack stopping', { undrained: queue.depth, ...consumer.stats });
        await undo();
      })());
    return {
      endpoint: http.url,
      port: http.port,
      stateDir,
      fingerprint: localKeys.pin,
      signerFingerprint: signerFp,
      keysCreated,
      ring,
      anchor,
      workers,
      http: http.stats,
      consumer,
      audit: auditStore,
      chains,
      auditRecipient,
      checkpoints,
      pageUrl,
      cors,
      stop,
    };
  } catch (err) {
    await undo();
    throw err instanceof ImaError ? err : toImaError(err);
  }
}
