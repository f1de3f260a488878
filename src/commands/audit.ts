/**
 * `ima-qs audit tail | verify | show` (issue 7; SPEC §8.7): inspect and verify the audit chains
 * the workers write, from the local stack (`--state DIR`) or DynamoDB (`--table NAME`). Thin:
 * flags → src/audit (source, verify, payload) → tables or one JSON document.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import type { CliDeps } from '../context.js';
import { defaultProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { type CommandResult, Progress } from '../output.js';
import type { AuditRecord } from '../audit/audit-entry.js';
import { type OpenedPayload, PayloadOpener } from '../audit/audit-payload.js';
import { type EntryRow, TAIL_HEAD, entryRow, followLine, showText, tailTable, verifyTable, wrongRecipient } from './audit-render.js';
import {
  type AuditSource,
  type EvidenceFlags,
  type SourceFlags,
  auditIdentity,
  defaultEvidence,
  eventLogTransitions,
  loadEvidence,
  openAuditSource,
  optionalSigners,
  selectChains,
  trustedSigners,
} from './audit-source.js';
import { checkpointTrust, withCertifiedSigners, type CheckpointFlags } from './audit-checkpoints.js';
import type { AuditStore } from '../audit/audit-store.js';
import { type TrustedSigners, entrySignatureStatus, readCore } from '../audit/audit-verify.js';
import { coveringStatements, entryBatchStatus } from '../audit/audit-batch.js';
import type { BatchStatement } from '../protocol/batch-statement.js';
import { verifyStore } from '../audit/audit-verify-run.js';
import { DEFAULT_TABLES } from '../protocol/records.js';
import { requireSubcommand } from './index.js';
import { anchorLabel } from '../protocol/anchor-label.js';
import { findEntry, newest, seconds, sleep, wholeNumber } from './audit-args.js';

interface CommonFlags extends SourceFlags {
  chain?: string;
  key?: string[];
  json?: boolean;
}

interface DecryptFlags {
  decrypt?: boolean;
  identity?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function sourceOptions(cmd: Command): Command {
  return cmd
    .option('--state <dir>', 'read the local stack’s audit store (the folder given to `local up --state`)')
    .option('--table <name>', `read the DynamoDB audit table (e.g. ${DEFAULT_TABLES.audit})`)
    .option('--profile <name>', 'with --table: AWS profile')
    .option('--region <region>', 'with --table: AWS region')
    .option('--endpoint-url <url>', 'with --table: DynamoDB endpoint (default: AWS_ENDPOINT_URL[_DYNAMODB])')
    .option('--chain <id>', 'only this chain (default: every chain)')
    .option('--key <dir|file>', 'trusted ML-DSA-87 public key (key folder or ml_dsa_87_public.key); repeat for rotated keys (default with --state: STATE/keys)', collect);
}

function decryptOptions(cmd: Command): Command {
  return cmd
    .option('--decrypt', 'open the sealed payloads (needs the audit recipient private key)')
    .option('--identity <dir|file>', 'with --decrypt: the audit recipient private key (default with --state: STATE/keys)');
}

export function registerAudit(program: Command, app: App): void {
  const audit = program.command('audit').description('inspect and verify the tamper-evident audit log: tail, verify, show');
  requireSubcommand(audit);
  registerTail(audit, app);
  registerVerify(audit, app);
  registerShow(audit, app);
}

async function withSource<T>(flags: SourceFlags, deps: CliDeps, fn: (s: AuditSource) => Promise<T>): Promise<T> {
  const source = await openAuditSource(flags, deps);
  try {
    return await fn(source);
  } finally {
    source.close();
  }
}

async function openerFor(p: CryptoProvider, o: DecryptFlags, source: AuditSource, deps: CliDeps, trusted?: TrustedSigners): Promise<PayloadOpener | undefined> {
  if (o.identity && !o.decrypt) throw new UsageError('USAGE', '--identity goes with --decrypt');
  if (!o.decrypt) return undefined;
  return new PayloadOpener(p, await auditIdentity(p, o.identity, source, deps), trusted);
}

function openRow(p: CryptoProvider, rec: AuditRecord, trusted: TrustedSigners | undefined, opener: PayloadOpener | undefined, batch?: BatchStatement): { row: EntryRow; opened?: OpenedPayload } {
  const core = readCore(rec);
  const opened = core && opener ? opener.open(core, rec) : undefined;
  return { row: entryRow(rec, core, entrySignatureStatus(p, rec, trusted), opened, batch), opened };
}

/** Rows for records, each with the stored batch statement that covers it (v3 chains). */
async function openRows(p: CryptoProvider, store: AuditStore, recs: AuditRecord[], trusted: TrustedSigners | undefined, opener: PayloadOpener | undefined) {
  const byChain = new Map<string, number[]>();
  for (const r of recs) byChain.set(r.chain, [...(byChain.get(r.chain) ?? []), r.seq]);
  const covering = new Map<string, Map<number, BatchStatement>>();
  for (const [chain, seqs] of byChain) covering.set(chain, await coveringStatements(store, chain, seqs));
  return recs.map((r) => openRow(p, r, trusted, opener, covering.get(r.chain)?.get(r.seq)));
}

