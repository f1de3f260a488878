/**
 * `ima-qs request analyze|patents FILE --endpoint URL --pin FP [-o response.json]` (issue 6 §2):
 * the BlackBoxClient from the command line — keys document checked against the pin before
 * anything is sent, sealed request, polling with a progress indicator on stderr, the opened
 * response verified (SPEC §8.5), a table of the council's votes, and response.json written so
 * `ima-qs verify response.json --pin FP` can check it again later without any private key.
 */
import type { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { anchorLabel, responseView, type AnyResponse } from '../protocol/response-view.js';
import type { App } from '../cli.js';
import { BlackBoxClient, type ClientResult } from '../client/black-box-client.js';
import { normalizePin } from '../protocol/response-verify.js';
import { forgetGeneration, highestSeen, recordGeneration } from './generation-state.js';
import type { CliDeps } from '../context.js';
import { defaultProvider } from '../crypto/providers.js';
import { InputError, UsageError } from '../errors.js';
import { readInputFile, writeFileAtomic } from '../io/files.js';
import { facts, Progress, table, type CommandResult } from '../output.js';
import { MAX_NAME_CHARS, type Route } from '../protocol/request.js';
import { requireSubcommand } from './index.js';

/** The largest FILE a request carries: its text, JSON-escaped and sealed, must stay under 128 KiB. */
export const MAX_REQUEST_FILE_BYTES = 96 * 1024;

export interface RequestFlags {
  resetGeneration?: boolean;
  endpoint?: string;
  pin?: string;
  token?: string;
  output?: string;
  timeout?: string;
  force?: boolean;
  json?: boolean;
}

export async function readRequestFile(path: string, cwd: string): Promise<{ name: string; content: string }> {
  const bytes = await readInputFile(resolve(cwd, path), MAX_REQUEST_FILE_BYTES, 'request file');
  let content: string;
  try {
    content = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError('NOT_TEXT', `${path} is not UTF-8 text; the councils judge text (source code, a patent or contract)`);
  }
  return { name: basename(path).slice(0, MAX_NAME_CHARS) || 'request.txt', content };
}

/** The environment variable a bearer token may come from (instead of --token, which `ps` shows). */
export const TOKEN_ENV = 'IMA_QS_TOKEN';

/** --token, else IMA_QS_TOKEN, else none (an endpoint without caller authentication, e.g. local up). */
export function resolveToken(flag: string | undefined, env: Record<string, string | undefined>): string | undefined {
  const t = (flag ?? env[TOKEN_ENV])?.trim();
  return t ? t : undefined;
}

export const TOKEN_HELP = `bearer token for an endpoint that authenticates callers (the deployed proxy's JWT); default ${TOKEN_ENV}, which other users cannot see in the process list`;

export function parseTimeout(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new UsageError('BAD_TIMEOUT', `--timeout ${v.slice(0, 20)} is not a number of seconds (0 < S ≤ 3600)`);
  return n * 1000;
}

/** Rows of the human rendering of a verified response: the decision, then one row per vote. */
export function renderResponse(r: AnyResponse, extra: [string, string | number][] = []): string {
  const d = r.decision;
  const t = d.tally;
  const view = responseView(r);
  const head = facts([
    ['decision', d.outcome.toUpperCase()],
    ['council', `${d.council} (${d.model})`],
    ['tally', `approve ${t.approve} · reject ${t.reject} · abstain ${t.abstain} (quorum ${t.quorum}, ${t.needed} approvals needed of ${t.cast} cast)`],
    ['request digest', d.request_digest],
    ['signer', r.signer.fingerprint],
    ['audit anchor', anchorLabel(view.anchor)],
    ...extra,
  ]);
  const votes = table(
    ['persona', 'vote', 'confidence', 'rationale'],
    view.votes.map((v) => [v.persona, v.vote, (v.confidence / 10).toFixed(1) + ' %', v.rationale.slice(0, 60)]),
  );
  return `${head}\n${votes}`;
}

export async function sendRequest(deps: CliDeps, route: Route, file: string, o: RequestFlags): Promise<CommandResult> {
  if (!o.endpoint) throw new UsageError('MISSING_OPTION', 'request needs --endpoint URL', { hint: 'the URL local up prints, or the deployed api_endpoint (terraform output)' });
  if (!o.pin) throw new UsageError('MISSING_OPTION', 'request needs --pin FINGERPRINT', { hint: "the root fingerprint that 'ima-qs keys generate' or 'ima-qs local up' prints" });
  const pin = normalizePin(o.pin);
  if (!/^[0-9a-f]{64}$/.test(pin)) throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits');
  // the highest generation this user has seen for the root: an older keys document is a rollback (SPEC §7.3)
  if (o.resetGeneration) await forgetGeneration(deps.env, pin);
  const { generation: seen, signers: seenSigners } = await highestSeen(deps.env, pin);
  const timeoutMs = parseTimeout(o.timeout, 60_000);
  const payload = await readRequestFile(file, deps.cwd);
  const out = o.output ? resolve(deps.cwd, o.output) : undefined;
  const progress = new Progress(deps.stderr, `${route}: waiting for the council`);
  const client = new BlackBoxClient({
    endpoint: o.endpoint,
    pin,
    minGeneration: seen || undefined,
    minGenerationSigners: seenSigners,
    onGeneration: (g, signers) => void recordGeneration(deps.env, pin, g, signers, deps.now?.() ?? new Date()).catch(() => undefined),
    token: resolveToken(o.token, deps.env),
    // the CLI verifies with the fastest correct provider; the library defaults to pure JS
    provider: defaultProvider(),
    timeoutMs,
    onProgress: (p) => {
      if (p.phase === 'poll') progress.update(p.polls, `poll(s), ${(p.elapsedMs / 1000).toFixed(1)} s`);
    },
  });
  let res: ClientResult;
  try {
    res = await client.request(route, payload);
  } finally {
    progress.done();
  }
  // recorded once more, awaited: the run ends with the state file written
  if (client.generation > seen) await recordGeneration(deps.env, pin, client.generation, [...client.generationSigners], deps.now?.() ?? new Date());
  if (out) await writeFileAtomic(out, JSON.stringify(res.response, null, 2) + '\n', { force: o.force === true });
  const d = res.response.decision;
  return {
    data: {
      route,
      handle: res.handle,
      outcome: d.outcome,
      tally: d.tally,
      verified: true,
      checks: res.checks,
      generation: client.generation,
      votes: responseView(res.response).votes.map((v) => ({ persona: v.persona, vote: v.vote, confidence: v.confidence })),
      anchor: res.anchor,
      audit: res.response.audit,
      serviceMs: res.serviceMs,
      totalMs: res.totalMs,
      ...(out ? { response: out } : {}),
    },
    human:
      renderResponse(res.response, [
        ['verified', `${res.checks.filter((c) => c.status === 'ok').length} of ${res.checks.length} checks ok against the pin${res.checks.some((c) => c.status !== 'ok') ? ` (${res.checks.filter((c) => c.status !== 'ok').map((c) => `${c.name}: ${c.status}`).join(', ')})` : ''}`],
        ['latency', `${res.serviceMs} ms service, ${res.totalMs} ms total`],
        ...(out ? ([['response', out]] as [string, string][]) : []),
      ]),
  };
}

export function registerRequest(program: Command, app: App): void {
  const request = program.command('request').description('send a sealed request to the black box and verify the signed decision');
  requireSubcommand(request);
  const routes: { route: Route; what: string; example: string }[] = [
    { route: 'analyze', what: 'a source file to the code-analysis council (POST /api/analyze)', example: 'app.py' },
    { route: 'patents', what: 'a patent or contract text to the legal-documents council (POST /api/patents)', example: 'claims.txt' },
  ];
  for (const r of routes) {
    app
      .command(request, {
        name: r.route,
        description: `send ${r.what}`,
        examples: [
          `ima-qs request ${r.route} ${r.example} --endpoint http://127.0.0.1:8787 --pin 3f1c…e9 -o response.json`,
          `IMA_QS_TOKEN=$(cat token.jwt) ima-qs request ${r.route} ${r.example} --endpoint https://abc123.execute-api.eu-central-1.amazonaws.com --pin 3f1c…e9 --json`,
        ],
        notes: `The keys document is verified against --pin (the ROOT fingerprint) before anything is sent
(exit 1 on a mismatch): its current key-set statement must be signed by that root, valid now, and
of a generation no lower than the highest seen before for that root (kept in
$XDG_STATE_HOME/ima-qs/generations.json, else ~/.ima-qs/; an older one is KEYS_DOC_ROLLBACK).
The deployed proxy authenticates callers (a JWT from its identity provider, infra/api.tf): pass
it in ${TOKEN_ENV} (or --token); local up needs none.
The decision is opened with a one-time reply key and every signature, the tally and the audit
anchor are checked; the response (no private key needed to re-check it) goes to -o, which is
written only when every check passed. The whole request runs under one deadline (--timeout):
a service that stalls (headers or body, of any call) ends it with exit 4 TIMEOUT naming the
step (keys, post, poll). Redirects are not followed: a sealed request is never re-sent elsewhere.`,
      })
      .argument('<file>', 'the text to judge (UTF-8, at most 96 KiB)')
      .option('--endpoint <url>', 'the service base URL')
      .option('--pin <fingerprint>', 'the root fingerprint of the service (64 hex digits)')
      .option('--reset-generation', 'forget the highest key-set generation seen for this root first (e.g. after the service was rebuilt)')
      .option('--token <jwt>', TOKEN_HELP)
      .option('-o, --output <file>', 'write the verified response document here (e.g. response.json)')
      .option('--force', 'overwrite the -o file if it exists')
      .option('--timeout <seconds>', 'the one deadline of the whole request: keys, POST, every poll, headers and bodies (exit 4 TIMEOUT past it)', '60')
      .action(app.action(async (file: string, o: RequestFlags) => sendRequest(app.deps, r.route, file, o)));
  }
}
