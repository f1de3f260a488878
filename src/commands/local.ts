/**
 * `ima-qs local up`: the whole service on this machine (issue 6 §1; src/local/local-stack.ts),
 * until SIGINT/SIGTERM. The start banner (endpoint, the fingerprint to pin, the anchor — labelled
 * SIMULATED when it is) is printed as soon as the stack answers; with --json it goes to stderr as
 * one JSON line and the single stdout document is the summary printed at stop.
 */
import { anchorLabel } from '../protocol/anchor-label.js';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { App } from '../cli.js';
import { UsageError } from '../errors.js';
import { defaultProvider } from '../crypto/providers.js';
import { facts, type CommandResult } from '../output.js';
import { HTTP_FRONT_DEFAULTS, type HttpFrontOptions } from '../local/http-server.js';
import { startLocalStack, type AnchorChoice, type LocalStack } from '../local/local-stack.js';
import { checkCorsOrigins } from '../local/cors.js';
import { isTcti } from '../service/config.js';
import { requireSubcommand } from './index.js';

export const DEFAULT_LOCAL_PORT = 8787;

/**
 * local up serves on loopback without caller authentication (the deployed proxy requires a JWT,
 * infra/api.tf): said once on stderr and as `callerAuthentication` in --json.
 */
export const LOCAL_CALLER_AUTHENTICATION = 'none (loopback only)';
const OPEN_NOTICE = 'ima-qs: open on loopback with no caller authentication: anyone on this machine can call it (the deployed proxy requires a JWT)\n';
export const DEFAULT_STATE_DIR = '.ima-qs-local';

export interface LocalUpFlags {
  port?: string;
  state?: string;
  tcti?: string;
  simulated?: boolean;
  workers?: string;
  verbose?: boolean;
  auditRecipient?: string;
  headersTimeout?: string;
  requestTimeout?: string;
  maxConnections?: string;
  cors?: string[];
  page?: boolean;
  json?: boolean;
}

/** A whole number from a flag (plain digits, like the SPEC §8.8 variables), within [min, max]. */
function wholeFlag(v: string | undefined, flag: string, min: number, max: number, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,8})$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError('BAD_OPTION', `${flag} ${v.slice(0, 20)} is not a whole number of ${what} from ${min} to ${max}`);
  }
  return Number(v);
}

/** The HTTP front's bounds from the flags (SPEC §9.1). */
export function httpFrontFlags(o: Pick<LocalUpFlags, 'headersTimeout' | 'requestTimeout' | 'maxConnections'>): HttpFrontOptions {
  const headers = wholeFlag(o.headersTimeout, '--headers-timeout', 1, 3600, 'seconds');
  const request = wholeFlag(o.requestTimeout, '--request-timeout', 1, 3600, 'seconds');
  const conns = wholeFlag(o.maxConnections, '--max-connections', 1, 65_535, 'connections');
  if (headers !== undefined && request !== undefined && request < headers) {
    throw new UsageError('BAD_OPTION', '--request-timeout must be at least --headers-timeout (the whole request includes its head)');
  }
  return {
    ...(headers !== undefined ? { headersTimeoutMs: headers * 1000 } : {}),
    ...(request !== undefined ? { requestTimeoutMs: request * 1000 } : {}),
    ...(conns !== undefined ? { maxConnections: conns } : {}),
  };
}

export function parsePort(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d{1,5}$/.test(v) || n > 65535) throw new UsageError('BAD_PORT', `--port ${v.slice(0, 20)} is not a port number (0 to 65535; 0 picks a free one)`);
  return n;
}

