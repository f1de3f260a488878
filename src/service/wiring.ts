/**
 * Builds the proxy and the worker from environment variables (the Lambda function and the
 * Fargate task configuration; SPEC §8.8 lists them), on the AWS adapters. `local up` builds the
 * same objects from local adapters instead; nothing here is needed for that.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AuditChain } from '../audit/audit-chain.js';
import { loadAuditRecipient, serviceRecipient, type AuditRecipient } from '../audit/audit-recipient.js';
import { dynamoAuditStore } from '../aws/audit-store-dynamo.js';
import { awsClientConfig, type Env } from '../aws/config.js';
import { DynamoTable } from '../aws/dynamo-table.js';
import { SecretsManagerStore, type SecretStore } from '../aws/secret-store.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import { fromHex } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import { getProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { RemoteError, UsageError } from '../errors.js';
import type { KeyRing } from '../keys/key-ring.js';
import { documentRecipients } from '../protocol/keys-document.js';
import { SimulatedBank } from '../tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../tpm/tpm2-tools.js';
import type { PcrBank } from '../tpm/pcr-bank.js';
import { RulesModel } from './council/councils.js';
import { HttpPersonaModel } from './council/persona-model-http.js';
import type { PersonaModel } from '../protocol/council/types.js';
import { proxyConfig, workerConfig, type PcrAnchorConfig, type WorkerConfig } from './config.js';
import type { Logger } from './log.js';
import { systemClock } from '../ports.js';
import { createProxyHandler, type ProxyDeps, type ProxyHandler, type PublishedKeys } from './proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../protocol/records.js';
import type { Signer } from '../crypto/signer.js';
import { FileLock, ThreadLock, bothLocks, type PcrLock } from '../tpm/pcr-lock.js';
import type { CouncilModelSpec } from './council/budget-council.js';
import { EmfMetrics, WorkerMetrics, type MetricsSink } from './metrics.js';
import { Consumer } from './worker/consumer.js';
import type { PipelineDeps } from './worker/pipeline.js';
import { InlinePipeline, ThreadPipeline, type PipelineRunner, type PipelineSpec } from './worker/pipelines.js';
import type { SignedBatch } from '../protocol/batch-statement.js';
import type { CheckpointWriter } from '../audit/checkpoint-writer.js';
import { auditChainId, pipelineChain, workerCheckpoints, type ChainIdSource } from './worker-audit.js';
import { openWorkerKeys, ringKeys, type WorkerKeyOptions, type WorkerKeys } from './worker-keys.js';

export { keySetSource } from './worker-keys.js';

function tables(env: Env, names: { requests: string; decisions: string }, client?: DynamoDBClient) {
  const dynamo = client ?? new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
  return {
    dynamo,
    requests: new DynamoTable(dynamo, names.requests, REQUESTS_KEY),
    decisions: new DynamoTable(dynamo, names.decisions, DECISIONS_KEY),
  };
}

/** How long the proxy keeps the published document before reading it again (SPEC §8.2: ≤ 5 min). */
export const PROXY_KEYS_TTL_MS = 60_000;

/**
 * The published document as the proxy serves it: the text as stored, and the composite
 * fingerprints of every generation it lists (current and accepted), which requests may be
 * sealed to. A secret that is not a document of the current format is the operator's problem,
 * not a bug: 503 PUBLIC_KEYS_MALFORMED, logged.
 */
export function publishedKeys(text: string, name: string): PublishedKeys {
  const recipients = documentRecipients(text);
  if (!recipients) throw new RemoteError('PUBLIC_KEYS_MALFORMED', `secret ${name} does not hold a public-keys document (SPEC §7.3)`);
  return { document: text, recipientFingerprints: recipients.map((r) => fromHex(r)) };
}

/**
 * Caches a loader for `ttlMs` (a failed load is not kept): the proxy's document, so that a
 * rotation reaches every Lambda container within the TTL instead of living as long as it does.
 */