/** How the --identity given (or defaulted) is named in messages. */
function identityLabel(o: DecryptFlags): string {
  return o.identity ? `--identity ${o.identity}` : 'STATE/keys (the default --identity)';
}

function registerTail(audit: Command, app: App): void {
  const cmd = decryptOptions(
    sourceOptions(
      app.command(audit, {
        name: 'tail',
        description: 'show the newest audit entries (route and decision only with --decrypt)',
        examples: [
          'ima-qs audit tail --state .ima-qs/local',
          'ima-qs audit tail --state .ima-qs/local -n 5 --decrypt',
          'ima-qs audit tail --table ima-tpm-audit-log --region eu-central-1 --key quantum_keys --json',
          'ima-qs audit tail --state .ima-qs/local --follow --interval 1',
          'ima-qs audit tail --table ima-tpm-audit-log --decrypt --identity auditor_keys --follow --for 600',
        ],
        notes: `Payloads are sealed: without --decrypt the route and decision columns say "sealed" (the
entry itself holds neither). With --decrypt, an entry sealed to another key than --identity (a
separate auditor key: AUDIT_RECIPIENT, local up --audit-recipient) fails with
AUDIT_WRONG_RECIPIENT (exit 1).
--follow keeps polling for new entries and prints one line per entry until Ctrl-C (or --for
SECONDS). --follow cannot be combined with --json (which prints exactly one document): poll
\`audit tail --json\` instead. A signature column of "unchecked" means no trusted key was given.`,
      }),
    ),
  )
    .option('-n, --lines <n>', 'how many entries', '20')
    .option('--follow', 'keep printing new entries as they are appended')
    .option('--interval <seconds>', 'with --follow: how often to poll', '2')
    .option('--for <seconds>', 'with --follow: stop after this long');
  cmd.action(
    app.action(async (o: CommonFlags & DecryptFlags & { lines: string; follow?: boolean; interval: string; for?: string }, self: Command) => {
      const n = wholeNumber(o.lines, '--lines', 10_000)!;
      const interval = seconds(o.interval, '--interval')!;
      const forSeconds = seconds(o.for, '--for');
      // --json may be taken by the program's global option: ask the command with its globals
      if (o.follow && (o.json || self.optsWithGlobals().json)) {
        throw new UsageError('USAGE', '--follow and --json exclude each other (--json prints exactly one document)', { hint: 'run `audit tail --json` repeatedly, or --follow without --json' });
      }
      if (!o.follow && o.for !== undefined) throw new UsageError('USAGE', '--for goes with --follow');
      const p = defaultProvider();
      const deps = app.deps;
      return withSource(o, deps, async (source) => {
        const trusted = await optionalSigners(p, o.key, source, deps);
        const opener = await openerFor(p, o, source, deps, trusted);
        const chains = await selectChains(source.store, o.chain);
        const opened = await openRows(p, source.store, await newest(source.store, chains, n), trusted, opener);
        const rows = opened.map((r) => r.row);
        if (!o.follow) {
          const failure = opener ? wrongRecipient(opened.map((r) => r.opened), opener.fingerprint, identityLabel(o)) : undefined;
          return { data: { source: source.label, entries: rows, decrypted: Boolean(opener) }, human: tailTable(rows), failure };
        }
        // --follow: the table so far, then one line per new entry until --for runs out (or Ctrl-C)
        deps.stdout.write((rows.length ? tailTable(rows) : TAIL_HEAD.join('  ')) + '\n');
        const last = new Map<string, number>();
        for (const c of chains) last.set(c, (await source.store.range(c, { descending: true, limit: 1 }))[0]?.seq ?? -1);
        const until = forSeconds === undefined ? Infinity : Date.now() + forSeconds * 1000;
        let streamed = 0;
        while (Date.now() < until) {
          await sleep(Math.min(interval * 1000, Math.max(0, until - Date.now())));
          const now = o.chain === undefined ? await source.store.chains() : chains;
          for (const c of now) {
            const fresh = await source.store.range(c, { from: (last.get(c) ?? -1) + 1 });
            for (const { row } of await openRows(p, source.store, fresh, trusted, opener)) {
              deps.stdout.write(followLine(row) + '\n');
              last.set(c, row.seq);
              streamed += 1;
            }
          }
        }
        return { data: {}, human: `(${streamed} new entr${streamed === 1 ? 'y' : 'ies'} while following)` };
      });
    }),
  );
}

