/**
 * `ima-qs demo` (issue 6 §4, the README's main job): in a temporary state directory,
 * keys → the local stack → a code-analysis request and a patent request through the real client →
 * the responses verified again offline (what `ima-qs verify response.json` does) → one tampered
 * copy refused → the last audit entries with their PCR anchor → stop. Simulated PCR bank unless
 * --tcti names a TPM; the output says which.
 */
import type { Command } from 'commander';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../cli.js';
import { BlackBoxClient } from '../client/black-box-client.js';
import type { CliDeps } from '../context.js';
import { defaultProvider } from '../crypto/providers.js';
import { ImaError, VerificationError, toImaError } from '../errors.js';
import { facts, table, type CommandResult } from '../output.js';
import { parseCore } from '../audit/audit-chain.js';
import { PayloadOpener } from '../audit/audit-payload.js';
import { loadPrivateKeys, recipientPrivateKey } from '../keys/key-dir.js';
import { verifyResponse } from '../protocol/response-verify.js';
import { payloadDigest } from '../protocol/decision-v2.js';
import { responseView, type AnyResponse } from '../protocol/response-view.js';
import { coveringStatements } from '../audit/audit-batch.js';
import type { RequestPayload, Route } from '../protocol/request.js';
import { STATE_LAYOUT, startLocalStack, type LocalStack } from './local-stack.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export const DEMO_REQUESTS: { route: Route; payload: RequestPayload }[] = [
  {
    route: 'analyze',
    payload: {
      name: 'invoice.py',
      content: `"""Invoice totals for the billing service."""
from decimal import Decimal


def line_total(price: Decimal, qty: int) -> Decimal:
    """Price of one invoice line."""
    if qty < 0:
        raise ValueError("quantity must not be negative")
    return price * qty


def invoice_total(lines: list[tuple[Decimal, int]]) -> Decimal:
    """Sum of every line, rounded to cents."""
    return sum((line_total(p, q) for p, q in lines), Decimal("0")).quantize(Decimal("0.01"))
`,
    },
  },
  {
    route: 'patents',
    payload: {
      name: 'claims.txt',
      content: `What is claimed is:
1. A method for answering a sealed request, comprising: receiving a request encapsulated to a
   composite ML-KEM-768 and ECDH P-384 key; obtaining a vote from each of a plurality of personas;
   signing each vote and an aggregated decision with ML-DSA-87; and extending a platform
   configuration register with a digest of an audit entry recording the decision.
2. The method of claim 1, wherein the aggregated decision requires a quorum and a two-thirds
   supermajority of the votes cast.
3. The method of claim 1, wherein the decision is sealed to an ephemeral key of the requester.
`,
    },
  },
];

