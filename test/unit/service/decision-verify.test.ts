/**
 * verifyResponse on a real response (in-memory pipeline), then each kind of tampering → the named
 * check fails. Also: the browser-safe PCR math agrees with src/tpm.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/crypto/bytes.js';
import { pcrBatchDigest, pcrExtend } from '../../../src/protocol/anchor-math.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { batchDigest } from '../../../src/tpm/anchor.js';
import { extendPcr } from '../../../src/tpm/pcr-math.js';
import { decidedResponse, p, serviceFixture } from './fixtures.js';

let response: any;
let handle: string;
const f = serviceFixture();

beforeAll(async () => {
  ({ response, handle } = await decidedResponse());
});

const clone = () => JSON.parse(JSON.stringify(response));
const failed = (r: unknown, opts = {}) => verifyResponse(p, r, f.fp.mldsa, { requestDigest: handle, ...opts }).checks.filter((c) => !c.ok).map((c) => c.name);

describe('verifyResponse', () => {
  it('passes every check on an untouched response, by fingerprint or by key', () => {
    expect(failed(response)).toEqual([]);
    expect(verifyResponse(p, response, f.keys.mldsa.publicKey).ok).toBe(true);
  });

  it('names the failed check for each tampering', () => {
    const vote = clone();
    vote.votes[3].body.vote = vote.votes[3].body.vote === 'approve' ? 'reject' : 'approve';
    expect(failed(vote)).toEqual(expect.arrayContaining(['vote signatures', 'votes bound to decision']));

    const sig = clone();
    sig.signature = sig.votes[0].signature; // a vote signature is not a decision signature (context)
    expect(failed(sig)).toContain('decision signature');

    const t = clone();
    t.decision.tally.approve += 1;
    expect(failed(t)).toEqual(expect.arrayContaining(['decision signature', 'tally']));

    const o = clone();
    o.decision.outcome = 'reject';
    expect(failed(o)).toEqual(expect.arrayContaining(['decision signature', 'aggregation rule']));

    expect(failed(response, { requestDigest: 'cd'.repeat(32) })).toEqual(['request digest']);

    const a = clone();
    a.audit.pcr.after = '00'.repeat(32);
    expect(failed(a)).toEqual(['audit anchor']);

    expect(verifyResponse(p, response, 'ef'.repeat(32)).checks.find((c) => c.name === 'signer key')?.ok).toBe(false);
    expect(verifyResponse(p, { v: 2 }, f.fp.mldsa)).toMatchObject({ ok: false, checks: [{ name: 'format', ok: false }] });
  });

  it('browser-safe PCR math equals src/tpm', () => {
    const ds = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    for (const bank of ['sha256', 'sha384'] as const) {
      expect(toHex(pcrBatchDigest(bank, ds))).toBe(toHex(batchDigest(bank, ds)));
      const old = new Uint8Array(bank === 'sha256' ? 32 : 48).fill(7);
      const d = batchDigest(bank, ds);
      expect(toHex(pcrExtend(bank, old, d))).toBe(toHex(extendPcr(bank, old, d)));
    }
  });
});