function registerVerify(audit: Command, app: App): void {
  sourceOptions(
    app.command(audit, {
      name: 'verify',
      description: 'verify every link, signature and PCR anchor of the audit chains, and their registrations and checkpoints; exit 1 naming the first bad entry',
      examples: [
        'ima-qs audit verify --state .ima-qs/local',
        'ima-qs audit verify --table ima-tpm-audit-log --region eu-central-1 --checkpoints s3://ima-quantum-audit-checkpoints-123456789012 --pin ROOT_FINGERPRINT',
        'ima-qs audit verify --table ima-tpm-audit-log --key quantum_keys --chain worker-1/0 --tcti device:/dev/tpmrm0',
        'ima-qs audit verify --table ima-tpm-audit-log --key quantum_keys --quote quote.json --nonce 0011223344556677 --ak ak.pem --previous-quote yesterday.json --json',
        'ima-qs audit verify --state .ima-qs/local --from 1000 --to 2000',
      ],
      notes: `Problems (the "kind" in --json): missing, altered, unsigned, inserted, reordered,
unsupported (an entry format version this ima-qs does not read), unanchored, unanchored-superseded
(an unanchored tail whose requests were decided again from another chain: SPEC §8.7), pcr-mismatch,
and with checkpoints unregistered, checkpoint, forked. No private key is needed: the sealed payloads
are not opened.
Checkpoints (SPEC §8.11): with --checkpoints (s3://BUCKET[/PREFIX] or a folder; with --state,
STATE/checkpoints by default) every registered chain is verified, also one whose entries are all
gone, against its registration and its checkpoints signed by the audit key: a truncated tail, a
deleted chain, a fork and an edited or re-signed batch statement behind a checkpoint are found.
The audit key is trusted only through the root pin (--pin; default with --state: STATE/root): a
key-set statement the root signed, stored in the checkpoint store (keysets/), certifies it, and
the document's time lies in that statement's validity (SPEC §7.3). The decisions signers those
statements certify are trusted for the batch statements, beside --key. Entries after the newest
checkpoint are reported as "not yet checkpointed" with their count and age.
Without --tcti, --simulated or --quote the anchors are replayed against each other only: give the
TPM (or a quote of it) to compare the chain's end with the PCR (with --state, a stack on the
simulated bank is compared with STATE/tpm-sim.json by default). --quote needs --nonce and --ak:
the nonce and the key inside a quote file are never trusted; --previous-quote refuses a TPM that
was reset or restarted since. Chains written on different hosts are anchored in different TPMs:
compare one host's chain at a time (--chain ID). An entry being committed right now shows as
unanchored: run again. --event-log names extends of the same PCR made outside the audit chain
(\`ima-qs tpm extend --event-log\`).`,
    }),
  )
    .option('--from <n>', 'first sequence number to verify', '0')
    .option('--to <n>', 'last sequence number to verify (default: the newest)')
    .option('--checkpoints <s3-url|dir>', 'the checkpoint store (s3://BUCKET[/PREFIX] or a folder; default with --state: STATE/checkpoints)')
    .option('--pin <root-fingerprint>', 'the root pin: audit keys (and decisions signers) certified by it are trusted (default with --state: STATE/root)')
    .option('--tcti <tcti>', 'compare with this TPM’s PCR (tpm2-tools TCTI)')
    .option('--simulated <statefile>', 'compare with a SIMULATED pcr bank state file')
    .option('--quote <file>', 'compare with the values of this quote (QUOTE.json, verified first; needs --nonce and --ak)')
    .option('--nonce <hex>', 'with --quote: the fresh nonce you asked the quote for (required)')
    .option('--ak <pem>', 'with --quote: the attestation key to pin (required)')
    .option('--previous-quote <file>', 'with --quote: an earlier quote of the same TPM; a reset or restart since then is a failure')
    .option('--event-log <file>', 'tpm event log of extends made outside the audit chain (SPEC §6.2)')
    .option('--timeout <seconds>', 'per tpm2-tools call')
    .action(
      app.action(async (o: CommonFlags & EvidenceFlags & CheckpointFlags & { from: string; to?: string }) => {
        const from = wholeNumber(o.from, '--from')!;
        const to = wholeNumber(o.to, '--to');
        if (to !== undefined && to < from) throw new UsageError('USAGE', `--to ${to} is before --from ${from}`);
        const p = defaultProvider();
        const deps = app.deps;
        return withSource(o, deps, async (source) => {
          // SPEC §8.11: the checkpoints and their signers' certification by the pinned root first
          const { assessment, certified } = await checkpointTrust(p, o, source, deps);
          // batch statements: --key (default with --state: STATE/keys), and the root-certified decisions signers
          const trusted = withCertifiedSigners(certified && !o.key?.length ? await optionalSigners(p, o.key, source, deps) : await trustedSigners(p, o.key, source, deps), certified);
          let chains = await selectChains(source.store, o.chain);
          // SPEC §8.11: every registered chain, also one whose entries are all gone
          if (assessment && o.chain === undefined) chains = [...new Set([...chains, ...assessment.chains.keys()])].sort();
          if (o.chain !== undefined && !(await source.store.range(o.chain, { limit: 1 })).length && !assessment?.chains.has(o.chain)) {
            throw new InputError('AUDIT_CHAIN_NOT_FOUND', `${source.label} has no audit chain ${o.chain}`);
          }
          const extraTransitions = await eventLogTransitions(o.eventLog, deps);
          const given = Boolean(o.tcti || o.simulated || o.quote);
          const fallback = given ? {} : await defaultEvidence(source);
          const progress = new Progress(deps.stderr, 'verifying audit entries');
          const run = await verifyStore(p, source.store, {
            chains,
            from,
            to,
            trusted,
            extraTransitions,
            evidence: (wanted) => loadEvidence(given ? o : { ...o, ...fallback }, wanted, deps),
            onProgress: (done, total) => progressUpdate(progress, done, total),
            ...(assessment ? { checkpoints: assessment } : {}),
            now: deps.now?.().getTime() ?? Date.now(),
          });
          progress.done();
          const chainsJson = run.results.map(({ verdict: v, pcr, head, checkpoints }) => ({
            chain: v.chain,
            ok: !v.problem,
            entries: v.entries,
            first: v.first ?? null,
            last: v.last ?? null,
            head: head ?? null,
            batches: v.batches,
            signers: v.signers,
            pcr: v.pcr ?? null,
            anchor: v.pcr ? anchorLabel({ simulated: v.pcr.simulated, ...(assessment ? { checkpointed: Boolean(checkpoints?.latest) } : {}) }) : null,
            compared: pcr,
            checkpoints: checkpoints ?? null,
            problem: v.problem ?? null,
          }));
          const bad = run.results.find((r) => r.verdict.problem)?.verdict.problem;
          const simulated = run.results.some((r) => r.verdict.pcr?.simulated);
          let human = verifyTable(run.results, Boolean(assessment));
          if (!run.evidence) human += '\npcr: not compared with a tpm (pass --tcti, --simulated or --quote to detect a truncated tail)';
          if (!assessment) human += '\ncheckpoints: not compared (pass --checkpoints s3://… or a folder, and --pin ROOT)';
          else human += `\ncheckpoints: ${assessment.label} (${assessment.objects} objects)${assessment.ignored.length ? `, ${assessment.ignored.length} objects that are not ours ignored` : ''}`;
          if (certified) {
            human += `\nroot ${certified.pin.slice(0, 16)}…: generation${certified.generations.length === 1 ? '' : 's'} ${certified.generations.join(', ') || 'none'} certified in the store (${certified.audit.size} audit key${certified.audit.size === 1 ? '' : 's'})`;
            for (const r of certified.refused) human += `\nrefused statement ${r.where}: ${r.reason}`;
          }
          if (simulated) human += `\nSIMULATED: some chains are anchored in a simulated pcr bank: ${anchorLabel({ simulated: true })}`;
          for (const r of run.results) {
            const n = r.checkpoints?.notYetCheckpointed;
            if (n && !r.verdict.problem) human += `\n${r.verdict.chain}: ${n.count} entr${n.count === 1 ? 'y' : 'ies'} not yet checkpointed${n.ageSeconds !== undefined ? ` (the oldest ${n.ageSeconds} s old)` : ''}`;
            if (r.checkpoints && !r.verdict.problem && r.head === undefined) human += `\n${r.verdict.chain}: registered, no entries${r.checkpoints.latest ? '' : ' and no checkpoint'}`;
          }
          for (const r of run.results) if (r.verdict.problem) human += `\n${r.verdict.chain} seq ${r.verdict.problem.seq}: ${r.verdict.problem.kind}: ${r.verdict.problem.detail}`;
          return {
            data: { source: source.label, from, to: to ?? null, chains: chainsJson, evidence: run.evidence ?? null, checkpointStore: assessment ? { location: assessment.label, objects: assessment.objects, ignored: assessment.ignored } : null, root: certified ? { pin: certified.pin, generations: certified.generations, auditKeys: [...certified.audit.keys()], refused: certified.refused } : null, simulated, problem: bad ?? null },
            human,
            failure: bad
              ? new VerificationError('AUDIT_CHAIN_INVALID', `audit chain ${bad.chain}, entry ${bad.seq}: ${bad.kind}: ${bad.detail}`, {
                  details: { chain: bad.chain, seq: bad.seq, kind: bad.kind },
                })
              : undefined,
          };
        });
      }),
    );
}