export interface DemoStep {
  step: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface DemoOptions {
  keep?: boolean;
  tcti?: string;
  /** pipelines of the local stack (default one per core) */
  workers?: number;
}

export interface DemoReport {
  state: string;
  kept: boolean;
  endpoint?: string;
  fingerprint?: string;
  anchor?: LocalStack['anchor'];
  steps: DemoStep[];
  decisions: { route: Route; handle: string; outcome: string; tally: unknown; checks: number; response: string }[];
  audit: { chain: string; seq: number; time: string; route: string; request_digest: string; pcr: number | null; after: string | null; simulated: boolean | null }[];
}

/** Runs the demo; the report says what happened at each step (ok false marks a failed step). */
export async function runServiceDemo(deps: Pick<CliDeps, 'env'>, o: DemoOptions = {}): Promise<DemoReport> {
  const state = await mkdtemp(join(tmpdir(), 'ima-qs-demo-'));
  const report: DemoReport = { state, kept: Boolean(o.keep), steps: [], decisions: [], audit: [] };
  const step = async <T>(name: string, fn: () => Promise<[T, string]>): Promise<T | undefined> => {
    const t0 = performance.now();
    try {
      const [value, detail] = await fn();
      report.steps.push({ step: name, ok: true, detail, ms: Math.round(performance.now() - t0) });
      return value;
    } catch (err) {
      const e = toImaError(err);
      report.steps.push({ step: name, ok: false, detail: `${e.code}: ${e.message}`, ms: Math.round(performance.now() - t0) });
      return undefined;
    }
  };
  let stack: LocalStack | undefined;
  try {
    stack = await step('keys + local stack', async () => {
      const s = await startLocalStack({
        stateDir: join(state, 'stack'),
        anchor: o.tcti ? { kind: 'tpm', tcti: o.tcti } : { kind: 'simulated' },
        port: 0,
        workers: o.workers,
        env: deps.env,
      });
      return [s, `${s.endpoint}, keys generated, pin ${s.fingerprint.slice(0, 16)}…, ${s.anchor.simulated ? 'SIMULATED pcr bank' : `TPM ${s.anchor.tcti}`}`];
    });
    if (!stack) return report;
    report.endpoint = stack.endpoint;
    report.fingerprint = stack.fingerprint;
    report.anchor = stack.anchor;
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: defaultProvider(), timeoutMs: 30_000 });
    const p = defaultProvider();
    let first: AnyResponse | undefined;
    const sent = new Map<string, string>();
    for (const r of DEMO_REQUESTS) {
      await step(`request ${r.route} ${r.payload.name}`, async () => {
        const res = await client.request(r.route, r.payload);
        const file = join(state, `response-${r.route}.json`);
        await writeFile(file, JSON.stringify(res.response, null, 2) + '\n');
        first ??= res.response;
        sent.set(res.handle, payloadDigest(p, r.payload));
        report.decisions.push({ route: r.route, handle: res.handle, outcome: res.response.decision.outcome, tally: res.response.decision.tally, checks: res.checks.length, response: file });
        return [null, `${res.response.decision.outcome} (${res.response.decision.tally.approve}/${res.response.decision.tally.reject}/${res.response.decision.tally.abstain}), ${res.checks.filter((c) => c.status === 'ok').length} checks ok, anchor ${res.anchor}, ${res.serviceMs} ms`];
      });
    }
    for (const d of [...report.decisions]) {
      await step(`verify response-${d.route}.json offline`, async () => {
        const v = verifyResponse(p, parseStrictJson(await readFile(d.response, 'utf8')), stack!.fingerprint, { requestDigest: d.handle, payloadDigest: sent.get(d.handle), requireAnchor: true });
        if (!v.ok) throw new VerificationError('RESPONSE_INVALID', `fails: ${v.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`);
        return [null, v.checks.map((c) => c.name).join(', ')];
      });
    }
    if (first) {
      const tampered = structuredClone(first);
      const v0 = responseView(tampered).votes[0];
      v0.vote = v0.vote === 'approve' ? 'reject' : 'approve';
      await step('a tampered copy (one vote flipped) is refused', async () => {
        const v = verifyResponse(p, tampered, stack!.fingerprint);
        const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
        if (v.ok || !failed.some((f) => f === 'votes root' || f === 'vote signatures')) throw new ImaError('internal', 'TAMPER_NOT_DETECTED', 'the flipped vote was not detected');
        return [null, `refused: ${failed.join(', ')}`];
      });
    }
    await step('last audit entries', async () => {
      // the newest entries of every pipeline's chain (local/0, local/1, …), newest first
      const recs = (await Promise.all(stack!.chains.map((c) => stack!.audit.range(c, { descending: true, limit: 5 })))).flat();
      // the entry holds no route in clear (SPEC §8.7): open each payload with the audit recipient
      // key, here the stack's own (what `audit tail --decrypt --state STATE` does)
      const opener = new PayloadOpener(p, recipientPrivateKey(await loadPrivateKeys(p, join(stack!.stateDir, STATE_LAYOUT.keys))));
      const covering = new Map<string, Awaited<ReturnType<typeof coveringStatements>>>();
      for (const c of stack!.chains) covering.set(c, await coveringStatements(stack!.audit, c, recs.filter((r) => r.chain === c).map((r) => r.seq)));
      const rows = recs.map((rec) => ({ rec, core: parseCore(rec) })).sort((a, b) => (a.core.time < b.core.time ? 1 : -1)).slice(0, 5);
      for (const { rec, core } of rows) {
        const opened = opener.open(core, rec);
        const st = covering.get(rec.chain)?.get(rec.seq);
        report.audit.push({
          chain: rec.chain,
          seq: rec.seq,
          time: core.time,
          route: opened.status === 'opened' ? String(opened.signed.decision.route) : opened.status,
          request_digest: core.request_digest,
          pcr: st?.pcr.index ?? null,
          after: st?.pcr.after ?? null,
          simulated: st?.pcr.simulated ?? null,
        });
      }
      const anchored = rows.filter(({ rec }) => covering.get(rec.chain)?.has(rec.seq)).length;
      return [null, `${rows.length} entries of chains ${stack!.chains.join(', ')}, ${anchored} anchored in pcr ${stack!.anchor.pcr}, payloads opened with STATE/keys`];
    });
  } finally {
    if (stack) await stack.stop();
    if (!o.keep) await rm(state, { recursive: true, force: true });
  }
  return report;
}

