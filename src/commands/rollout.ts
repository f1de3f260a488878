/**
 * `ima-qs rollout day N | status | rollback`: the seed's 5-day checklist as a guided, checked
 * rollout (src/rollout/checklist.ts). Automated items are checked against the account through the
 * RolloutProbe port; manual items are confirmed on a TTY or with --yes / --confirm ITEM; progress
 * persists in a state file. A failed check exits 5 (ROLLOUT_CHECK_FAILED naming the items).
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import type { AwsOptions } from '../aws/config.js';
import { defaultProvider } from '../crypto/providers.js';
import { join, resolve } from 'node:path';
import { InputError, PreconditionError, RemoteError, UsageError } from '../errors.js';
import { keysetVersionId } from '../aws/keyset-secret.js';
import { KEYSET_FILES, loadRootPublicKey, readKeySetFile } from '../keys/key-set-files.js';
import { verifyKeySet } from '../protocol/keyset.js';
import { type CommandResult, Progress, table } from '../output.js';
import { type Capabilities, type ChecklistItem, DAY_TITLES, LAST_DAY, buildChecklist, itemsOfDay } from '../rollout/checklist.js';
import type { CheckContext, KeySetFacts, LoadBounds } from '../rollout/checks.js';
import { AwsRolloutProbe } from '../rollout/checks-aws.js';
import { DEFAULT_LOAD_BOUNDS as LOAD, loadRunner } from '../rollout/load-runner.js';
import type { RolloutProbe } from '../rollout/probe.js';
import { type Resources, resolveResources } from '../rollout/resources.js';
import { executeRollback, planRollback } from '../rollout/rollback.js';
import { type ItemRecord, type RolloutState, isDone, loadState, saveState, statePath } from '../rollout/state.js';
import { rolloutVerifiers } from '../rollout/verifiers.js';
import { requireSubcommand } from './index.js';
import { resolveToken, TOKEN_HELP } from './request.js';

/** What this build can do (see checklist.ts). */
const CAPABILITIES: Capabilities = { storedSignatures: true };

interface CommonFlags {
  json?: boolean;
  state?: string;
  tfOutputs?: string;
  config?: string;
  resource?: string[];
  namePrefix?: string;
  secretPrefix?: string;
  profile?: string;
  region?: string;
  endpointUrl?: string;
}

interface DayFlags extends CommonFlags {
  yes?: boolean;
  confirm?: string[];
  keys?: string;
  pin?: string;
  token?: string;
  logHours?: string;
  timeout?: string;
  loadUsers?: string;
  loadDuration?: string;
  loadThink?: string;
  loadMaxRequests?: string;
  loadP99?: string;
  loadTimeout?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function resourceFlags(c: Command): Command {
  return c
    .option('--tf-outputs <file>', 'names from `terraform output -json > outputs.json` of infra/')
    .option('--config <file>', 'names from a JSON object of KEY: value (keys: see --resource)')
    .option('--resource <key=value>', 'override one name, e.g. table.decisions=prod-decisions (repeatable)', collect)
    .option('--name-prefix <p>', 'Terraform name_prefix the default names derive from', 'ima')
    .option('--secret-prefix <p>', 'Terraform secret_prefix of the key secrets', 'ima/quantum')
    .option('--profile <name>', 'AWS profile (default: AWS_PROFILE)')
    .option('--region <region>', 'AWS region (default: the Terraform output, AWS_REGION or the profile region)')
    .option('--endpoint-url <url>', 'AWS endpoint URL (default: AWS_ENDPOINT_URL[_SERVICE])');
}

const NOTES = `Names: defaults are the seed's (alias/ima-quantum, ima-quantum-decisions, ...); --tf-outputs,
then --config, then --resource override them. Keys for --config / --resource: region, kms.alias,
secret.keyset, secret.public-keys, table.audit, table.decisions,
table.requests, queue, dlq, lambda.function, lambda.alias, api.url, ecs.cluster, ecs.service,
log.groups, alarm.names (comma-separated).
Exit codes: 0 ok (manual items may still be pending, checks may warn) · 2 a manual item needs --yes/--confirm ·
4 AWS failed (credentials, access, network) · 5 an automated check failed.`;

async function resources(f: CommonFlags): Promise<Resources> {
  return resolveResources({
    namePrefix: f.namePrefix,
    secretPrefix: f.secretPrefix,
    tfOutputs: f.tfOutputs,
    config: f.config,
    resource: f.resource,
  });
}

function awsOptions(f: CommonFlags, res: Resources): AwsOptions {
  return { profile: f.profile, region: f.region ?? res.region, endpointUrl: f.endpointUrl };
}

function parseDay(s: string): number {
  if (!/^[0-9]$/.test(s) || Number(s) > LAST_DAY) {
    throw new UsageError('BAD_DAY', `day "${s.slice(0, 10)}" is not a rollout day`, { hint: `days are 0 (pre-deployment) to ${LAST_DAY} (go-live)` });
  }
  return Number(s);
}

function parsePin(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const hex = s.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new UsageError('BAD_PIN', `--pin is ${hex.length} characters; the root fingerprint is 64 hex digits (SHA3-256)`, {
      hint: 'keys generate prints it; or: ima-qs keys show ROOT_DIR',
    });
  }
  return hex;
}