function progressUpdate(progress: Progress, done: number, total: number): void {
  progress.update(done, total > 0 ? `of ${total}` : '');
}

function registerShow(audit: Command, app: App): void {
  decryptOptions(
    sourceOptions(
      app.command(audit, {
        name: 'show',
        description: 'show one audit entry in full (and its decision with votes when decrypted)',
        examples: [
          'ima-qs audit show 42 --state .ima-qs/local',
          'ima-qs audit show 42 --chain worker-1 --table ima-tpm-audit-log --region eu-central-1 --key quantum_keys',
          'ima-qs audit show 3f9a0c1d --state .ima-qs/local --decrypt --json',
        ],
        notes: `SEQ is a sequence number (with --chain when the store has several chains). A DECISION_ID is
the decision digest or the request digest of the entry (hex, at least 8 leading digits), as in
a response's audit anchor.`,
      }),
    ),
  )
    .argument('<seq|decision-id>', 'sequence number, or decision/request digest (hex prefix of at least 8 digits)')
    .action(
      app.action(async (id: string, o: CommonFlags & DecryptFlags) => {
        const p = defaultProvider();
        const deps = app.deps;
        return withSource(o, deps, async (source) => {
          const trusted = await optionalSigners(p, o.key, source, deps);
          const opener = await openerFor(p, o, source, deps, trusted);
          const rec = await findEntry(source, id, o.chain);
          const core = readCore(rec);
          const sig = entrySignatureStatus(p, rec, trusted);
          const opened = core && opener ? opener.open(core, rec) : undefined;
          const batch = core?.v === 3 || (core && !rec.anchor) ? await entryBatchStatus(p, source.store, rec.chain, rec.seq, trusted) : undefined;
          const payloadChars = core ? (core.v === 3 ? (rec.payload?.length ?? 0) : core.payload.length) : 0;
          const data: Record<string, unknown> = {
            source: source.label,
            entry: { chain: rec.chain, seq: rec.seq, digest: rec.digest, core: core ? { ...core, payload: undefined, payload_chars: payloadChars } : null, anchor: rec.anchor ?? null },
            batch: batch ? { status: batch.status, detail: batch.detail, statement: batch.statement ?? null } : null,
            anchor: rec.anchor ? anchorLabel({ simulated: rec.anchor.simulated === true }) : batch?.statement ? anchorLabel({ simulated: batch.statement.pcr.simulated }) : 'none',
            signature: sig,
            decrypted: Boolean(opened && opened.status === 'opened'),
          };
          if (opened?.status === 'opened') {
            data.payload = { ...opened.signed, digestOk: opened.digestOk, decisionSignatureOk: opened.decisionSignatureOk ?? null, votesOk: opened.votesOk ?? null };
          } else if (opened) {
            data.payload = { status: opened.status };
          }
          const failure = opener && opened ? wrongRecipient([opened], opener.fingerprint, identityLabel(o)) : undefined;
          const batchFailure = batch?.status === 'BAD' ? new VerificationError('AUDIT_BATCH_INVALID', `entry ${rec.chain}/${rec.seq}: ${batch.detail}`, { hint: 'run ima-qs audit verify to locate the problem' }) : undefined;
          return { data, human: showText(rec, core, sig, opened, batch), failure: failure ?? batchFailure };
        });
      }),
    );
}

