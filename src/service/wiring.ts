/**
 * Builds the proxy and the worker from environment variables (the Lambda function and the
 * Fargate task configuration; SPEC §8.8 lists them), on the AWS adapters. `local up` builds the
 * same objects from local adapters instead; nothing here is needed for that.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { hostname } from 'node:os';
import { AuditChain } from '../audit/audit-chain.js';
import { loadAuditRecipient, serviceRecipient } from '../audit/audit-recipient.js';
import { dynamoAuditStore } from '../aws/audit-store-dynamo.js';
import { awsClientConfig, type Env } from '../aws/config.js';
import { DynamoTable } from '../aws/dynamo-table.js';
import { SecretsManagerStore, type SecretStore } from '../aws/secret-store.js';
import { loadServiceKeysFromSecrets } from '../aws/service-keys.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import { fromHex } from '../crypto/bytes.js';
import { getProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { RemoteError, UsageError } from '../errors.js';
import { fingerprints, loadPrivateKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey, type ServiceKeys } from '../keys/key-dir.js';
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
import { loadAuditKeyFromSecrets } from '../aws/service-keys.js';
import { loadAuditKey } from '../keys/audit-key.js';
import type { SignedBatch } from '../protocol/batch-statement.js';

function tables(env: Env, names: { requests: string; decisions: string }, client?: DynamoDBClient) {
  const dynamo = client ?? new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
  return {
    dynamo,
    requests: new DynamoTable(dynamo, names.requests, REQUESTS_KEY),
    decisions: new DynamoTable(dynamo, names.decisions, DECISIONS_KEY),
  };
}

/** The proxy: tables, queue, and the published keys document from Secrets Manager (cached). */
export function proxyFromEnv(env: Env, log?: Logger, extra: Pick<ProxyDeps, 'page'> = {}): ProxyHandler {
  // the configuration first (SPEC §8.8): a bad value fails here, before any AWS client exists
  const config = proxyConfig(env);
  const { requests, decisions } = tables(env, config.tables);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  const store = new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const docName = config.publicKeysSecret;
  let cached: Promise<PublishedKeys> | undefined;
  const keys = () => {
    cached ??= store.get(docName).then((v) => {
      let fp: unknown;
      try {
        fp = (parseStrictJson(v.value) as { keys?: { composite?: { fingerprint?: unknown } } })?.keys?.composite?.fingerprint;
      } catch {
        fp = null;
      }
      // a secret that is not a keys document is the operator's problem, not a bug: 503, logged
      if (fp !== undefined && (typeof fp !== 'string' || !/^[0-9a-f]{64}$/.test(fp))) {
        throw new RemoteError('PUBLIC_KEYS_MALFORMED', `secret ${docName} does not hold a public-keys document (SPEC §7.3)`);
      }
      return { document: v.value, recipientFingerprint: fp ? fromHex(fp) : undefined };
    });
    cached.catch(() => (cached = undefined));
    return cached;
  };
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
  /** SPEC §8.11: the chain is registered; start() it with the consumer, stop() it after the consumer */
  checkpoints?: CheckpointWriter;
  /** where the chain id came from: AUDIT_CHAIN_ID, the ECS task, or the host name */
  chainSource: ChainIdSource;
  /** who can read the audit payloads: the service key, or the AUDIT_RECIPIENT auditor key */
  auditRecipient: { fingerprint: string; source: string; auditor: boolean };
}

/** The worker: keys (Secrets Manager, or KEYS_DIR for local runs), audit recipient, tables, queue, TPM, signer. */
export async function workerFromEnv(
  env: Env,
  log: Logger,
  opts: { p?: CryptoProvider; signer?: (keys: ServiceKeys, config: WorkerConfig) => Signer | Promise<Signer>; dynamo?: DynamoDBClient; fetch?: typeof fetch } = {},
): Promise<WorkerParts> {
  const p = opts.p ?? getProvider('node');
  // the configuration first (SPEC §8.8): every variable is checked before any file or network call
  const config = workerConfig(env);
  const pcrBank = pcrBankFromConfig(config.anchor, env);
  // a separate auditor key (SPEC §8.8): read before anything else; unreadable = no start, no fallback
  const auditor = config.auditRecipient ? await loadAuditRecipient(p, config.auditRecipient, 'AUDIT_RECIPIENT') : undefined;
  const secrets = () => new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const keys =
    'dir' in config.keys ? await loadPrivateKeys(p, config.keys.dir) : await loadServiceKeysFromSecrets(secrets(), { prefix: config.keys.prefix, provider: p });
  const pub = publicKeysOf(keys);
  const fp = fingerprints(pub);
  const auditRecipient = auditor ?? serviceRecipient(recipientPublicKey(pub));
  const { dynamo, requests, decisions } = tables(env, config.tables, opts.dynamo);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), config.queueUrl);
  let model: PersonaModel = new RulesModel();
  if (config.personaModel) {
    const { url, tokenSecret } = config.personaModel;
    const token = tokenSecret !== undefined ? secretToken(secrets(), tokenSecret) : undefined;
    if (token) await token(); // read at start: a missing or malformed token secret stops the start
    model = new HttpPersonaModel({ url, token });
  }
  const signer = opts.signer ? await opts.signer(keys, config) : new InlineSigner(p, keys.mldsa);
  const { id: chain, source: chainSource } = await auditChainId(config, opts.fetch ?? fetch);
  const auditStore = dynamoAuditStore(dynamo, config.tables.audit);
  // SPEC §8.11: the audit key signs registrations and checkpoints; it is loaded for nothing else
  let checkpoints: CheckpointWriter | undefined;
  if (config.checkpoints) {
    const auditKey = 'dir' in config.keys ? await loadAuditKey(p, config.keys.dir) : await loadAuditKeyFromSecrets(p, secrets(), config.keys.prefix);
    const loc = config.checkpoints.location;
    const store = loc.startsWith('s3://') ? s3CheckpointStore(loc, env).store : new FileCheckpointStore(loc);
    checkpoints = new CheckpointWriter(p, {
      store,
      audit: auditStore,
      key: auditKey,
      clock: systemClock,
      everyEntries: config.checkpoints.everyEntries,
      everyMs: config.checkpoints.everySeconds * 1000,
      log,
    });
    // registered before the chain's first entry (the consumer has not started)
    await checkpoints.register(chain, fp.mldsa);
  }
  const writer = checkpoints;
  const deps: PipelineDeps = {
    p,
    recipientKey: recipientPrivateKey(keys),
    signer,
    signerFingerprint: fp.mldsa,
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
      signerFingerprint: fp.mldsa,
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
