/**
 * `ima-qs verify response.json --pin` on hostile documents (in-process): every tampering or
 * malformation is a clear "no" (exit 1) or a bad input (exit 3), never an internal error (70);
 * and the tamperings that keep every signature valid (reordered, duplicated, foreign or missing
 * votes; another council's tally) still fail.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { signJson } from '../../../src/crypto/signature.js';
import { LEGAL_COUNCIL } from '../../../src/service/council/councils.js';
import { votesRoot } from '../../../src/protocol/decision-v2.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { runCli } from '../../helpers/cli.js';
import { decidedResponse, p, serviceFixture, tempDir } from './fixtures.js';

const f = serviceFixture();
let response: any;
let handle: string;
const dir = tempDir();

beforeAll(async () => {
  ({ response, handle } = await decidedResponse());
});

const clone = () => JSON.parse(JSON.stringify(response));
let n = 0;
async function verifyText(text: string, extra: string[] = []) {
  const file = join(dir, `r${n++}.json`);
  writeFileSync(file, text);
  return runCli(['verify', file, '--pin', f.pin, '--json', ...extra]);
}

describe('verify response.json on hostile input', () => {
  it('accepts the untouched response (exit 0)', async () => {
    const r = await verifyText(JSON.stringify(response), ['--request-digest', handle]);
    expect(r.code).toBe(0);
  });

  const deep = (k: number) => '['.repeat(k) + ']'.repeat(k);
  const mutations: [string, (r: any) => unknown][] = [
    ['null', () => null],
    ['array', () => []],
    ['number', () => 7],
    ['string', () => 'x'],
    ['votes missing', (r) => ({ ...r, votes: undefined })],
    ['votes a string', (r) => ({ ...r, votes: 'abc' })],
    ['votes null entries', (r) => ({ ...r, votes: [null, 1, 'x'] })],
    ['vote wrong types', (r) => ((r.votes[0] = { persona: 7, vote: [], confidence: 'x', rationale: null }), r)],
    ['vote confidence fractional', (r) => ((r.votes[0].confidence = 500.5), r)],
    ['decision signature not base64', (r) => ((r.signature = '%%%'), r)],
    ['decision signature huge', (r) => ((r.signature = 'A'.repeat(200_000)), r)],
    ['decision null', (r) => ((r.decision = null), r)],
    ['decision.tally an array', (r) => ((r.decision.tally = [1, 2]), r)],
    ['decision.tally null members', (r) => ((r.decision.tally = { approve: null }), r)],
    ['decision.votes_root a number', (r) => ((r.decision.votes_root = 5), r)],
    ['decision.payload_digest short', (r) => ((r.decision.payload_digest = 'ab'), r)],
    ['signature a number', (r) => ((r.signature = 5), r)],
    ['signer null', (r) => ((r.signer = null), r)],
    ['signer.public_key not base64', (r) => ((r.signer.public_key = '!!'), r)],
    ['signer.public_key short', (r) => ((r.signer.public_key = 'AAAA'), r)],
    ['audit null', (r) => ((r.audit = null), r)],
    ['audit.batch.statement.pcr null', (r) => ((r.audit.batch.statement.pcr = null), r)],
    ['statement pcr.bank other', (r) => ((r.audit.batch.statement.pcr.bank = 'sha1'), r)],
    ['statement pcr.before a number', (r) => ((r.audit.batch.statement.pcr.before = 1), r)],
    ['statement size huge', (r) => ((r.audit.batch.statement.size = 1e300), r)],
    ['statement size zero', (r) => ((r.audit.batch.statement.size = 0), r)],
    ['statement simulated a string', (r) => ((r.audit.batch.statement.pcr.simulated = 'false'), r)],
    ['proof.path a string', (r) => ((r.audit.proof.path = 'ab'), r)],
    ['proof.path nulls', (r) => ((r.audit.proof.path = [null]), r)],
    ['proof.path 10000 hashes', (r) => ((r.audit.proof.path = Array.from({ length: 10_000 }, () => 'ab'.repeat(32))), r)],
    ['proof.index huge', (r) => ((r.audit.proof.index = 1e300), r)],
    ['proof.index negative', (r) => ((r.audit.proof.index = -1), r)],
    ['entry.decision_digest object', (r) => ((r.audit.entry.decision_digest = {}), r)],
    ['entry.seq a string', (r) => ((r.audit.entry.seq = '1'), r)],
    ['entry.v 2', (r) => ((r.audit.entry.v = 2), r)],
    ['50000 votes', (r) => ((r.votes = Array.from({ length: 50_000 }, () => r.votes[0])), r)],
    ['vote extra member deep', (r) => ((r.votes[0].x = JSON.parse(deep(3000))), r)],
    ['decision extra member deep', (r) => ((r.decision.x = JSON.parse(deep(3000))), r)],
    ['audit extra member deep', (r) => ((r.audit.x = JSON.parse(deep(3000))), r)],
    ['vote persona with comma', (r) => ((r.votes[0].persona = `${r.votes[0].persona},x`), r)],
    ['an unsigned top-level member', (r) => ({ ...r, outcome: 'reject' })],
    ['an unsigned member in the audit anchor', (r) => ((r.audit.note = 'approved by the board'), r)],
    ['an unsigned member in signer', (r) => ((r.signer.name = 'someone else'), r)],
    ['an unsigned member in a vote', (r) => ((r.votes[0].note = 'x'), r)],
    ['an unsigned member in the batch', (r) => ((r.audit.batch.note = 'x'), r)],
    ['a lone surrogate in a rationale', (r) => ((r.votes[0].rationale = '\ud800'), r)],
    ['a lone surrogate in the decision', (r) => ((r.decision.request_id = '\udc00'), r)],
    ['tally of non-finite numbers', (r) => ((r.decision.tally.approve = 1e999), r)],
    ['__proto__ member', (r) => JSON.parse('{"__proto__":{"v":1},' + JSON.stringify(r).slice(1))],
  ];
  for (const [name, mutate] of mutations) {
    it(`${name}: exit 1 or 3`, async () => {
      const r = await verifyText(JSON.stringify(mutate(clone())));
      expect([1, 3], `${name}: ${r.stdout}${r.stderr}`).toContain(r.code);
      expect(r.json().ok).toBe(false);
    });
  }

  it('non-finite numbers and a deeply nested document (raw JSON text): exit 1 or 3', async () => {
    const text = JSON.stringify(response);
    for (const t of [
      text.replace('"confidence":', '"confidence":1e999,"c2":'),
      text.replace('"decision":{', '"decision":{"x":1e999,'),
      text.replace('"votes":[', '"votes":[' + deep(100_000) + ','),
      deep(1_000_000),
      text.slice(0, text.length / 2),
      '\uFEFF' + text,
    ]) {
      const r = await verifyText(t);
      expect([1, 3], r.stdout + r.stderr).toContain(r.code);
    }
  });

  /**
   * A worker bug (or a key holder) can sign a decision over a wrong vote list: re-sign the
   * decision with the service key after the tampering, so the signature and votes_digest hold and
   * only the semantic checks stand between the document and "valid".
   */
  function resign(r: any) {
    r.decision.votes_root = votesRoot(p, r.votes);
    r.signature = toBase64(signJson(p, f.keys.mldsa, 'decision2', r.decision));
    return r;
  }
  const failedChecks = (r: any) => verifyResponse(p, r, f.pin, { requestDigest: handle }).checks.filter((c) => !c.ok).map((c) => c.name);

  it('verifyResponse itself never throws on JSON it cannot canonicalize (a failed row instead)', () => {
    const lone = clone();
    lone.votes[0].rationale = '\ud800';
    expect(failedChecks(lone)).toEqual(['votes root']);
  });

  it('re-signed over reordered, duplicated, missing or foreign votes, or another council: still a no', () => {
    // the entry records the original decision: re-signing also breaks that link, so only the vote rows are compared
    const votesRows = (r: any) => failedChecks(r).filter((c) => c !== 'audit entry');
    const reordered = clone();
    [reordered.votes[0], reordered.votes[1]] = [reordered.votes[1], reordered.votes[0]];
    expect(votesRows(resign(reordered))).toContain('votes root');

    const duplicated = clone();
    duplicated.votes[1] = duplicated.votes[0];
    expect(votesRows(resign(duplicated))).toContain('votes root');

    const missing = clone();
    missing.votes.pop();
    expect(votesRows(resign(missing))).toContain('votes root');

    const foreign = clone();
    foreign.votes[2].persona = LEGAL_COUNCIL.personas[2].id;
    // not the roster: no recount either
    expect(votesRows(resign(foreign))).toEqual(['votes root', 'tally', 'aggregation rule']);

    const council = clone();
    council.decision.council = LEGAL_COUNCIL.id;
    expect(votesRows(resign(council))).toContain('votes root');

    const tally = clone();
    tally.decision.tally.approve -= 8;
    tally.decision.tally.reject += 8;
    expect(votesRows(resign(tally))).toEqual(['tally']);

    const signedAsBatch = clone();
    signedAsBatch.signature = toBase64(signJson(p, f.keys.mldsa, 'batch', signedAsBatch.decision));
    expect(votesRows(signedAsBatch)).toEqual(['decision signature']);
  });
});