function positive(s: string | undefined, def: number, flag: string, max: number, min = 1): number {
  if (s === undefined) return def;
  if (!/^[0-9]{1,7}$/.test(s) || Number(s) < min || Number(s) > max) throw new UsageError('BAD_NUMBER', `${flag} must be a whole number from ${min} to ${max}`);
  return Number(s);
}

/** d4.load-test's bounds (defaults and why: src/rollout/load-runner.ts). */
function loadBounds(f: DayFlags): LoadBounds {
  return {
    users: positive(f.loadUsers, LOAD.users, '--load-users', 1000),
    durationS: positive(f.loadDuration, LOAD.durationS, '--load-duration', 600),
    thinkMs: positive(f.loadThink, LOAD.thinkMs, '--load-think', 60_000, 0),
    maxRequests: positive(f.loadMaxRequests, LOAD.maxRequests, '--load-max-requests', 1_000_000),
    p99Ms: positive(f.loadP99, LOAD.p99Ms, '--load-p99', 600_000),
    requestTimeoutMs: positive(f.loadTimeout, LOAD.requestTimeoutMs / 1000, '--load-timeout', 600) * 1000,
  };
}

export interface RolloutDeps {
  /** the probe for these AWS options (tests may point it elsewhere; default: the SDK) */
  probe?: (opts: AwsOptions) => RolloutProbe;
}