export function cachedFor<T>(ttlMs: number, load: () => Promise<T>, now: () => number = () => Date.now()): () => Promise<T> {
  let cached: { value: Promise<T>; at: number } | undefined;
  return () => {
    if (!cached || now() - cached.at >= ttlMs) {
      const value = load();
      const entry = { value, at: now() };
      cached = entry;
      value.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.value;
  };
}

/** The proxy: tables, queue, and the published keys document from Secrets Manager (cached ≤ 60 s). */
export function proxyFromEnv(env: Env, log?: Logger, extra: Pick<ProxyDeps, 'page' | 'metrics'> = {}): ProxyHandler {
  // the configuration first (SPEC §8.8): a bad value fails here, before any AWS client exists
  const config = proxyConfig(env);
  const { requests, decisions } = tables(env, config.tables);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  const store = new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const docName = config.publicKeysSecret;
  const keys = cachedFor(PROXY_KEYS_TTL_MS, () => store.get(docName).then((v) => publishedKeys(v.value, docName)));
  return createProxyHandler({ p: getProvider('node'), requests, decisions, queue, clock: systemClock, keys, log, page: extra.page, ...(extra.metrics ? { metrics: extra.metrics } : {}) });
}

/** The PCR bank the worker anchors in: a TPM through tpm2-tools, or an explicitly named simulated bank. */
export function pcrBankFromConfig(anchor: PcrAnchorConfig, env: Env): PcrBank {
  if (anchor.kind === 'tpm') return new Tpm2ToolsBank({ env, tcti: anchor.tcti });
  return new SimulatedBank(anchor.stateFile);
}

/**
 * The persona model's bearer token (SPEC §8.6, PERSONA_MODEL_TOKEN_SECRET): read from Secrets
 * Manager once and kept in memory; a failed read is not kept (the next consultation reads again).
 * The SecretString is the token (surrounding white space ignored), RFC 6750 token characters.
 */
export function secretToken(store: Pick<SecretStore, 'get'>, name: string): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= store.get(name).then((v) => {
      const token = v.value.trim();
      if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token) || token.length > 4096) {
        throw new UsageError('CONFIG_INVALID', 'the secret named by PERSONA_MODEL_TOKEN_SECRET does not hold a bearer token (1-4096 of A-Z a-z 0-9 - . _ ~ + / then = padding)', {
          details: { variables: ['PERSONA_MODEL_TOKEN_SECRET'] },
        });
      }
      return token;
    });
    cached.catch(() => (cached = undefined));
    return cached;
  };
}

export interface WorkerParts {
  config: WorkerConfig;
  consumer: Consumer;
  pipelines: PipelineRunner[];
  /** with `inline`: the pipelines' dependencies (tests read them) */
  deps?: PipelineDeps[];
  /** the key ring (main thread's) and the decisions signer */
  ring: KeyRing;
  signer: Signer;
  /** SPEC §8.11: every pipeline chain is registered; start() it with the consumer, stop() it after the consumer */
  checkpoints?: CheckpointWriter;
  /** where the base chain id came from: AUDIT_CHAIN_ID, the ECS task, or the host name */
  chainSource: ChainIdSource;
  /** who can read the audit payloads: the service key, or the AUDIT_RECIPIENT auditor key */
  auditRecipient: { fingerprint: string; source: string; auditor: boolean };
  /** the ML-DSA-87 fingerprint the decisions are signed under */
  signerFingerprint: string;
  /** the persona model's name (recorded in every decision) */
  model: string;
  /** ends the pipelines (after `consumer.stop()`) and flushes the metrics */
  close(): Promise<void>;
}

export interface WorkerOptions {
  p?: CryptoProvider;
  dynamo?: DynamoDBClient;
  /** the key rings' reload period (default 60 s) */
  reloadMs?: number;
  /** see WorkerKeyOptions: a rotated signer stops the task */
  onSignerRotated?: WorkerKeyOptions['onSignerRotated'];
  /**
   * The pipelines on the calling thread instead of worker threads (tests, embedding): same chains
   * and PCR lock; the model runs in-process without the council budget.
   */
  inline?: boolean;
  /** the council thread's model instead of the rules (tests: a module exporting createModel()) */
  councilModel?: CouncilModelSpec;
  /** where the EMF metrics go (default: stdout, as in the task; 'off' in-process) */
  metrics?: MetricsSink;
  /** the ECS task metadata read (tests) */
  fetch?: typeof fetch;
}

/**
 * The worker: key ring and signer (worker-keys.ts), audit recipient, tables, queue, TPM, and WORKER_PIPELINES pipelines, each on its own thread (SPEC §8.8), fed by one consumer.
 */
export async function workerFromEnv(env: Env, log: Logger, opts: WorkerOptions = {}): Promise<WorkerParts> {
  const p = opts.p ?? getProvider('node');
  // the configuration first (SPEC §8.8): every variable is checked before any file or network call
  const config = workerConfig(env);
  // a separate auditor key (SPEC §8.8): read before anything else; unreadable = no start, no fallback
  const auditor = config.auditRecipient ? await loadAuditRecipient(p, config.auditRecipient, 'AUDIT_RECIPIENT') : undefined;
  const secrets = () => new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const keys = await openWorkerKeys(p, config, env, log, { reloadMs: opts.reloadMs, onSignerRotated: opts.onSignerRotated });
  try {
    return await startWorker(p, env, log, opts, config, keys, auditor, secrets);
  } catch (err) {
    await keys.close();
    throw err;
  }
}

