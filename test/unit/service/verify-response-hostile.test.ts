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
import { decisionDigest, votesDigest } from '../../../src/protocol/decision.js';
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
  return runCli(['verify', file, '--pin', f.fp.mldsa, '--json', ...extra]);
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
    ['vote body wrong types', (r) => ((r.votes[0].body = { persona: 7, vote: [], confidence: 'x' }), r)],
    ['vote signature a number', (r) => ((r.votes[0].signature = 12), r)],
    ['vote signature not base64', (r) => ((r.votes[0].signature = '%%%'), r)],
    ['vote signature huge', (r) => ((r.votes[0].signature = 'A'.repeat(200_000)), r)],
    ['decision null', (r) => ((r.decision = null), r)],
    ['decision.tally an array', (r) => ((r.decision.tally = [1, 2]), r)],
    ['decision.tally null members', (r) => ((r.decision.tally = { approve: null }), r)],
    ['decision.votes_digest a number', (r) => ((r.decision.votes_digest = 5), r)],
    ['signature a number', (r) => ((r.signature = 5), r)],
    ['signer null', (r) => ((r.signer = null), r)],
    ['signer.public_key not base64', (r) => ((r.signer.public_key = '!!'), r)],
    ['signer.public_key short', (r) => ((r.signer.public_key = 'AAAA'), r)],
    ['audit null', (r) => ((r.audit = null), r)],
    ['audit.pcr null', (r) => ((r.audit.pcr = null), r)],
    ['audit.pcr.bank other', (r) => ((r.audit.pcr.bank = 'sha1'), r)],
    ['audit.pcr.before a number', (r) => ((r.audit.pcr.before = 1), r)],
    ['audit.batch.entry_digests a string', (r) => ((r.audit.batch.entry_digests = 'ab'), r)],
    ['audit.batch.index huge', (r) => ((r.audit.batch.index = 1e300), r)],
    ['audit.batch.size negative', (r) => ((r.audit.batch.size = -1), r)],
    ['audit.batch.entry_digests nulls', (r) => ((r.audit.batch.entry_digests = [null]), r)],
    ['audit.decision_digest object', (r) => ((r.audit.decision_digest = {}), r)],
    ['audit.seq a string', (r) => ((r.audit.seq = '1'), r)],
    ['50000 votes', (r) => ((r.votes = Array.from({ length: 50_000 }, () => r.votes[0])), r)],
    ['vote extra member deep', (r) => ((r.votes[0].body.x = JSON.parse(deep(3000))), r)],
    ['decision extra member deep', (r) => ((r.decision.x = JSON.parse(deep(3000))), r)],
    ['audit extra member deep', (r) => ((r.audit.x = JSON.parse(deep(3000))), r)],
    ['vote persona with comma', (r) => ((r.votes[0].body.persona = `${r.votes[0].body.persona},x`), r)],
    ['an unsigned top-level member', (r) => ({ ...r, outcome: 'reject' })],
    ['an unsigned member in the audit anchor', (r) => ((r.audit.note = 'approved by the board'), r)],
    ['an unsigned member in signer', (r) => ((r.signer.name = 'someone else'), r)],
    ['an unsigned member in a vote wrapper', (r) => ((r.votes[0].note = 'x'), r)],
    ['a lone surrogate in a rationale', (r) => ((r.votes[0].body.rationale = '\ud800'), r)],
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
    r.decision.votes_digest = votesDigest(p, r.votes);
    r.signature = toBase64(signJson(p, f.keys.mldsa, 'decision', r.decision));
    r.audit.decision_digest = decisionDigest(p, r);
    return r;
  }
  const failedChecks = (r: any) => verifyResponse(p, r, f.fp.mldsa, { requestDigest: handle }).checks.filter((c) => !c.ok).map((c) => c.name);

  it('verifyResponse itself never throws on JSON it cannot canonicalize (a failed row instead)', () => {
    const lone = clone();
    lone.votes[0].body.rationale = '\ud800';
    expect(failedChecks(lone)).toEqual(['vote signatures', 'votes bound to decision']);
  });

  it('re-signed over reordered, duplicated, missing or foreign votes, or another council: still a no', () => {
    const reordered = clone();
    [reordered.votes[0], reordered.votes[1]] = [reordered.votes[1], reordered.votes[0]];
    expect(failedChecks(resign(reordered))).toContain('votes bound to decision');

    const duplicated = clone();
    duplicated.votes[1] = duplicated.votes[0];
    expect(failedChecks(resign(duplicated))).toContain('votes bound to decision');

    const missing = clone();
    missing.votes.pop();
    expect(failedChecks(resign(missing))).toContain('votes bound to decision');

    const foreign = clone();
    foreign.votes[2].body.persona = LEGAL_COUNCIL.personas[2].id;
    foreign.votes[2].signature = toBase64(signJson(p, f.keys.mldsa, 'vote', foreign.votes[2].body));
    expect(failedChecks(resign(foreign))).toEqual(['votes bound to decision']);

    const council = clone();
    council.decision.council = LEGAL_COUNCIL.id;
    expect(failedChecks(resign(council))).toContain('votes bound to decision');

    const tally = clone();
    tally.decision.tally.approve -= 8;
    tally.decision.tally.reject += 8;
    expect(failedChecks(resign(tally))).toEqual(['tally']);

    const signedAsVote = clone();
    signedAsVote.signature = toBase64(signJson(p, f.keys.mldsa, 'vote', signedAsVote.decision));
    signedAsVote.audit.decision_digest = decisionDigest(p, signedAsVote);
    expect(failedChecks(signedAsVote)).toEqual(['decision signature']);
  });
});