export function registerRollout(program: Command, app: App, rdeps: RolloutDeps = {}): void {
  const { deps } = app;
  const makeProbe = rdeps.probe ?? ((opts: AwsOptions) => new AwsRolloutProbe(opts, deps.env));
  const now = () => deps.now?.() ?? new Date();
  const group = program.command('rollout').description('the guided 5-day rollout: checked against the AWS account, progress kept in a state file');
  requireSubcommand(group);

  const day = app.command(group, {
    name: 'day',
    description: "check one day's items: automated ones against the account, manual ones by confirmation",
    examples: [
      'ima-qs rollout day 0',
      'ima-qs rollout day 1 --keys quantum_keys --tf-outputs outputs.json',
      'ima-qs rollout day 2 --pin 3f2a…(64 hex) --confirm d2.lambda-bundle',
      'ima-qs rollout day 4 --yes --json',
    ],
    notes: NOTES,
  });
  resourceFlags(day)
    .argument('<N>', `day: 0 (pre-deployment) … ${LAST_DAY} (go-live)`)
    .option('--yes', "confirm every manual item of the day (required with --json or without a terminal)")
    .option('--confirm <item>', 'confirm one manual item, e.g. d1.iam-policies (repeatable)', collect)
    .option('--state <file>', 'progress file (default .ima-qs/rollout.json)')
    .option('--keys <dir>', 'the public key files to compare the deployed keys with')
    .option('--pin <fingerprint>', 'the pinned root fingerprint (64 hex; default: the root of --keys)')
    .option('--token <jwt>', `${TOKEN_HELP} (d2.api-keys, d4.load-test)`)
    .option('--log-hours <n>', 'how far back the log scan reads (hours, default 24)')
    .option('--timeout <ms>', 'timeout of the GET /api/keys request (default 10000)')
    .option('--load-users <n>', 'd4.load-test: concurrent users (default 100, the seed\'s; up to 1000)')
    .option('--load-duration <s>', 'd4.load-test: seconds to start requests for (default 60, up to 600)')
    .option('--load-think <ms>', "d4.load-test: each user's pause between requests (default 1000, like locust's wait_time)")
    .option('--load-max-requests <n>', 'd4.load-test: hard cap on requests sent (default 10000)')
    .option('--load-p99 <ms>', "d4.load-test: the service p99 budget (default 550, the seed's acceptance test)")
    .option('--load-timeout <s>', "d4.load-test: each request's one deadline, keys to verified answer (default 30; a stalled request fails then)")
    .action(app.action(async (n: string, f: DayFlags) => runDay(parseDay(n), f)));

  async function runDay(dayN: number, f: DayFlags): Promise<CommandResult> {
    const list = buildChecklist(CAPABILITIES);
    const items = itemsOfDay(list, dayN);
    const path = statePath(deps.cwd, f.state);
    const state = await loadState(path);
    const manualIds = new Set(list.filter((i) => i.kind === 'manual').map((i) => i.id));
    for (const id of f.confirm ?? []) {
      if (!manualIds.has(id)) {
        throw new UsageError('UNKNOWN_ITEM', `--confirm ${id.slice(0, 60)}: not a manual checklist item`, {
          hint: `manual items of day ${dayN}: ${items.filter((i) => i.kind === 'manual').map((i) => i.id).join(', ') || 'none'}`,
        });
      }
    }
    const confirmFlag = new Set(f.confirm ?? []);
    const toAsk = items.filter((i) => i.kind === 'manual' && !isDone(state.items[i.id]) && !f.yes && !confirmFlag.has(i.id));
    // Precondition: nobody to ask → fail before the slow checks, naming the flags (STYLE.md §6).
    if (toAsk.length && (f.json || !deps.interactive || !deps.confirm)) {
      await app.confirm(`confirm ${toAsk.map((i) => i.id).join(', ')}`, { json: f.json, flag: `--yes, or --confirm ${toAsk[0].id}` });
    }

    const at = now().toISOString();
    const autos = items.filter((i) => i.kind === 'auto');
    const bounds = autos.some((i) => i.id === 'd4.load-test') ? loadBounds(f) : undefined; // usage errors first
    let account: string | undefined;
    if (autos.length) {
      const res = await resources(f);
      const local = f.keys ? await localFingerprints(f.keys) : undefined;
      const pin = parsePin(f.pin) ?? local?.root;
      const probe = makeProbe(awsOptions(f, res));
      account = (await probe.callerIdentity()).account; // fail fast (exit 4) on credentials
      const ctx: CheckContext = {
        probe,
        res,
        local: local && { generation: local.generation, composite: local.composite, decisions: local.decisions, root: local.root, versionId: local.versionId },
        pin,
        token: resolveToken(f.token, deps.env),
        // the local folder's signer is trusted only when its root is the pin
        verifiers: rolloutVerifiers(defaultProvider(), now(), local && local.root === pin ? [local.signerKey] : []),
        now: now(),
        httpTimeoutMs: positive(f.timeout, 10_000, '--timeout', 120_000),
        logWindowHours: positive(f.logHours, 24, '--log-hours', 24 * 90),
        logEventCap: 20_000,
        sampleSize: 20,
      };
      const progress = new Progress(deps.stderr, `day ${dayN}`, autos.length);
      let k = 0;
      if (bounds) {
        const run = loadRunner(defaultProvider(), (p, b) => progress.update(k, `d4.load-test ${Math.floor(p.elapsedMs / 1000)}/${b.durationS} s, ${p.ok} ok, ${p.errors} errors`));
        ctx.load = { bounds, run };
      }
      try {
        for (const item of autos) {
          progress.update(k, item.id);
          const out = await item.check!(ctx);
          state.items[item.id] = { status: out.status, at, detail: out.detail, account };
          k++;
        }
      } finally {
        progress.done();
        await saveState(path, state, now()); // what was checked before a remote failure is kept
      }
    }

    for (const item of items.filter((i) => i.kind === 'manual')) {
      if (isDone(state.items[item.id])) continue;
      let by: string | undefined;
      if (f.yes) by = '--yes';
      else if (confirmFlag.has(item.id)) by = '--confirm';
      else if (await app.confirm(`${item.id}: ${item.title}?`, { json: f.json })) by = 'prompt';
      state.items[item.id] = by ? { status: 'confirmed', at, by } : { status: 'pending', at, detail: 'not confirmed' };
    }
    await saveState(path, state, now());
    return dayResult(dayN, items, state, path, account);
  }

  /** The local folder's generation from its keyset.json, verified under its root's public key. */
  async function localFingerprints(dir: string): Promise<KeySetFacts & { signerKey: Uint8Array }> {
    const p = defaultProvider();
    const path = resolve(deps.cwd, dir);
    const keyset = await readKeySetFile(join(path, KEYSET_FILES.current));
    const root = await loadRootPublicKey(p, path);
    const v = verifyKeySet(p, keyset, root);
    if (!v.ok) throw new InputError('KEYSET_INVALID', `${dir}/${KEYSET_FILES.current} does not verify under its root: ${v.reason}`);
    const s = keyset.statement;
    return { generation: s.generation, composite: s.kem.fingerprint, decisions: s.signers.decisions.fingerprint, root: s.root, versionId: keysetVersionId(p, keyset), signerKey: v.keys.decisions };
  }

  const status = app.command(group, {
    name: 'status',
    description: "every day's progress from the state file (nothing is checked)",
    examples: ['ima-qs rollout status', 'ima-qs rollout status --state prod-rollout.json --json'],
  });
  status.option('--state <file>', 'progress file (default .ima-qs/rollout.json)').action(
    app.action(async (f: { state?: string }) => {
      const path = statePath(deps.cwd, f.state);
      const state = await loadState(path);
      return statusResult(buildChecklist(CAPABILITIES), state, path);
    }),
  );

  const rollback = app.command(group, {
    name: 'rollback',
    description: 'print (and with --execute run) the rollback: proxy alias to the previous version, worker scaled to 0',
    examples: ['ima-qs rollout rollback', 'ima-qs rollout rollback --execute', 'ima-qs rollout rollback --execute --yes --json'],
    notes: NOTES,
  });
  resourceFlags(rollback)
    .option('--execute', 'run the plan (after confirmation)')
    .option('--yes', 'do not ask for confirmation (required with --json or without a terminal)')
    .action(
      app.action(async (f: CommonFlags & { execute?: boolean; yes?: boolean }) => {
        const res = await resources(f);
        const probe = makeProbe(awsOptions(f, res));
        const plan = await planRollback(probe, res);
        const runnable = plan.filter((s) => s.kind === 'run');
        if (!f.execute || runnable.length === 0) {
          const blocked = plan.filter((s) => s.kind === 'blocked');
          const human = table(['step', 'plan'], plan.map((s) => [s.id, `${s.kind === 'run' ? '' : `[${s.kind}] `}${s.action}`])) +
            (f.execute ? '\nnothing to run' : '\nthis is the plan; run it with --execute');
          return {
            data: { executed: false, steps: plan },
            human,
            failure: f.execute && blocked.length
              ? new PreconditionError('ROLLBACK_BLOCKED', `rollback cannot run: ${blocked.map((s) => s.id).join(', ')}`, { hint: blocked[0].action })
              : undefined,
          };
        }
        if (!(await app.confirm(`roll back: ${runnable.map((s) => s.action).join('; ')}?`, { yes: f.yes, json: f.json }))) {
          return { data: { executed: false, steps: plan }, human: 'rollback not confirmed: nothing changed' };
        }
        const done = await executeRollback(probe, res, plan);
        const failed = done.filter((s) => s.result === 'failed');
        const blocked = done.filter((s) => s.kind === 'blocked');
        const human = table(['step', 'result', 'action'], done.map((s) => [s.id, s.result ?? s.kind, s.error ? `${s.action}: ${s.error.message}` : s.action]));
        return {
          data: { executed: true, steps: done },
          human,
          failure: failed.length
            ? new RemoteError('ROLLBACK_STEP_FAILED', `rollback step failed: ${failed.map((s) => s.id).join(', ')}`, { hint: failed[0].error!.message })
            : blocked.length
              ? new PreconditionError('ROLLBACK_INCOMPLETE', `rollback incomplete: ${blocked.map((s) => s.id).join(', ')} could not run`, { hint: blocked[0].action })
              : undefined,
        };
      }),
    );
}

