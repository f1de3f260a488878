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
import { SecretsManagerStore } from '../aws/secret-store.js';
import { secretName, DEFAULT_PREFIX, PUBLIC_KEYS_SUFFIX } from '../aws/secret-format.js';
import { loadServiceKeysFromSecrets } from '../aws/service-keys.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import { fromHex } from '../crypto/bytes.js';
import { getProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { PreconditionError, UsageError } from '../errors.js';
import { fingerprints, loadPrivateKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey, type ServiceKeys } from '../keys/key-dir.js';
import { SimulatedBank } from '../tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../tpm/tpm2-tools.js';
import type { PcrBank } from '../tpm/pcr-bank.js';
import { checkPcrIndex } from '../tpm/pcr-math.js';
import { RulesModel } from './council/councils.js';
import { HttpPersonaModel } from './council/persona-model-http.js';
import type { Logger } from './log.js';
import { systemClock } from '../ports.js';
import { createProxyHandler, type ProxyHandler, type PublishedKeys } from './proxy/handler.js';
import { DECISIONS_KEY, DEFAULT_TABLES, REQUESTS_KEY } from '../protocol/records.js';
import { InlineSigner, type Signer } from '../crypto/signer.js';
import { Consumer } from './worker/consumer.js';
import type { PipelineDeps } from './worker/pipeline.js';

/** A whole number of seconds from the environment, within [min, max]. */
function seconds(env: Env, name: string, min: number, max: number): number {
  const v = Number(env[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError('BAD_ENV', `environment variable ${name} must be a whole number of seconds from ${min} to ${max}`);
  }
  return v;
}

function need(env: Env, name: string): string {
  const v = env[name];
  if (!v) throw new UsageError('MISSING_ENV', `environment variable ${name} is not set`, { hint: 'see SPEC §8.8 for the service configuration' });
  return v;
}

function tables(env: Env, client?: DynamoDBClient) {
  const dynamo = client ?? new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
  return {
    dynamo,
    requests: new DynamoTable(dynamo, env.REQUESTS_TABLE ?? DEFAULT_TABLES.requests, REQUESTS_KEY),
    decisions: new DynamoTable(dynamo, env.DECISIONS_TABLE ?? DEFAULT_TABLES.decisions, DECISIONS_KEY),
  };
}

/** The proxy: tables, queue, and the published keys document from Secrets Manager (cached). */
export function proxyFromEnv(env: Env, log?: Logger): ProxyHandler {
  const { requests, decisions } = tables(env);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), need(env, 'QUEUE_URL'));
  const store = new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const docName = env.PUBLIC_KEYS_SECRET ?? secretName(env.KEYS_SECRET_PREFIX ?? DEFAULT_PREFIX, PUBLIC_KEYS_SUFFIX);
  let cached: Promise<PublishedKeys> | undefined;
  const keys = () => {
    cached ??= store.get(docName).then((v) => {
      const doc = JSON.parse(v.value) as { keys?: { composite?: { fingerprint?: string } } };
      const fp = doc.keys?.composite?.fingerprint;
      return { document: v.value, recipientFingerprint: fp ? fromHex(fp) : undefined };
    });
    cached.catch(() => (cached = undefined));
    return cached;
  };
  return createProxyHandler({ p: getProvider('node'), requests, decisions, queue, clock: systemClock, keys, log });
}

/** The PCR bank the worker anchors in: a TPM through tpm2-tools, or an explicitly named simulated bank. */
export function pcrBankFromEnv(env: Env): PcrBank {
  const anchor = env.IMA_QS_PCR_ANCHOR ?? (env.TPM2TOOLS_TCTI ? 'tpm' : '');
  if (anchor === 'tpm') return new Tpm2ToolsBank({ env, tcti: env.TPM2TOOLS_TCTI });
  if (anchor.startsWith('simulated:') && anchor.length > 'simulated:'.length) return new SimulatedBank(anchor.slice('simulated:'.length));
  // DESIGN.md: Fargate has no TPM; never fall back silently
  throw new PreconditionError('NO_PCR_ANCHOR', 'no tpm is configured for the audit anchor', {
    hint: 'set TPM2TOOLS_TCTI (a TPM: ECS on EC2 with NitroTPM, or swtpm) or IMA_QS_PCR_ANCHOR=simulated:/path/state.json (a labelled simulated bank)',
  });
}