async function startWorker(
  p: CryptoProvider,
  env: Env,
  log: Logger,
  opts: WorkerOptions,
  config: WorkerConfig,
  keys: WorkerKeys,
  auditor: AuditRecipient | undefined,
  secrets: () => SecretStore,
): Promise<WorkerParts> {
  const current = keys.ring.sets.find((x) => x.stage === 'current')!;
  const auditRecipient = auditor ?? serviceRecipient(current.recipient.publicKey);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  let token: string | undefined;
  if (config.personaModel?.tokenSecret !== undefined) token = await secretToken(secrets(), config.personaModel.tokenSecret)(); // read at start: a bad one stops it
  const { id: base, source: chainSource } = await auditChainId(config, opts.fetch ?? fetch);
  const shared = ThreadLock.buffer();
  const n = config.pipelines;
  const chains = Array.from({ length: n }, (_, i) => pipelineChain(base, i));
  // SPEC §8.11: every pipeline chain registered before its first entry; the writer (and the audit
  // key) stays on this thread, the pipelines tell it of each stored batch statement
  const dynamo = opts.dynamo ?? new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
  const checkpoints = await workerCheckpoints(p, config, env, { dynamo, log, chains, keys });
  const onBatch = checkpoints ? (chain: string, signed: SignedBatch, head: string) => checkpoints.observe(chain, signed, head) : undefined;
  const pipelines: PipelineRunner[] = [];
  let deps: PipelineDeps[] | undefined;
  let model = config.personaModel ? 'http' : 'rules/v1';

  if (opts.inline) {
    const { requests, decisions } = tables(env, config.tables, dynamo);
    const store = dynamoAuditStore(dynamo, config.tables.audit);
    const { signer, ring } = keys;
    const pm: PersonaModel = config.personaModel ? new HttpPersonaModel({ url: config.personaModel.url, ...(token !== undefined ? { token: async () => token! } : {}) }) : new RulesModel();
    model = pm.name;
    deps = Array.from({ length: n }, (_, i) => {
      let pcrLock: PcrLock = new ThreadLock(shared, i + 1);
      if (config.pcrLockFile) pcrLock = bothLocks(pcrLock, new FileLock(config.pcrLockFile));
      return {
        p,
        ...ringKeys(ring),
        signer,
        signerFingerprint: keys.signerFingerprint,
        model: pm,
        requests,
        decisions,
        clock: systemClock,
        log,
        maxSkewMs: config.maxSkewSeconds * 1000,
        claimLeaseMs: config.visibilitySeconds * 2000,
        audit: new AuditChain(p, {
          chain: chains[i],
          store,
          pcrBank: pcrBankFromConfig(config.anchor, env),
          pcr: config.pcrIndex,
          bank: config.pcrBank,
          signer,
          signerFingerprint: keys.signerFingerprint,
          recipient: auditRecipient.publicKey,
          recipientFingerprint: auditRecipient.fingerprint,
          clock: systemClock,
          pcrLock,
          ...(onBatch ? { onBatch: (signed: SignedBatch, head: string) => onBatch(chains[i], signed, head) } : {}),
        }),
      };
    });
    pipelines.push(...deps.map((d) => new InlinePipeline(d)));
  } else {
    const modelSpec: PipelineSpec['model'] = config.personaModel
      ? { kind: 'http', url: config.personaModel.url, ...(token !== undefined ? { token } : {}) }
      : (opts.councilModel ?? { kind: 'rules' });
    const dyn = awsClientConfig('DYNAMODB', {}, env);
    const started = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        ThreadPipeline.start(
          {
            index: i,
            chain: chains[i],
            keySource: keys.source,
            signer: keys.signerSpec,
            keyReload: { reloadMs: opts.reloadMs ?? 60_000 },
            signerFingerprint: keys.signerFingerprint,
            dynamo: { ...dyn },
            tables: config.tables,
            anchor: config.anchor.kind === 'tpm' ? { kind: 'tpm', tcti: config.anchor.tcti, env: { ...env } } : { kind: 'simulated', stateFile: config.anchor.stateFile },
            pcr: config.pcrIndex,
            bank: config.pcrBank,
            lock: { shared, ...(config.pcrLockFile ? { file: config.pcrLockFile } : {}) },
            recipient: { publicKey: auditRecipient.publicKey, fingerprint: auditRecipient.fingerprint },
            model: modelSpec,
            councilBudgetMs: config.councilBudgetMs,
            maxSkewMs: config.maxSkewSeconds * 1000,
            claimLeaseMs: config.visibilitySeconds * 2000,
            notifyStored: false,
            observeBatches: onBatch !== undefined,
          },
          { log, ...(onBatch ? { onBatch } : {}) },
        ),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') pipelines.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await Promise.all(pipelines.map((x) => x.close()));
      throw (failed as PromiseRejectedResult).reason;
    }
  }
  const emf = new EmfMetrics('worker', opts.metrics ?? (opts.inline ? 'off' : 'stdout'), log, { flushEveryMs: 1000 });
  const consumer = new Consumer(
    queue,
    pipelines,
    log,
    { visibilitySeconds: config.visibilitySeconds, waitSeconds: config.waitSeconds, graceMs: config.stopGraceSeconds * 1000 },
    new WorkerMetrics(emf),
  );
  return {
    config,
    consumer,
    pipelines,
    ...(deps ? { deps } : {}),
    ring: keys.ring,
    signer: keys.signer,
    ...(checkpoints ? { checkpoints } : {}),
    chainSource,
    auditRecipient: { fingerprint: auditRecipient.fingerprint, source: auditRecipient.source, auditor: auditor !== undefined },
    signerFingerprint: keys.signerFingerprint,
    model,
    close: async () => {
      await Promise.all(pipelines.map((x) => x.close()));
      emf.close();
      await keys.close();
    },
  };
}
