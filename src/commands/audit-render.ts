/**
 * What the audit commands show: one row per entry for `tail`, one summary row per chain for
 * `verify`, the full entry for `show`. Rows are built once and rendered either as a table for
 * people or as JSON; nothing of a sealed payload appears unless it was opened with --identity.
 */
import { VerificationError } from '../errors.js';
import { anchorLabel } from '../protocol/anchor-label.js';
import { facts, table } from '../output.js';
import type { AuditEntryCore, AuditRecord } from '../audit/audit-entry.js';
import type { BatchStatement } from '../protocol/batch-statement.js';
import type { SignedDecision } from '../protocol/decision.js';
import type { SignedDecisionV2 } from '../protocol/decision-v2.js';
import type { OpenedPayload } from '../audit/audit-payload.js';
import type { ChainResult } from '../audit/audit-verify-run.js';

export interface EntryRow {
  chain: string;
  seq: number;
  time: string;
  /** from the opened payload only (the core holds no route since v:2); "sealed" otherwise */
  route: string;
  decision: string;
  /** what became of the sealed payload: not tried, opened, sealed to another key, or not openable */
  payload: 'sealed' | OpenedPayload['status'];
  /** ok | BAD | unchecked (no trusted key) | batch (v3: signed by its batch statement, which audit verify checks) */
  signature: 'ok' | 'BAD' | 'unchecked' | 'batch';
  anchored: boolean;
  simulated: boolean;
  /** what the anchor amounts to (anchorLabel), "none" when unanchored */
  anchor: string;
  digest: string;
}

export const SEALED = 'sealed';

export function decisionText(o: OpenedPayload | undefined): { route: string; decision: string } {
  if (!o) return { route: SEALED, decision: SEALED };
  if (o.status === 'other-recipient') return { route: SEALED, decision: 'sealed (other recipient)' };
  if (o.status === 'unreadable') return { route: SEALED, decision: 'UNREADABLE' };
  const d = o.signed.decision;
  const t = d.tally;
  return { route: String(d.route), decision: `${d.outcome} ${t.approve}/${t.reject}/${t.abstain}${o.digestOk ? '' : ' (DIGEST MISMATCH)'}` };
}

/** `batch`: the stored statement that covers a v3 entry (its claims; `audit verify` checks them). */
export function entryRow(rec: AuditRecord, core: AuditEntryCore | undefined, sig: EntryRow['signature'], opened?: OpenedPayload, batch?: BatchStatement): EntryRow {
  const { route, decision } = decisionText(opened);
  return {
    chain: rec.chain,
    seq: rec.seq,
    time: core?.time ?? '?',
    route,
    decision,
    payload: opened ? opened.status : 'sealed',
    signature: sig,
    anchored: Boolean(rec.anchor || batch),
    simulated: Boolean(rec.anchor?.simulated || batch?.pcr.simulated),
    anchor: rec.anchor || batch ? anchorLabel({ simulated: Boolean(rec.anchor?.simulated || batch?.pcr.simulated) }) : 'none',
    digest: rec.digest,
  };
}

/** SPEC §8.11: a simulated anchor is never presented as a TPM anchor (one phrase: anchorLabel). */
function anchoredText(r: EntryRow): string {
  if (!r.anchored) return 'NO';
  return `yes (${anchorLabel({ simulated: r.simulated })})`;
}

function signatureText(s: EntryRow['signature']): string {
  return s === 'batch' ? 'via batch' : s;
}

export const TAIL_HEAD = ['chain', 'seq', 'time', 'route', 'decision (tally a/r/abs)', 'signature', 'anchored'];

export function tailCells(r: EntryRow): (string | number)[] {
  return [r.chain, r.seq, r.time, r.route, r.decision, signatureText(r.signature), anchoredText(r)];
}

export function tailTable(rows: EntryRow[]): string {
  return rows.length ? table(TAIL_HEAD, rows.map(tailCells)) : 'no audit entries';
}

/**
 * With --decrypt: the entries whose payload is sealed to another key than the identity given
 * (a separate auditor key, or a rotated one). Decryption said no for them: the command fails.
 */
export function wrongRecipient(opened: (OpenedPayload | undefined)[], identityFingerprint: string, identityLabel: string): VerificationError | undefined {
  const others = opened.filter((o): o is Extract<OpenedPayload, { status: 'other-recipient' }> => o?.status === 'other-recipient');
  if (!others.length) return undefined;
  const recipients = [...new Set(others.map((o) => o.recipient))].sort();
  const n = opened.filter(Boolean).length;
  return new VerificationError(
    'AUDIT_WRONG_RECIPIENT',
    `${others.length === 1 && n === 1 ? 'the entry is' : `${others.length} of ${n} entries are`} sealed to another audit recipient (${recipients.map((r) => r.slice(0, 16) + '…').join(', ')}) than ${identityLabel} (${identityFingerprint.slice(0, 16)}…)`,
    {
      hint: 'pass --identity with the audit recipient’s key folder: the auditor key the worker seals to (its fingerprint is in STATE/stack.json auditRecipient, or the worker’s "worker started" log line)',
      details: { identity: identityFingerprint, recipients },
    },
  );
}

/** One line per entry for `tail --follow` (the table head was printed once). */
export function followLine(r: EntryRow): string {
  return tailCells(r).join('  ');
}