function row(item: ChecklistItem, r: ItemRecord | undefined) {
  const status = r?.status ?? 'pending';
  const detail =
    status === 'confirmed' ? `confirmed (${r?.by ?? 'prompt'}) ${r?.at ?? ''}`.trim()
    : r?.detail && status !== 'pending' ? r.detail
    : item.kind === 'manual' && status === 'pending' ? `to do: ${item.hint}`
    : (r?.detail ?? '');
  return { id: item.id, title: item.title, kind: item.kind, status, detail, ...(r?.by ? { by: r.by } : {}), ...(r?.at ? { at: r.at } : {}), hint: item.hint };
}

function dayResult(dayN: number, items: ChecklistItem[], state: RolloutState, path: string, account?: string): CommandResult {
  const rows = items.map((i) => row(i, state.items[i.id]));
  const failed = rows.filter((r) => r.status === 'fail');
  const pending = rows.filter((r) => r.status === 'pending');
  // a warning is neither done nor failed: the day stays incomplete, the exit code stays 0
  const warned = rows.filter((r) => r.status === 'warn');
  const done = rows.filter((r) => r.status === 'pass' || r.status === 'confirmed').length;
  const summary = `day ${dayN} (${DAY_TITLES[dayN]}): ${done}/${rows.length} done, ${failed.length} failed, ${pending.length} pending` +
    (warned.length ? `, ${warned.length} warning(s): ${warned.map((r) => r.id).join(', ')}` : '');
  const human =
    table(['item', 'kind', 'status', 'detail'], rows.map((r) => [`${r.id}\n${r.title}`, r.kind, r.status, wrap(r.detail)])) +
    `\n${summary}${account ? ` · account ${account}` : ''} · state ${path}`;
  const failure = failed.length
    ? new PreconditionError('ROLLOUT_CHECK_FAILED', `day ${dayN}: ${failed.map((r) => r.id).join(', ')} failed`, {
        hint: failed.map((r) => `${r.id}: ${r.hint}`).join(' | '),
        details: { items: failed.map((r) => r.id) },
      })
    : undefined;
  return {
    data: { day: dayN, title: DAY_TITLES[dayN], complete: done === rows.length, summary, account, state: path, items: rows },
    human,
    failure,
  };
}