export function anchorChoice(o: { tcti?: string; simulated?: boolean }, env: Record<string, string | undefined>): AnchorChoice {
  if (o.tcti && o.simulated) throw new UsageError('CONFLICTING_OPTIONS', '--tcti and --simulated exclude each other', { hint: 'a TPM (--tcti) or the simulated bank (--simulated), not both' });
  if (o.simulated) return { kind: 'simulated' };
  // the same rule as the worker's TPM2TOOLS_TCTI (SPEC §8.8): a bad value is refused, never guessed at
  if (o.tcti !== undefined && !isTcti(o.tcti)) throw new UsageError('BAD_TCTI', '--tcti is not a TCTI (like swtpm:path=/tmp/tpm.sock or device:/dev/tpmrm0)');
  const fromEnv = o.tcti === undefined && env.TPM2TOOLS_TCTI ? env.TPM2TOOLS_TCTI : undefined;
  if (fromEnv !== undefined && !isTcti(fromEnv)) {
    throw new UsageError('CONFIG_INVALID', 'TPM2TOOLS_TCTI is not a TCTI (like swtpm:path=/tmp/tpm.sock or device:/dev/tpmrm0)', { details: { variables: ['TPM2TOOLS_TCTI'] } });
  }
  const tcti = o.tcti ?? fromEnv;
  if (tcti) return { kind: 'tpm', tcti };
  // DESIGN.md: never fall back to a software anchor silently
  throw new UsageError('NO_PCR_ANCHOR', 'local up needs a pcr anchor: --tcti for a TPM, or --simulated', {
    hint: 'ima-qs local up --simulated   (a software bank in STATE/tpm-sim.json, labelled SIMULATED)   or   --tcti swtpm:path=/tmp/tpm.sock',
  });
}

export function startBanner(s: LocalStack): [string, string | number][] {
  return [
    ['endpoint', s.endpoint],
    ['pin (root fingerprint)', s.fingerprint],
    ['signer (certified by the root)', s.signerFingerprint],
    ['state', s.stateDir],
    ['keys', `${s.keysCreated ? 'generated now (STATE/root, STATE/keys)' : 'loaded'}; generations ${s.ring.sets.map((x) => `${x.generation} (${x.stage})`).join(', ')}`],
    [
      'audit recipient',
      s.auditRecipient.auditor ? `${s.auditRecipient.fingerprint} (auditor key ${s.auditRecipient.source})` : `${s.auditRecipient.fingerprint} (the service key, ${s.auditRecipient.source})`,
    ],
    ['audit anchor', s.anchor.simulated ? `SIMULATED pcr bank (${s.anchor.stateFile}): ${anchorLabel({ simulated: true })}` : `${anchorLabel({ simulated: false })}: tpm2-tools (${s.anchor.tcti}), pcr ${s.anchor.pcr}`],
    ...(s.checkpoints ? ([['audit checkpoints', `STATE/checkpoints, signed by the audit key ${s.checkpoints.signer.slice(0, 16)}… (SPEC §8.11)`]] as [string, string][]) : []),
    ['pipelines', s.workers === 0 ? `1 on the main thread (${s.chains.join(', ')}; no council budget)` : `${s.workers} thread(s), audit chains ${s.chains.join(', ')}`],
    ['caller authentication', LOCAL_CALLER_AUTHENTICATION],
    ['browser page', s.pageUrl ?? 'not served (--no-page)'],
    ['cors origins', (s.cors ?? []).length > 0 ? s.cors.join(', ') : 'none (only the page served here)'],
  ];
}