export function verifyTable(results: ChainResult[], withCheckpoints = false): string {
  if (!results.length) return 'no audit chains';
  return table(
    ['chain', 'entries', 'seq', 'batches', 'anchor', 'pcr now', ...(withCheckpoints ? ['checkpoint'] : []), 'result'],
    results.map(({ verdict: v, pcr, checkpoints: c }) => [
      v.chain,
      v.entries,
      v.first === undefined ? '-' : `${v.first}..${v.last}`,
      v.batches,
      v.pcr ? `pcr ${v.pcr.index} ${v.pcr.bank}: ${anchorLabel({ simulated: v.pcr.simulated, ...(withCheckpoints ? { checkpointed: Boolean(c?.latest) } : {}) })}` : '-',
      pcr.status === 'not-compared' ? `not compared (${pcr.reason})` : pcr.status === 'match' ? `matches ${pcr.source}` : `DIFFERS (${pcr.source})`,
      ...(withCheckpoints ? [checkpointText(c)] : []),
      v.problem ? `FAIL seq ${v.problem.seq}: ${v.problem.kind}` : 'ok',
    ]),
  );
}

function checkpointText(c: ChainResult['checkpoints']): string {
  if (!c) return '-';
  if (!c.registered) return 'NOT REGISTERED';
  const at = c.latest ? `#${c.latest.index} covers ${c.latest.size}` : 'none yet';
  const n = c.notYetCheckpointed;
  return n ? `${at}; ${n.count} not yet checkpointed${n.ageSeconds !== undefined ? ` (${n.ageSeconds} s)` : ''}` : at;
}

export interface BatchStatus {
  status: 'ok' | 'BAD' | 'unchecked' | 'none';
  statement?: BatchStatement;
  detail: string;
}

export function showText(rec: AuditRecord, core: AuditEntryCore | undefined, sig: EntryRow['signature'], opened?: OpenedPayload, batch?: BatchStatus): string {
  const rows: [string, string | number | boolean][] = [
    ['chain', rec.chain],
    ['seq', rec.seq],
    ['digest', rec.digest],
  ];
  if (core) {
    rows.push(['time', core.time], ['prev', core.prev], ['request digest', core.request_digest], ['decision digest', core.decision_digest]);
    if (core.v === 3) rows.push(['recipient', core.recipient], ['payload', `${rec.payload?.length ?? 0} base64 chars, sealed (sealed digest ${core.sealed_digest.slice(0, 16)}…)`]);
    else rows.push(['signer', core.signer], ['recipient', core.recipient], ['payload', `${core.payload.length} base64 chars, sealed`]);
  } else {
    rows.push(['core', 'NOT JSON']);
  }
  rows.push(['signature', sig === 'batch' ? `none of its own: signed by its batch statement` : sig]);
  const a = rec.anchor;
  const st = batch?.statement;
  if (a) {
    rows.push(['anchor', `pcr ${a.pcr} ${a.bank}, batch ${a.batch?.id} (${(a.batch?.index ?? 0) + 1} of ${a.batch?.size}): ${anchorLabel({ simulated: a.simulated === true })} (v1/v2 per-entry anchor, unsigned)`]);
    rows.push(['pcr before', a.before], ['pcr after', a.after]);
  } else if (st && batch) {
    rows.push(['batch', `${st.first_seq}..${st.first_seq + st.size - 1} (${rec.seq - st.first_seq + 1} of ${st.size}): ${batch.status === 'ok' ? 'ok' : batch.status} — ${batch.detail}`]);
    rows.push(['anchor', `${st.pcr.simulated ? 'SIMULATED bank ' : ''}pcr ${st.pcr.index} ${st.pcr.bank}: ${anchorLabel({ simulated: st.pcr.simulated })}`]);
    rows.push(['pcr before', st.pcr.before], ['pcr after', st.pcr.after]);
  } else {
    rows.push(['anchor', batch?.status === 'BAD' ? `BAD: ${batch.detail}` : 'NONE (unanchored)']);
  }
  let out = facts(rows);
  if (!opened) return out + '\npayload: sealed (pass --decrypt --identity DIR to read the decision)';
  const { route, decision } = decisionText(opened);
  if (opened.status !== 'opened') return out + `\npayload: ${decision}`;
  const d = opened.signed.decision;
  out +=
    '\n' +
    facts([
      ['route', route],
      ['council', String(d.council)],
      ['request id', String(d.request_id)],
      ['issued at', String(d.issued_at)],
      ['outcome', decision],
      ['decision digest', opened.digestOk ? 'matches the entry' : 'DOES NOT MATCH the entry'],
      ['decision signature', opened.decisionSignatureOk === undefined ? 'unchecked (no --key)' : opened.decisionSignatureOk ? 'ok' : 'BAD'],
      v2Decision(opened.signed)
        ? ['votes root', opened.votesOk === undefined ? 'unchecked (no --key)' : opened.votesOk > 0 ? 'ok (recomputed)' : 'BAD']
        : ['vote signatures', opened.votesOk === undefined ? 'unchecked (no --key)' : `${opened.votesOk} of ${opened.signed.votes.length} ok`],
    ]);
  const votes = v2Decision(opened.signed) ? opened.signed.votes : opened.signed.votes.map((v) => v.body);
  out +=
    '\n' +
    table(
      ['persona', 'vote', 'confidence', 'rationale'],
      votes.map((v) => [v.persona, v.vote, `${(v.confidence / 10).toFixed(1)}%`, v.rationale]),
    );
  return out;
}

function v2Decision(s: SignedDecision | SignedDecisionV2): s is SignedDecisionV2 {
  return (s.decision as { v?: unknown }).v === 2;
}
