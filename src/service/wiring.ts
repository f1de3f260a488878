/**
 * Builds the proxy and the worker from environment variables (the Lambda function and the
 * Fargate task configuration; SPEC §8.8 lists them), on the AWS adapters. `local up` builds the
 * same objects from local adapters instead; nothing here is needed for that.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { hostname } from 'node:os';
import { AuditChain } from '../audit/audit-chain.js';
import { loadAuditRecipient, serviceRecipient } from '../audit/audit-recipient.js';
import { dynamoAuditStore } from '../aws/audit-store-dynamo.js';
import { awsClientConfig, type Env } from '../aws/config.js';
import { DynamoTable } from '../aws/dynamo-table.js';
import { SecretsKeySetSource } from '../aws/keyset-secret.js';
import { KmsSigner, KmsSigningKey } from '../aws/kms-signer.js';
import { SecretsManagerStore, type SecretStore } from '../aws/secret-store.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import { fromHex } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import { getProvider } from '../crypto/providers.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { PreconditionError, RemoteError, UsageError, toImaError } from '../errors.js';
import { KeyRing, type KeySetSource } from '../keys/key-ring.js';
import { DirKeySetSource } from '../keys/key-set-dir-source.js';
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
import { InlineSigner, type Signer } from '../crypto/signer.js';
import { Consumer } from './worker/consumer.js';
import type { PipelineDeps } from './worker/pipeline.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import { checkChainId } from '../audit/audit-entry.js';
import { CheckpointWriter } from '../audit/checkpoint-writer.js';
import { FileCheckpointStore } from '../audit/checkpoint-store-file.js';
import { s3CheckpointStore } from '../aws/checkpoint-store-s3.js';
import { auditSigningKey } from '../keys/audit-key.js';
import type { SignedBatch } from '../protocol/batch-statement.js';

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
export function proxyFromEnv(env: Env, log?: Logger, extra: Pick<ProxyDeps, 'page'> = {}): ProxyHandler {
  // the configuration first (SPEC §8.8): a bad value fails here, before any AWS client exists
  const config = proxyConfig(env);
  const { requests, decisions } = tables(env, config.tables);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  const store = new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const docName = config.publicKeysSecret;
  const keys = cachedFor(PROXY_KEYS_TTL_MS, () => store.get(docName).then((v) => publishedKeys(v.value, docName)));
  return createProxyHandler({ p: getProvider('node'), requests, decisions, queue, clock: systemClock, keys, log, page: extra.page });
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
  deps: PipelineDeps;
  consumer: Consumer;
  signer: Signer;
  ring: KeyRing;
  /** SPEC §8.11: the chain is registered; start() it with the consumer, stop() it after the consumer */
  checkpoints?: CheckpointWriter;
  /** where the chain id came from: AUDIT_CHAIN_ID, the ECS task, or the host name */
  chainSource: ChainIdSource;
  /** who can read the audit payloads: the service key, or the AUDIT_RECIPIENT auditor key */
  auditRecipient: { fingerprint: string; source: string; auditor: boolean };
}

export interface WorkerOptions {
  p?: CryptoProvider;
  /** builds the Signer over the key set's decisions key (default: inline; the container: a SigningPool) */
  signer?: (key: MlDsaPrivateKey, config: WorkerConfig) => Signer | Promise<Signer>;
  dynamo?: DynamoDBClient;
  /** the key ring's reload period (default 60 s) */
  reloadMs?: number;
  /**
   * told when the newest generation certifies another decisions signer than the one this worker
   * runs with (a Secrets Manager signer rotated), or another audit signer than its checkpoint
   * writer's: the container stops, ECS starts a fresh task
   */
  onSignerRotated?: (info: { generation: number; fingerprint: string; purpose: 'decisions' | 'audit' }) => void;
  /** for the ECS task metadata endpoint (the chain id; default: global fetch) */
  fetch?: typeof fetch;
}

/** The worker's key-set source: KEYS_DIR (a certified folder or a folder of generations) or the key-set secret. */
export function keySetSource(p: CryptoProvider, config: WorkerConfig, env: Env): KeySetSource {
  if ('dir' in config.keys) return new DirKeySetSource(p, config.keys.dir);
  return new SecretsKeySetSource(p, new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env))), config.keys.prefix);
}