export function registerLocal(program: Command, app: App): void {
  const local = program.command('local').description('run the whole black-box service on this machine');
  requireSubcommand(local);
  app
    .command(local, {
      name: 'up',
      description: 'start the proxy, worker, tables and audit anchor on loopback; runs until Ctrl-C',
      examples: [
        'ima-qs local up --simulated',
        'ima-qs local up --port 8787 --state ./blackbox --tcti swtpm:path=/tmp/tpm/tpm.sock',
        'ima-qs local up --simulated --audit-recipient ./auditor_keys',
        'ima-qs local up --simulated --workers 2',
        'ima-qs local up --simulated --headers-timeout 5 --request-timeout 15 --max-connections 64',
        'ima-qs local up --simulated --cors http://127.0.0.1:8080 --cors https://app.example.com',
        'ima-qs request analyze app.py --endpoint http://127.0.0.1:8787 --pin <fingerprint printed by local up>',
      ],
      notes: `The same proxy handler as the Lambda, the same worker pipeline as the Fargate task, DynamoDB
tables on dynalite (LevelDB under STATE/db), a root in STATE/root (its fingerprint is the pin) and
key sets in STATE/keys (generated on first start, the layout of 'keys generate', certified by the
root), rotated with 'ima-qs local rotate'. State survives a restart: same root, same pin, earlier
decisions.
The worker runs --workers pipelines (default: one per core), each on its own thread with its own
audit chain local/0, local/1, … sharing the PCR under one lock; each council runs with a time
budget (COUNCIL_TIMEOUT). Metrics (CloudWatch EMF) go to STATE/service.log.
The audit chain is anchored in a TPM (--tcti) or in a simulated bank (--simulated), which every
output labels as such. It listens on 127.0.0.1 only and authenticates no caller (the deployed
proxy requires a JWT): it says so on stderr and as callerAuthentication in --json. The audit payloads are sealed to STATE/keys unless --audit-recipient
names a separate auditor key (then only \`audit tail --decrypt --identity AUDITOR_DIR\` reads
them). The HTTP front answers oversize bodies 413, slow clients 408 and connections over the cap
429 (bounds: SPEC §9.1). The browser page is served at / (open the "browser page" link it prints:
the pin is in its #fragment, which no server sees); a page on another origin may call the service
only when --cors names that origin (preflight answered; any other Origin is refused 403). Every
answer is logged to STATE/service.log (method and route, status, ms). Layout of STATE: SPEC §9.`,
    })
    .option('--port <port>', `loopback port (0 picks a free one)`, String(DEFAULT_LOCAL_PORT))
    .option('--state <dir>', 'state directory', DEFAULT_STATE_DIR)
    .option('--tcti <tcti>', 'anchor in a TPM through tpm2-tools (e.g. swtpm:path=/tmp/tpm.sock); default TPM2TOOLS_TCTI')
    .option('--simulated', 'anchor in the simulated pcr bank STATE/tpm-sim.json (no hardware anchor)')
    .option('--workers <n>', 'pipelines, each on its own thread with its own audit chain local/<i> (default: one per core; 0: one on the main thread, for debugging)')
    .option('--audit-recipient <dir|pubfile>', 'seal the audit payloads to this auditor key (key folder or composite public key file) instead of STATE/keys')
    .option('--headers-timeout <s>', `seconds a client has to send a request's head (default ${HTTP_FRONT_DEFAULTS.headersTimeoutMs / 1000})`)
    .option('--request-timeout <s>', `seconds a client has to send a whole request (default ${HTTP_FRONT_DEFAULTS.requestTimeoutMs / 1000})`)
    .option('--max-connections <n>', `open connections served; more get 429 (default ${HTTP_FRONT_DEFAULTS.maxConnections})`)
    .option('--cors <origin>', 'a browser origin allowed to call the service (https://host[:port] or http://127.0.0.1[:port]); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-page', 'do not serve the browser page at /')
    .option('--verbose', 'also print the service log lines (JSON) on stderr')
    // --json may be parsed by the program (global option): read it with the globals
    .action(app.action(async (o: LocalUpFlags, cmd: Command) => localUp(app, { ...o, json: Boolean(cmd.optsWithGlobals().json) })));

  app
    .command(local, {
      name: 'rotate',
      description: "run the next phase of a key rotation of a local stack's state: publish, switch or retire",
      examples: ['ima-qs local rotate --state .ima-qs-local', 'ima-qs local rotate --state .ima-qs-local --phase switch --json'],
      notes: `publish: a new generation (new ML-KEM-768 and P-384 keys, the same signing key, certified by
STATE/root) in STATE/keys-gN, staged as pending: the running stack decrypts both within 2 s and
lists it as accepted. switch: clients seal to it (the document's current). retire: the old one is
no longer decrypted. The stack may be running (it re-reads STATE/stages.json) or stopped.`,
    })
    .option('--state <dir>', 'state directory', DEFAULT_STATE_DIR)
    .option('--phase <phase>', 'refuse unless this is the next phase (publish, switch, retire)')
    .action(
      app.action(async (o: { state?: string; phase?: string }) => {
        if (o.phase !== undefined && !['publish', 'switch', 'retire'].includes(o.phase)) throw new UsageError('BAD_PHASE', '--phase is publish, switch or retire');
        const { rotateLocal } = await import('../local/local-keys.js');
        const r = await rotateLocal(defaultProvider(), resolve(app.deps.cwd, o.state ?? DEFAULT_STATE_DIR), { expect: o.phase as 'publish' | undefined, now: app.deps.now?.() ?? new Date() });
        return { data: { phase: r.phase, generation: r.generation, stages: r.stages }, human: facts([['phase', r.phase], ['generation', r.generation], ['stages', JSON.stringify(r.stages)]]) };
      }),
    );
}