export function renderDemo(r: DemoReport): string {
  const parts = [
    facts([
      ['state', r.kept ? r.state : `${r.state} (removed; --keep keeps it)`],
      ...(r.fingerprint ? ([['pin (ML-DSA-87)', r.fingerprint]] as [string, string][]) : []),
      ...(r.anchor ? ([['audit anchor', r.anchor.simulated ? 'SIMULATED pcr bank (software, not a TPM)' : `TPM via ${r.anchor.tcti}`]] as [string, string][]) : []),
    ]),
    table(['', 'step', 'detail', 'ms'], r.steps.map((s) => [s.ok ? 'ok' : 'FAIL', s.step, s.detail.slice(0, 90), s.ms])),
  ];
  if (r.audit.length) {
    parts.push(
      table(
        ['chain', 'seq', 'time', 'route', 'request', `pcr after${r.audit[0]?.simulated ? ' (SIMULATED)' : ''}`],
        r.audit.map((a) => [a.chain, a.seq, a.time, a.route, a.request_digest.slice(0, 16) + '…', a.after ? a.after.slice(0, 24) + '…' : 'unanchored']),
      ),
    );
  }
  return parts.join('\n');
}

export async function serviceDemoResult(deps: Pick<CliDeps, 'env'>, o: DemoOptions): Promise<CommandResult> {
  const r = await runServiceDemo(deps, o);
  const failed = r.steps.filter((s) => !s.ok);
  return {
    data: { ...r },
    human: renderDemo(r),
    failure: failed.length ? new VerificationError('DEMO_FAILED', `demo step(s) failed: ${failed.map((s) => s.step).join('; ')}`) : undefined,
  };
}

export function registerServiceDemo(program: Command, app: App): void {
  app
    .command(program, {
      name: 'demo',
      description: 'the whole black box in a temp dir: keys, local stack, two requests, verified decisions, audit entries',
      examples: ['ima-qs demo', 'ima-qs demo --keep --json', 'ima-qs demo --tcti swtpm:path=/tmp/tpm/tpm.sock'],
      notes: 'Uses the simulated pcr bank (labelled) unless --tcti names a TPM. Nothing outside the temp dir is touched.',
    })
    .option('--keep', 'keep the temp state dir (keys, tables, responses) and print its path')
    .option('--tcti <tcti>', 'anchor the audit chain in this TPM instead of the simulated bank')
    .action(app.action(async (o: { keep?: boolean; tcti?: string }) => serviceDemoResult(app.deps, { keep: o.keep, tcti: o.tcti })));
}