/** The worker: key ring (Secrets Manager, or KEYS_DIR), signer (key set or KMS), audit recipient, tables, queue, TPM. */
export async function workerFromEnv(env: Env, log: Logger, opts: WorkerOptions = {}): Promise<WorkerParts> {
  const p = opts.p ?? getProvider('node');
  // the configuration first (SPEC §8.8): every variable is checked before any file or network call
  const config = workerConfig(env);
  const pcrBank = pcrBankFromConfig(config.anchor, env);
  // a separate auditor key (SPEC §8.8): read before anything else; unreadable = no start, no fallback
  const auditor = config.auditRecipient ? await loadAuditRecipient(p, config.auditRecipient, 'AUDIT_RECIPIENT') : undefined;
  const secrets = () => new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  let signerFp = '';
  let auditFp = '';
  const ring = await KeyRing.open(p, keySetSource(p, config, env), {
    reloadMs: opts.reloadMs,
    onReloadError: (err) => log.log('warn', 'key set reload failed; keeping the generations held', { code: toImaError(err).code }),
    onChange: (r) => {
      log.log('info', 'key set generations changed', { held: r.sets.map((x) => `${x.stage}:${x.generation}`) });
      const newest = r.newest(Date.now());
      const signers = newest?.keyset.statement.signers;
      if (newest && signers && signerFp && signers.decisions.fingerprint !== signerFp && newest.decisionsKey) {
        opts.onSignerRotated?.({ generation: newest.generation, fingerprint: signers.decisions.fingerprint, purpose: 'decisions' });
      } else if (newest && signers && auditFp && signers.audit.fingerprint !== auditFp) {
        // the checkpoint writer signs with the audit key it started with: a fresh task takes the new one
        opts.onSignerRotated?.({ generation: newest.generation, fingerprint: signers.audit.fingerprint, purpose: 'audit' });
      }
    },
  });
  const now = Date.now();
  let signer: Signer;
  if (config.signer.kind === 'kms') {
    signer = await KmsSigner.open(p, new KmsSigningKey(new KMSClient(awsClientConfig('KMS', {}, env))), config.signer.keyArn);
  } else {
    const held = ring.sets.find((x) => x.decisionsKey && x.notBefore <= now && now <= x.notAfter);
    if (!held?.decisionsKey) {
      ring.stop();
      throw new PreconditionError('SIGNER_NOT_HELD', `no valid generation in ${ring.sourceName} holds its decisions signer's private key`, {
        hint: 'the statement certifies a signer held elsewhere: set SIGNER=kms:<key arn> (SPEC §8.8)',
      });
    }
    signer = opts.signer ? await opts.signer(held.decisionsKey, config) : new InlineSigner(p, held.decisionsKey);
  }
  signerFp = fingerprint('ML-DSA-87', signer.publicKey);
  try {
    // Precondition: a generation valid now certifies this signer (else no response would verify)
    ring.certificationFor(signer.publicKey, now);
  } catch (err) {
    ring.stop();
    await signer.close();
    throw new PreconditionError('SIGNER_NOT_CERTIFIED', `no valid generation in ${ring.sourceName} certifies the signer ${signerFp.slice(0, 16)}…`, {
      hint: config.signer.kind === 'kms' ? 'certify the KMS key with the root (ima-qs keys certify --kms-signer FILE) and publish that generation' : 'upload a current key set (ima-qs keys upload)',
      cause: err,
    });
  }
  const current = ring.sets.find((x) => x.stage === 'current')!;
  const auditRecipient = auditor ?? serviceRecipient(current.recipient.publicKey);
  const { dynamo, requests, decisions } = tables(env, config.tables, opts.dynamo);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  let model: PersonaModel = new RulesModel();
  if (config.personaModel) {
    const { url, tokenSecret } = config.personaModel;
    const token = tokenSecret !== undefined ? secretToken(secrets(), tokenSecret) : undefined;
    if (token) await token(); // read at start: a missing or malformed token secret stops the start
    model = new HttpPersonaModel({ url, token });
  }
  const { id: chain, source: chainSource } = await auditChainId(config, opts.fetch ?? fetch);
  const auditStore = dynamoAuditStore(dynamo, config.tables.audit);
  // SPEC §8.11: the audit key signs registrations and checkpoints; it is the audit signer that the
  // generation certifying this worker's signer certifies (SPEC §7.3), held in the same key set
  let checkpoints: CheckpointWriter | undefined;
  if (config.checkpoints) {
    const held = ring.auditKeyFor(signer.publicKey, now);
    const loc = config.checkpoints.location;
    const store = loc.startsWith('s3://') ? s3CheckpointStore(loc, env).store : new FileCheckpointStore(loc);
    checkpoints = new CheckpointWriter(p, {
      store,
      audit: auditStore,
      key: auditSigningKey(held.key, `${ring.sourceName} generation ${held.generation}`),
      certifications: () => ring.certifications(),
      clock: systemClock,
      everyEntries: config.checkpoints.everyEntries,
      everyMs: config.checkpoints.everySeconds * 1000,
      log,
    });
    try {
      // the statement first, then the registration: both before the chain's first entry
      await checkpoints.register(chain, signerFp);
    } catch (err) {
      ring.stop();
      await signer.close();
      throw err;
    }
    auditFp = checkpoints.signer;
  }
  const writer = checkpoints;
  const deps: PipelineDeps = {
    p,
    recipientKey: current.recipient,
    recipientFor: (fp) => ring.recipientFor(fp),
    certification: (at) => ring.certificationFor(signer.publicKey, at),
    signer,
    signerFingerprint: signerFp,
    model,
    requests,
    decisions,
    clock: systemClock,
    log,
    maxSkewMs: config.maxSkewSeconds * 1000,
    audit: new AuditChain(p, {
      chain,
      store: auditStore,
      pcrBank,
      pcr: config.pcrIndex,
      bank: config.pcrBank,
      signer,
      signerFingerprint: signerFp,
      recipient: auditRecipient.publicKey,
      recipientFingerprint: auditRecipient.fingerprint,
      clock: systemClock,
      ...(writer ? { onBatch: (signed: SignedBatch, head: string) => writer.observe(chain, signed, head) } : {}),
    }),
  };
  const consumer = new Consumer(queue, deps, log, {
    visibilitySeconds: config.visibilitySeconds,
    waitSeconds: config.waitSeconds,
    graceMs: config.stopGraceSeconds * 1000,
  });
  return {
    config,
    deps,
    consumer,
    signer,
    ring,
    ...(checkpoints ? { checkpoints } : {}),
    chainSource,
    auditRecipient: { fingerprint: auditRecipient.fingerprint, source: auditRecipient.source, auditor: auditor !== undefined },
  };
}