async function localUp(app: App, o: LocalUpFlags): Promise<CommandResult> {
  const deps = app.deps;
  const anchor = anchorChoice(o, deps.env);
  const port = parsePort(o.port, DEFAULT_LOCAL_PORT);
  const http = httpFrontFlags(o);
  const workers = wholeFlag(o.workers, '--workers', 0, 256, 'pipelines');
  const cors = checkCorsOrigins(o.cors ?? []);
  if (!deps.stopSignal) throw new UsageError('NOT_INTERACTIVE', 'local up runs until stopped, and this runner cannot stop it');
  const signal = deps.stopSignal();
  const stack = await startLocalStack({
    stateDir: resolve(deps.cwd, o.state ?? DEFAULT_STATE_DIR),
    anchor,
    port,
    workers,
    env: deps.env,
    logSink: o.verbose ? deps.stderr : undefined,
    auditRecipient: o.auditRecipient === undefined ? undefined : resolve(deps.cwd, o.auditRecipient),
    http,
    cors,
    page: o.page !== false,
  });
  const started = Date.now();
  const banner = startBanner(stack);
  deps.stderr.write(OPEN_NOTICE);
  if (o.json) {
    deps.stderr.write(
      JSON.stringify({
        event: 'ready',
        endpoint: stack.endpoint,
        fingerprint: stack.fingerprint,
        signer: stack.signerFingerprint,
        state: stack.stateDir,
        anchor: stack.anchor,
        auditRecipient: stack.auditRecipient,
        callerAuthentication: LOCAL_CALLER_AUTHENTICATION,
        page: stack.pageUrl ?? null,
        cors: stack.cors,
      }) + '\n',
    );
  } else {
    deps.stdout.write(facts(banner) + '\n');
    deps.stderr.write(`ima-qs: serving on ${stack.endpoint}; Ctrl-C stops\n`);
  }
  if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  deps.stderr.write('ima-qs: stopping (finishing queued requests)\n');
  await stack.stop();
  const stats = { ...stack.consumer.stats };
  return {
    data: {
      endpoint: stack.endpoint,
      fingerprint: stack.fingerprint,
      state: stack.stateDir,
      anchor: stack.anchor,
      auditRecipient: stack.auditRecipient,
      callerAuthentication: LOCAL_CALLER_AUTHENTICATION,
      keysCreated: stack.keysCreated,
      page: stack.pageUrl ?? null,
      cors: stack.cors,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      http: stack.http,
      worker: stats,
    },
    human: `stopped after ${Math.round((Date.now() - started) / 1000)} s: ${stack.http.total} http requests, ${stats.decided} decisions, ${stats.rejected} refused`,
  };
}