export interface WorkerParts {
  deps: PipelineDeps;
  consumer: Consumer;
  signer: Signer;
  /** who can read the audit payloads: the service key, or the AUDIT_RECIPIENT auditor key */
  auditRecipient: { fingerprint: string; source: string; auditor: boolean };
}

/** The worker: keys (Secrets Manager, or KEYS_DIR for local runs), audit recipient, tables, queue, TPM, signer. */
export async function workerFromEnv(env: Env, log: Logger, opts: { p?: CryptoProvider; signer?: (keys: ServiceKeys) => Signer | Promise<Signer>; dynamo?: DynamoDBClient } = {}): Promise<WorkerParts> {
  const p = opts.p ?? getProvider('node');
  // the configuration first (SPEC §8.8): a missing variable fails before any network call
  const queueUrl = need(env, 'QUEUE_URL');
  const pcrBank = pcrBankFromEnv(env);
  // a separate auditor key (SPEC §8.8): read before anything else; unreadable = no start, no fallback
  const auditor = env.AUDIT_RECIPIENT ? await loadAuditRecipient(p, env.AUDIT_RECIPIENT, 'AUDIT_RECIPIENT') : undefined;
  const keys = env.KEYS_DIR
    ? await loadPrivateKeys(p, env.KEYS_DIR)
    : await loadServiceKeysFromSecrets(new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env))), {
        prefix: env.KEYS_SECRET_PREFIX ?? DEFAULT_PREFIX,
        provider: p,
      });
  const pub = publicKeysOf(keys);
  const fp = fingerprints(pub);
  const auditRecipient = auditor ?? serviceRecipient(recipientPublicKey(pub));
  const { dynamo, requests, decisions } = tables(env, opts.dynamo);
  const queue = new SqsQueue(new SQSClient(awsClientConfig('SQS', {}, env)), queueUrl);
  const signer = opts.signer ? await opts.signer(keys) : new InlineSigner(p, keys.mldsa);
  const pcr = checkPcrIndex(Number(env.PCR_INDEX ?? '11'), 'PCR_INDEX');
  const bank = env.PCR_BANK === 'sha384' ? 'sha384' : 'sha256';
  const deps: PipelineDeps = {
    p,
    recipientKey: recipientPrivateKey(keys),
    signer,
    signerFingerprint: fp.mldsa,
    model: env.PERSONA_MODEL_URL ? new HttpPersonaModel({ url: env.PERSONA_MODEL_URL }) : new RulesModel(),
    requests,
    decisions,
    clock: systemClock,
    log,
    maxSkewMs: env.MAX_SKEW_SECONDS ? Number(env.MAX_SKEW_SECONDS) * 1000 : undefined,
    audit: new AuditChain(p, {
      chain: env.AUDIT_CHAIN_ID ?? hostname(),
      store: dynamoAuditStore(dynamo, env.AUDIT_TABLE ?? DEFAULT_TABLES.audit),
      pcrBank,
      pcr,
      bank,
      signer,
      signerFingerprint: fp.mldsa,
      recipient: auditRecipient.publicKey,
      recipientFingerprint: auditRecipient.fingerprint,
      clock: systemClock,
    }),
  };
  const consumer = new Consumer(queue, deps, log, {
    visibilitySeconds: env.VISIBILITY_SECONDS ? Number(env.VISIBILITY_SECONDS) : undefined,
    waitSeconds: env.WAIT_SECONDS ? Number(env.WAIT_SECONDS) : undefined,
    graceMs: env.STOP_GRACE_SECONDS ? seconds(env, 'STOP_GRACE_SECONDS', 0, 3600) * 1000 : undefined,
  });
  return { deps, consumer, signer, auditRecipient: { fingerprint: auditRecipient.fingerprint, source: auditRecipient.source, auditor: auditor !== undefined } };
}