function statusResult(list: ChecklistItem[], state: RolloutState, path: string): CommandResult {
  const days = DAY_TITLES.map((title, d) => {
    const rows = itemsOfDay(list, d).map((i) => row(i, state.items[i.id]));
    const done = rows.filter((r) => r.status === 'pass' || r.status === 'confirmed').length;
    const failed = rows.filter((r) => r.status === 'fail').map((r) => r.id);
    return { day: d, title, done, total: rows.length, complete: done === rows.length, failed, items: rows };
  });
  const next = days.find((d) => !d.complete);
  const completeDays = days.filter((d) => d.complete).length;
  const summary = `${completeDays}/${days.length} days complete` + (next ? `; next: day ${next.day} (${next.total - next.done} item(s) left)` : '; rollout complete');
  const human =
    table(['day', 'title', 'done', 'failed', 'left'], days.map((d) => [d.day, d.title, `${d.done}/${d.total}`, d.failed.join(', ') || '—', d.items.filter((r) => r.status !== 'pass' && r.status !== 'confirmed').map((r) => r.id).join(', ') || '—'])) +
    `\n${summary} · state ${path}${state.updated ? ` (updated ${state.updated})` : ''}`;
  return { data: { summary, complete: !next, state: path, updated: state.updated, days }, human };
}

/** Keeps table cells readable: long details wrap at about 60 columns. */
function wrap(s: string, width = 60): string {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join('\n');
}