export type ChainIdSource = 'AUDIT_CHAIN_ID' | 'ecs-task' | 'hostname';

/**
 * The worker's chain id (SPEC §8.8, §8.11): AUDIT_CHAIN_ID; else on ECS the task id (the last part
 * of the TaskARN from the task metadata endpoint v4: unique per task, what the registry lists);
 * else, outside ECS, the host name. On ECS a failed metadata read stops the start: a Fargate
 * task's host name is neither stable nor meaningful to an auditor.
 */
export async function auditChainId(config: Pick<WorkerConfig, 'auditChainId' | 'ecsMetadataUri'>, fetchImpl: typeof fetch): Promise<{ id: string; source: ChainIdSource }> {
  if (config.auditChainId) return { id: config.auditChainId, source: 'AUDIT_CHAIN_ID' };
  if (!config.ecsMetadataUri) return { id: checkChainId(hostname().slice(0, 128)), source: 'hostname' };
  const fail = (why: string, cause?: unknown) =>
    new RemoteError('ECS_METADATA_FAILED', `reading the task id from the ECS task metadata endpoint failed: ${why}`, {
      hint: 'set AUDIT_CHAIN_ID, or check that the task runs on ECS (the agent sets ECS_CONTAINER_METADATA_URI_V4)',
      ...(cause ? { cause } : {}),
    });
  let text: string;
  try {
    const res = await fetchImpl(`${config.ecsMetadataUri.replace(/\/$/, '')}/task`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
    if (res.status !== 200) throw fail(`status ${res.status}`);
    text = await res.text();
  } catch (err) {
    throw err instanceof RemoteError ? err : fail('no answer', err);
  }
  if (text.length > 1 << 20) throw fail('the answer is over 1 MiB');
  let arn: unknown;
  try {
    arn = (parseStrictJson(text) as { TaskARN?: unknown }).TaskARN;
  } catch {
    throw fail('the answer is not JSON');
  }
  // arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/TASK_ID (or the old task/TASK_ID)
  const m = typeof arn === 'string' ? /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/(?:[A-Za-z0-9_-]{1,255}\/)?([A-Za-z0-9-]{1,64})$/.exec(arn) : null;
  if (!m) throw fail('TaskARN is not an ECS task ARN');
  return { id: m[1], source: 'ecs-task' };
}
