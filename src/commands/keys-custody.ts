/**
 * `ima-qs keys upload | rotate | status | fetch | signer create`: custody of the key sets in AWS
 * Secrets Manager under a customer-managed KMS key, and the online signer in AWS KMS (SPEC §7).
 * Thin: flags → ports → src/aws lifecycle → table or JSON. Nothing here ever prints key material:
 * only names, generations, fingerprints, version ids.
 *
 * upload, rotate and status read metadata only (DescribeSecret) and never decrypt: the custody
 * rule of infra/custody.tf. fetch is break-glass recovery: it reads a key set back, which only the
 * break-glass role may do. A secret that holds another generation is a conflict: exit 5
 * (PreconditionError KEY_CONFLICT), never overwritten.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { ImaError, PreconditionError, RemoteError, UsageError } from '../errors.js';
import { type CommandResult, Progress, facts, table } from '../output.js';
import { defaultProvider } from '../crypto/providers.js';
import { encodePublicKeyPem, fingerprint } from '../crypto/key-codec.js';
import { writeFileAtomic } from '../io/files.js';
import type { AwsOptions } from '../aws/config.js';
import { custodyStatus } from '../aws/custody-status.js';
import { type CustodyPorts, type UploadReport, uploadKeys } from '../aws/custody-upload.js';
import { fetchKeys } from '../aws/custody-fetch.js';
import { type CustodyPlan, type Phase, ROTATION_WAITS } from '../aws/key-custody.js';
import { stepText } from '../aws/custody-apply.js';
import { KmsKeyService } from '../aws/key-service.js';
import { KmsSigningKey } from '../aws/kms-signer.js';
import { DEFAULT_PREFIX, checkPrefix, shortFingerprint } from '../aws/secret-format.js';
import { SecretsManagerStore } from '../aws/secret-store.js';
import { KEYSET_FILES, readKeySetFile } from '../keys/key-set-files.js';
import { requireSubcommand } from './index.js';

interface AwsFlags {
  profile?: string;
  region?: string;
  endpointUrl?: string;
  prefix: string;
  json?: boolean;
}

function awsFlags(cmd: Command, prefix = true): Command {
  if (prefix) cmd.option('--prefix <path>', 'secret name prefix', DEFAULT_PREFIX);
  return cmd
    .option('--profile <name>', 'AWS profile from the shared config files (default: AWS_PROFILE)')
    .option('--region <region>', 'AWS region (default: AWS_REGION or the profile region)')
    .option('--endpoint-url <url>', 'AWS endpoint URL (default: AWS_ENDPOINT_URL[_SECRETS_MANAGER|_KMS])');
}

function awsOptions(f: Omit<AwsFlags, 'prefix'>): AwsOptions {
  return { profile: f.profile, region: f.region, endpointUrl: f.endpointUrl };
}

const AWS_NOTES = `AWS: the standard credential chain, --profile or AWS_PROFILE, --region or AWS_REGION,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_KMS, AWS_MAX_ATTEMPTS.
Exit codes: 4 AWS failure (no region, no credentials, access denied, KMS key disabled or pending
deletion, unreachable) · 5 custody holds another generation (conflict) or a phase is not due · 3 bad key files.`;

const PHASES = ['publish', 'switch', 'retire'] as const;

export function registerKeyCustody(keys: Command, app: App): void {
  const { deps } = app;
  const now = () => (deps.now ? deps.now() : new Date());
  const ports = (f: AwsFlags): CustodyPorts => ({
    store: SecretsManagerStore.fromOptions(awsOptions(f), deps.env),
    kms: KmsKeyService.fromOptions(awsOptions(f), deps.env),
    p: defaultProvider(),
    now,
  });

  type UploadFlags = AwsFlags & { keys: string; kmsKey: string; dryRun?: boolean; yes?: boolean; rotate?: boolean; phase?: string; immediately?: boolean };
  const upload = (rotateCommand: boolean) => async (f: UploadFlags): Promise<CommandResult> => {
    const prefix = checkPrefix(f.prefix);
    if (f.phase !== undefined && !(PHASES as readonly string[]).includes(f.phase)) throw new UsageError('BAD_PHASE', '--phase is publish, switch or retire');
    const progress = new Progress(deps.stderr, 'writing secrets');
    const report = await uploadKeys(ports(f), {
      dir: resolve(deps.cwd, f.keys),
      prefix,
      kmsKeyRef: f.kmsKey,
      mode: rotateCommand || f.rotate ? 'rotate' : 'upload',
      dryRun: Boolean(f.dryRun),
      immediately: Boolean(f.immediately),
      expectPhase: f.phase as Phase | undefined,
      confirm: async (plan) => {
        if (!f.yes && !f.json && deps.interactive) deps.stderr.write(planTable(plan) + '\n');
        return app.confirm(`${plan.phase === 'upload' ? 'write' : plan.phase} generation ${plan.generation} under ${prefix} (${plan.steps.length} step(s))?`, { yes: f.yes, json: f.json });
      },
      onProgress: (d, t) => progress.update(d, `of ${t}`),
    });
    progress.done();
    return uploadResult(report, Boolean(f.dryRun));
  };

  const common = (c: Command) =>
    awsFlags(c.requiredOption('--kms-key <id|arn|alias/NAME>', 'the KMS key that encrypts the secrets'))
      .option('--dry-run', 'show the plan, write nothing')
      .option('--yes', 'do not ask for confirmation (required with --json or without a terminal)');

  common(
    app
      .command(keys, {
        name: 'upload',
        description: "put a certified key folder's generation into AWS Secrets Manager and publish the public-keys document",
        examples: [
          'ima-qs keys upload --keys quantum_keys --kms-key alias/ima-qs --dry-run',
          'ima-qs keys upload --keys quantum_keys --kms-key alias/ima-qs --yes --json',
        ],
        notes: `The key set of the folder (keys generate / keys certify) becomes the current generation of
PREFIX/keyset, in one secret version whose id names the generation; the document PREFIX/public-keys
is published. Empty secrets (as the Terraform creates them) get their first version; a missing
secret is created. Idempotent: the same generation again is "unchanged". Custody holding another
generation is a conflict (exit 5): rotate with keys rotate. Reads metadata only (DescribeSecret):
no decrypt permission is needed, no key is read back.
${AWS_NOTES}`,
      })
      .requiredOption('--keys <dir>', 'the certified key folder (keyset.json)')
      .option('--rotate', 'run the next rotation phase instead (as keys rotate does)'),
  ).action(app.action(upload(false)));

  common(
    app
      .command(keys, {
        name: 'rotate',
        description: 'run the next phase of a rotation to a new generation: publish, then switch, then retire',
        examples: [
          'ima-qs keys generate --out gen2 --root ROOT --previous gen1/keyset.json && ima-qs keys rotate --keys gen2 --kms-key alias/ima-qs --yes',
          'ima-qs keys rotate --keys gen2 --kms-key alias/ima-qs --phase switch --yes --json',
          'ima-qs keys rotate --keys gen2 --kms-key alias/ima-qs --phase retire --yes --immediately',
        ],
        notes: `publish: the new generation is staged AWSPENDING in PREFIX/keyset and listed as accepted in
the document (workers decrypt both within a minute and sign under the newest; proxies accept both).
switch (≥ ${ROTATION_WAITS.publishMs / 60_000} min later): AWSCURRENT moves to it (the old one becomes AWSPREVIOUS); clients seal to it.
retire (≥ ${ROTATION_WAITS.overlapMs / 60_000} min later): AWSPREVIOUS is removed; the old generation is no longer decrypted.
A phase that is not due yet is refused (exit 5) unless --immediately (a leaked key: retire at once).
KEYS is the new generation's folder, with previous_keyset.json. Metadata only, as keys upload.
${AWS_NOTES}`,
      })
      .requiredOption('--keys <dir>', 'the folder of the new generation')
      .option('--phase <phase>', 'refuse unless this is the next phase (publish, switch, retire)')
      .option('--immediately', 'do not wait for the previous phase to reach every reader'),
  ).action(app.action(upload(true)));

  awsFlags(
    app.command(keys, {
      name: 'status',
      description: 'show the generations in custody: staging labels, the document, the rotation phase, the match with a local folder',
      examples: ['ima-qs keys status', 'ima-qs keys status --keys quantum_keys --json'],
      notes: `Reads metadata only (DescribeSecret; no decrypt permission needed): each key-set version's id
names its generation and statement digest.
${AWS_NOTES}`,
    }),
  )
    .option('--keys <dir>', 'compare with the generation of this certified key folder')
    .action(
      app.action(async (f: AwsFlags & { keys?: string }): Promise<CommandResult> => {
        const prefix = checkPrefix(f.prefix);
        const p = defaultProvider();
        const local = f.keys ? await readKeySetFile(resolve(deps.cwd, f.keys, KEYSET_FILES.current)) : undefined;
        const st = await custodyStatus(p, ports(f).store, prefix, local);
        const human =
          table(
            ['generation', 'version', 'labels', 'local'],
            st.keyset.generations.map((g) => [g.generation === undefined ? '(not ima-qs)' : String(g.generation), g.versionId.slice(0, 28), g.stages.join(', ') || '—', g.local ? 'yes' : '']),
          ) +
          '\n' +
          facts([
            ['key set', `${st.keyset.name}${st.keyset.exists ? '' : ' (absent)'}`],
            ['current / pending / previous', `${st.keyset.current ?? '—'} / ${st.keyset.pending ?? '—'} / ${st.keyset.previous ?? '—'}`],
            ['last rotation phase', st.keyset.rotation ? `${st.keyset.rotation.phase} of generation ${st.keyset.rotation.generation} at ${st.keyset.rotation.at}` : '—'],
            ['root (tag)', shortFingerprint(st.keyset.root)],
            ['document', `${st.document.name}${st.document.exists ? `, current generation ${st.document.generation ?? '?'}` : ' (absent)'}`],
            ...(st.local ? ([['local generation', `${st.local.generation}: ${st.local.state}`]] as [string, string][]) : []),
            ...st.notes.map((n): [string, string] => ['note', n]),
          ]);
        return { data: { prefix, ...st }, human };
      }),
    );

  awsFlags(
    app.command(keys, {
      name: 'fetch',
      description: 'BREAK-GLASS: read a key set back from Secrets Manager into a key folder (recovery)',
      examples: ['ima-qs keys fetch --out recovered --profile ima-break-glass', 'ima-qs keys fetch --out /secure/keys --generation 3 --prefix prod/ima --json'],
      notes: `The one command that reads private keys out of custody. Operators cannot (their policy has no
GetSecretValue, the KMS key policy no Decrypt): run it as the break-glass role (assumed with MFA,
every use in CloudTrail; infra/custody.tf). Private key files are 0600 in a 0700 folder and never
overwritten without --force. A decisions signer held in AWS KMS is not in the set: it never leaves the HSM.
${AWS_NOTES}`,
    }),
  )
    .requiredOption('--out <dir>', 'the folder to write the key files into')
    .option('--generation <n>', 'a generation other than the current one')
    .option('--force', 'replace existing key files')
    .action(
      app.action(async (f: AwsFlags & { out: string; force?: boolean; generation?: string }): Promise<CommandResult> => {
        const prefix = checkPrefix(f.prefix);
        if (f.generation !== undefined && !/^[1-9][0-9]{0,8}$/.test(f.generation)) throw new UsageError('BAD_GENERATION', '--generation is a whole number ≥ 1');
        let r;
        try {
          r = await fetchKeys(ports(f), { prefix, out: resolve(deps.cwd, f.out), force: Boolean(f.force), generation: f.generation === undefined ? undefined : Number(f.generation) });
        } catch (err) {
          if (err instanceof ImaError && err.code === 'AWS_ACCESS_DENIED') {
            throw new RemoteError(err.code, err.message, { hint: 'keys fetch is break-glass recovery: assume the break-glass role (infra output break_glass_role_arn, with MFA)', cause: err });
          }
          throw err;
        }
        const human = table(['file'], r.files.map((x) => [x])) + '\n' + facts([['generation', r.generation], ['root (the pin)', r.root], ['private keys', r.roles.join(', ')]]);
        return { data: { prefix, out: f.out, ...r }, human };
      }),
    );

  const signer = keys.command('signer').description('the online decisions signer held in AWS KMS');
  requireSubcommand(signer);
  awsFlags(
    app.command(signer, {
      name: 'create',
      description: 'create an ML-DSA-87 signing key in AWS KMS and write its public key for the root to certify',
      examples: [
        'ima-qs keys signer create --kms --out quantum_keys/kms_signer_public.key --alias alias/ima-qs-signer',
        'ima-qs keys certify --root ROOT --keys quantum_keys --kms-signer quantum_keys/kms_signer_public.key --previous quantum_keys/keyset.json --force',
      ],
      notes: `KeySpec ML_DSA_87, KeyUsage SIGN_VERIFY: the private key never leaves the HSM. The worker signs
with it (SIGNER=kms:<key arn>, kms:Sign on that key only) by sending the FIPS 204 external μ
(MessageType EXTERNAL_MU), so our context strings apply. Certify its public key with the root
(keys certify --kms-signer FILE) and publish that generation; give the ARN to the Terraform
(signer_kms_key_arn).
${AWS_NOTES}`,
    }),
    false,
  )
    .requiredOption('--kms', 'create the key in AWS KMS (the only place supported)')
    .requiredOption('--out <file>', "where to write the key's public key (SPKI PEM)")
    .option('--alias <alias/NAME>', 'an alias for the key')
    .option('--force', 'replace an existing --out file')
    .action(
      app.action(async (f: Omit<AwsFlags, 'prefix'> & { out: string; alias?: string; force?: boolean }): Promise<CommandResult> => {
        if (f.alias !== undefined && !/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(f.alias)) throw new UsageError('BAD_ALIAS', '--alias is alias/NAME (letters, digits, / _ -)');
        const p = defaultProvider();
        const kms = KmsSigningKey.fromOptions(awsOptions(f), deps.env);
        const arn = await kms.create({ description: 'ima-qs online decisions signer (ML-DSA-87); certified by the offline root', tags: { project: 'ima-qs', purpose: 'decisions-signer' } });
        if (f.alias) await kms.alias(f.alias, arn);
        const k = await kms.publicKey(p, arn);
        const out = resolve(deps.cwd, f.out);
        await writeFileAtomic(out, encodePublicKeyPem('ML-DSA-87', k.publicKey), { mode: 0o644, force: Boolean(f.force) });
        const fp = fingerprint('ML-DSA-87', k.publicKey);
        return {
          data: { keyArn: arn, ...(f.alias ? { alias: f.alias } : {}), publicKeyFile: f.out, fingerprint: fp, signer: `kms:${arn}` },
          human: facts([['key ARN', arn], ['public key', f.out], ['fingerprint', fp], ['worker setting', `SIGNER=kms:${arn}`], ['next', `ima-qs keys certify --root ROOT --keys DIR --kms-signer ${f.out} --previous DIR/keyset.json --force`]]),
        };
      }),
    );
}

function planTable(plan: CustodyPlan, back?: Map<string, string>): string {
  return (
    table(
      ['secret', 'action', 'what', ...(back ? ['checked'] : [])],
      plan.items.map((i) => [
        i.name,
        i.action + (i.kmsChange ? ' (to the named KMS key)' : '') + (i.reason && i.action !== 'unchanged' ? `\n${i.reason}` : ''),
        i.detail + (i.remoteCurrent && i.role === 'keyset' ? `\ncustody: ${i.remoteCurrent}` : ''),
        ...(back ? [back.get(i.name) ?? '—'] : []),
      ]),
    ) + (plan.steps.length ? `\nsteps: ${plan.steps.map(stepText).join('; ')}` : '')
  );
}

function uploadResult(r: UploadReport, dryRun: boolean): CommandResult {
  const data = {
    prefix: r.plan.prefix,
    kmsKey: { arn: r.kmsKey.arn, state: r.kmsKey.state },
    generation: r.generation,
    root: r.root,
    phase: r.plan.phase,
    dryRun,
    plan: r.plan.items,
    steps: r.plan.steps.map(stepText),
    ...(r.plan.notBefore ? { notBefore: r.plan.notBefore.getTime() > 8e15 ? null : r.plan.notBefore.toISOString() } : {}),
    ...(r.applied ? { applied: r.applied.map(stepText) } : {}),
    ...(r.readBack ? { readBack: r.readBack } : {}),
    ...(r.declined ? { declined: true } : {}),
  };
  if (r.plan.refused) {
    const { code, reason, hint } = r.plan.refused;
    return { data, human: planTable(r.plan), failure: new PreconditionError(code, `${reason}; nothing was written`, { ...(hint ? { hint } : {}) }) };
  }
  if (r.plan.notBefore) {
    const unknown = r.plan.notBefore.getTime() > 8e15;
    return {
      data,
      human: planTable(r.plan),
      failure: new PreconditionError('ROTATION_TOO_EARLY', unknown ? `custody does not say when the previous phase ran; nothing was written` : `the ${r.plan.phase} phase is due at ${r.plan.notBefore.toISOString()}; nothing was written`, {
        hint: 'wait until every worker, proxy and client has the previous phase, or pass --immediately (clients with an older document may then be refused)',
      }),
    };
  }
  if (dryRun) return { data, human: planTable(r.plan) + '\ndry run: nothing was written' };
  if (r.declined) return { data, human: planTable(r.plan) + '\nnothing was written' };
  const back = new Map<string, string>();
  for (const b of r.readBack ?? []) back.set(b.name, (back.has(b.name) && back.get(b.name) !== 'ok' ? back.get(b.name)! : b.ok ? 'ok' : `MISMATCH ${b.detail}`));
  const human = planTable(r.plan, back) + `\nroot fingerprint (the pin clients hold): ${r.root}`;
  const bad = r.readBack?.filter((b) => !b.ok) ?? [];
  if (bad.length) {
    return {
      data,
      human,
      failure: new RemoteError('CUSTODY_READBACK_MISMATCH', `after writing, custody does not show what was written: ${bad.map((b) => `${b.name}: ${b.detail}`).join('; ')}`, {
        hint: 'someone else may be writing these secrets; run ima-qs keys status',
      }),
    };
  }
  return { data, human };
}
