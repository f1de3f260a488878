/**
 * `ima-qs keys upload | status | rotate | fetch`: custody of the service keys in AWS Secrets
 * Manager under a customer-managed KMS key (SPEC §7). Thin: flags → ports → src/aws lifecycle →
 * table or JSON. Nothing here ever prints key material: only names, fingerprints, version ids.
 *
 * A secret that holds a different key is a conflict: refused with exit 5 (PreconditionError
 * KEY_CONFLICT) — the command line and the key files are fine, the remote state is not what this
 * operation may overwrite — unless --rotate (or `keys rotate`) says to replace it.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { PreconditionError, RemoteError, UsageError } from '../errors.js';
import { type CommandResult, Progress, table } from '../output.js';
import { defaultProvider } from '../crypto/providers.js';
import { loadPrivateKeys, loadPublicKeys, fingerprints, requireAll } from '../keys/key-dir.js';
import { hasAuditKey, loadAuditKey, loadAuditPublicKey } from '../keys/audit-key.js';
import type { AwsOptions } from '../aws/config.js';
import { custodyStatus } from '../aws/custody-status.js';
import { type CustodyPorts, type UploadReport, fetchKeys, uploadKeys } from '../aws/custody-upload.js';
import type { CustodyPlan } from '../aws/key-custody.js';
import { KmsKeyService } from '../aws/key-service.js';
import { DEFAULT_PREFIX, checkPrefix, shortFingerprint, shortVersion } from '../aws/secret-format.js';
import { SecretsManagerStore } from '../aws/secret-store.js';

interface AwsFlags {
  profile?: string;
  region?: string;
  endpointUrl?: string;
  prefix: string;
  json?: boolean;
}

function awsFlags(cmd: Command): Command {
  return cmd
    .option('--prefix <path>', 'secret name prefix', DEFAULT_PREFIX)
    .option('--profile <name>', 'AWS profile from the shared config files (default: AWS_PROFILE)')
    .option('--region <region>', 'AWS region (default: AWS_REGION or the profile region)')
    .option('--endpoint-url <url>', 'AWS endpoint URL (default: AWS_ENDPOINT_URL[_SECRETS_MANAGER|_KMS])');
}

function awsOptions(f: AwsFlags): AwsOptions {
  return { profile: f.profile, region: f.region, endpointUrl: f.endpointUrl };
}

const AWS_NOTES = `AWS: the standard credential chain, --profile or AWS_PROFILE, --region or AWS_REGION,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_KMS, AWS_MAX_ATTEMPTS.
Exit codes: 4 AWS failure (no region, no credentials, access denied, KMS key disabled or pending
deletion, unreachable) · 5 a secret holds a different key (conflict) · 3 bad key files.`;

export function registerKeyCustody(keys: Command, app: App): void {
  const { deps } = app;
  const now = () => (deps.now ? deps.now() : new Date());
  const ports = (f: AwsFlags): CustodyPorts => ({
    store: SecretsManagerStore.fromOptions(awsOptions(f), deps.env),
    kms: KmsKeyService.fromOptions(awsOptions(f), deps.env),
    p: defaultProvider(),
    now,
  });

  const upload = (rotateCommand: boolean) => async (f: AwsFlags & { keys: string; kmsKey: string; dryRun?: boolean; yes?: boolean; rotate?: boolean; validityDays?: string }): Promise<CommandResult> => {
    const prefix = checkPrefix(f.prefix);
    const validityDays = f.validityDays === undefined ? undefined : Number(f.validityDays);
    if (validityDays !== undefined && !(Number.isInteger(validityDays) && validityDays >= 1 && validityDays <= 3650)) {
      throw new UsageError('BAD_VALIDITY', `--valid-days ${f.validityDays} is not a whole number of days from 1 to 3650`);
    }
    const p = defaultProvider();
    const localKeys = await loadPrivateKeys(p, resolve(deps.cwd, f.keys));
    // the audit key (SPEC §7.1 fourth secret) goes up too when the folder has one
    const keyDir = resolve(deps.cwd, f.keys);
    const auditKey = (await hasAuditKey(keyDir)) ? (await loadAuditKey(p, keyDir)).key : undefined;
    const progress = new Progress(deps.stderr, 'writing secrets');
    const report = await uploadKeys(ports(f), {
      keys: localKeys,
      ...(auditKey ? { auditKey } : {}),
      prefix,
      kmsKeyRef: f.kmsKey,
      allowRotate: rotateCommand || Boolean(f.rotate),
      dryRun: Boolean(f.dryRun),
      validityDays,
      confirm: async (plan) => {
        if (!f.yes && !f.json && deps.interactive) deps.stderr.write(planTable(plan) + '\n');
        return app.confirm(`write ${plan.items.filter((i) => i.action !== 'unchanged').length} secret(s) under ${prefix}?`, { yes: f.yes, json: f.json });
      },
      onProgress: (d, t) => progress.update(d, `of ${t}`),
    });
    progress.done();
    return uploadResult(report, Boolean(f.dryRun), rotateCommand);
  };

  const common = (c: Command) => awsFlags(c.requiredOption('--kms-key <id|arn|alias/NAME>', 'the KMS key that encrypts the secrets'))
    .option('--dry-run', 'show the plan, write nothing')
    .option('--yes', 'do not ask for confirmation (required with --json or without a terminal)')
    .option('--valid-days <n>', 'validity of the published public-keys document in days (default 365)');

  common(
    app
      .command(keys, {
        name: 'upload',
        description: 'put the private keys into AWS Secrets Manager under a KMS key and publish the signed public keys',
        examples: [
          'ima-qs keys upload --keys quantum_keys --kms-key alias/ima-qs --dry-run',
          'ima-qs keys upload --keys quantum_keys --kms-key alias/ima-qs --yes --json',
          'ima-qs keys upload --keys new_keys --kms-key alias/ima-qs --rotate',
        ],
        notes: `Idempotent: a secret that already holds the same key is "unchanged". A secret holding a different
key is a conflict (exit 5) unless --rotate. Every secret is read back and compared by fingerprint.
${AWS_NOTES}`,
      })
      .requiredOption('--keys <dir>', 'the key folder written by ima-qs keys generate')
      .option('--rotate', 'replace secrets that hold different keys (as keys rotate does)'),
  ).action(app.action(upload(false)));

  common(
    app
      .command(keys, {
        name: 'rotate',
        description: 'stage new keys as AWSPENDING, then make them AWSCURRENT (the old ones stay AWSPREVIOUS)',
        examples: [
          'ima-qs keys generate --out new_keys && ima-qs keys rotate --keys new_keys --kms-key alias/ima-qs',
          'ima-qs keys rotate --keys new_keys --kms-key alias/ima-qs --yes --json',
        ],
        notes: `All new versions are staged before any becomes current, so readers never see a mixed key set.
The signed public-keys document is re-published. Afterwards: ima-qs keys status.
${AWS_NOTES}`,
      })
      .requiredOption('--keys <dir>', 'the folder with the new keys'),
  ).action(app.action(upload(true)));

  awsFlags(
    app.command(keys, {
      name: 'status',
      description: 'show each custody secret: version stages, KMS key, fingerprint, last change, match with local files',
      examples: ['ima-qs keys status', 'ima-qs keys status --keys quantum_keys --json'],
      notes: `Reads metadata only (no decrypt permission needed); the fingerprint is the tag written with the
current version.
${AWS_NOTES}`,
    }),
  )
    .option('--keys <dir>', 'compare with the public keys in this folder')
    .action(
      app.action(async (f: AwsFlags & { keys?: string }): Promise<CommandResult> => {
        const prefix = checkPrefix(f.prefix);
        const dir = f.keys ? resolve(deps.cwd, f.keys) : undefined;
        const audit = dir && (await hasAuditKey(dir)) ? (await loadAuditPublicKey(defaultProvider(), dir)).fingerprint : undefined;
        const local = dir ? { ...fingerprints(requireAll(await loadPublicKeys(defaultProvider(), dir), f.keys!)), ...(audit ? { audit } : {}) } : undefined;
        const rows = await custodyStatus(ports(f).store, prefix, local);
        const v = (id?: string) => (id ? shortVersion(id) : '—');
        const yn = (b?: boolean) => (b === undefined ? '—' : b ? 'yes' : 'no');
        const human = table(
          ['secret', 'exists', 'AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS', 'KMS key', 'fingerprint', 'last change', 'matches local'],
          rows.map((r) => [
            r.name + (r.note ? `\n(${r.note})` : ''),
            r.exists ? 'yes' : 'no',
            v(r.stages.AWSCURRENT),
            v(r.stages.AWSPENDING),
            v(r.stages.AWSPREVIOUS),
            r.kmsKeyId ? r.kmsKeyId.replace(/^arn:[^:]+:kms:[^:]+:\d+:/, '') : '—',
            shortFingerprint(r.fingerprint),
            r.lastChanged ? r.lastChanged.slice(0, 19).replace('T', ' ') : '—',
            yn(r.matchesLocal),
          ]),
        );
        return { data: { prefix, secrets: rows, ...(local ? { local } : {}) }, human };
      }),
    );

  awsFlags(
    app.command(keys, {
      name: 'fetch',
      description: 'write the key files from Secrets Manager (recovery, or a second operator machine)',
      examples: ['ima-qs keys fetch --out quantum_keys', 'ima-qs keys fetch --out /secure/keys --prefix prod/ima --json'],
      notes: `Private key files are 0600 in a 0700 folder and never overwritten without --force. Each secret's
key is checked against the fingerprint it states before anything is written.
${AWS_NOTES}`,
    }),
  )
    .requiredOption('--out <dir>', 'the folder to write the six key files into')
    .option('--force', 'replace existing key files')
    .action(
      app.action(async (f: AwsFlags & { out: string; force?: boolean }): Promise<CommandResult> => {
        const prefix = checkPrefix(f.prefix);
        const r = await fetchKeys(ports(f), { prefix, out: f.out, force: Boolean(f.force) });
        const human =
          table(['file', 'from secret'], r.files.map((x) => [x.path, x.identicalToSecret === undefined ? 'derived public key' : x.identicalToSecret ? 'identical' : 're-encoded'])) +
          `\nML-DSA-87 fingerprint (pin this): ${r.fingerprints.mldsa}`;
        return { data: { prefix, out: f.out, ...r }, human };
      }),
    );
}

function planTable(plan: CustodyPlan, extra?: (name: string) => string[]): string {
  const head = ['secret', 'action', 'fingerprint', ...(extra ? ['result', 'read back'] : [])];
  return table(
    head,
    plan.items.map((i) => [
      i.name,
      i.action + (i.kmsChange ? (i.action === 'unchanged' ? ' (stays under its KMS key)' : ' (to the new KMS key)') : '') + (i.reason && i.action !== 'unchanged' ? `\n${i.reason}` : ''),
      shortFingerprint(i.fingerprint) + (i.remoteFingerprint && i.remoteFingerprint !== i.fingerprint ? `\nremote ${shortFingerprint(i.remoteFingerprint)}` : ''),
      ...(extra ? extra(i.name) : []),
    ]),
  );
}

function uploadResult(r: UploadReport, dryRun: boolean, rotating: boolean): CommandResult {
  const data = {
    prefix: r.plan.prefix,
    kmsKey: { arn: r.kmsKey.arn, state: r.kmsKey.state },
    fingerprints: r.fingerprints,
    dryRun,
    plan: r.plan.items,
    ...(r.applied ? { applied: r.applied } : {}),
    ...(r.readBack ? { readBack: r.readBack } : {}),
    ...(r.declined ? { declined: true } : {}),
  };
  if (r.refused.length) {
    const conflicts = r.refused.filter((i) => i.action === 'conflict').map((i) => i.name);
    const blocked = r.refused.filter((i) => i.action === 'blocked').map((i) => i.name);
    const failure = conflicts.length
      ? new PreconditionError('KEY_CONFLICT', `${conflicts.join(', ')} already hold${conflicts.length === 1 ? 's' : ''} a different key; nothing was written`, {
          hint: rotating ? undefined : 'to replace them, run ima-qs keys rotate (or keys upload --rotate); to keep them, fetch them with ima-qs keys fetch',
        })
      : new PreconditionError('SECRET_PENDING_DELETION', `${blocked.join(', ')} ${blocked.length === 1 ? 'is' : 'are'} scheduled for deletion; nothing was written`, {
          hint: 'restore with aws secretsmanager restore-secret --secret-id NAME, then run again',
        });
    return { data, human: planTable(r.plan), failure };
  }
  if (dryRun) return { data, human: planTable(r.plan) + '\ndry run: nothing was written' };
  if (r.declined) return { data, human: planTable(r.plan) + '\nnothing was written' };
  const outcome = new Map(r.applied?.map((a) => [a.name, a.outcome]) ?? []);
  const back = new Map(r.readBack?.map((b) => [b.name, b.ok ? 'ok' : `MISMATCH ${b.reason ?? ''}`]) ?? []);
  const human =
    planTable(r.plan, (name) => [outcome.get(name) ?? '—', back.get(name) ?? '—']) +
    `\nML-DSA-87 fingerprint (pin this in clients): ${r.fingerprints.mldsa}`;
  const bad = r.readBack?.filter((b) => !b.ok) ?? [];
  if (bad.length) {
    return {
      data,
      human,
      failure: new RemoteError('CUSTODY_READBACK_MISMATCH', `reading back ${bad.map((b) => b.name).join(', ')} did not give the local keys`, {
        hint: 'someone else may be writing these secrets; run ima-qs keys status',
      }),
    };
  }
  return { data, human };
}
