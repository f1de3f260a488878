/**
 * Aggregation rule v2 (SPEC §8.3): a table of vote sets and their outcomes, the veto's bounds
 * (class and confidence), equality with v1 when nothing vetoes, and the refusals.
 */
import { describe, expect, it } from 'vitest';
import { outcome, tally } from '../../../src/protocol/council/aggregate.js';
import { aggregateV2, outcomeV2, VETO_CONFIDENCE } from '../../../src/protocol/council/aggregate-v2.js';
import { CODE_COUNCIL, LEGAL_COUNCIL } from '../../../src/service/council/councils.js';
import type { Council, PersonaVote, VoteChoice } from '../../../src/protocol/council/types.js';

const blocking = (c: Council) => c.personas.filter((p) => p.severity === 'blocking').map((p) => p.id);
const advisory = (c: Council) => c.personas.filter((p) => p.severity === 'advisory').map((p) => p.id);

/** All 21 personas approve (700), except the overrides. */
function votes(c: Council, overrides: Record<string, [VoteChoice, number]> = {}): PersonaVote[] {
  return c.personas.map((p) => {
    const [vote, confidence] = overrides[p.id] ?? ['approve', 700];
    return { persona: p.id, vote, confidence, rationale: 'test' };
  });
}

describe('aggregation rule v2', () => {
  it('gives the code council the veto in the domains the issue names', () => {
    expect(blocking(CODE_COUNCIL)).toEqual(expect.arrayContaining(['security-auditor', 'secrets-scanner', 'injection-hunter', 'deserialization-guard', 'shell-safety']));
    expect(blocking(LEGAL_COUNCIL)).toEqual(expect.arrayContaining(['claims-examiner', 'abstract-examiner', 'terminology-editor', 'means-plus-function']));
    for (const c of [CODE_COUNCIL, LEGAL_COUNCIL]) expect(advisory(c).length).toBeGreaterThan(7);
  });

  it('rejects the issue\'s file (5 confident blocking rejects, 15 approve, 1 abstain) that v1 approves', () => {
    const [a, b, c, d, e] = ['security-auditor', 'secrets-scanner', 'injection-hunter', 'deserialization-guard', 'shell-safety'];
    const v = votes(CODE_COUNCIL, { [a]: ['reject', 850], [b]: ['reject', 900], [c]: ['reject', 850], [d]: ['reject', 850], [e]: ['reject', 850], 'test-advocate': ['abstain', 0] });
    expect(outcome(tally(v))).toBe('approve');
    expect(aggregateV2(CODE_COUNCIL, v)).toEqual({
      tally: { approve: 15, reject: 5, abstain: 1, cast: 20, quorum: 14, needed: 14, vetoes: 5, veto_confidence: 700 },
      outcome: 'reject',
    });
  });

  it.each([
    ['one blocking reject at the veto confidence', { 'shell-safety': ['reject', VETO_CONFIDENCE] }, 'reject', 1],
    ['one blocking reject just below it (an ordinary vote)', { 'shell-safety': ['reject', VETO_CONFIDENCE - 1] }, 'approve', 0],
    ['one advisory reject at full confidence', { maintainer: ['reject', 1000] }, 'approve', 0],
    ['a blocking abstention', { 'secrets-scanner': ['abstain', 1000] }, 'approve', 0],
    ['a blocking approval at full confidence', { 'secrets-scanner': ['approve', 1000] }, 'approve', 0],
  ] as [string, Record<string, [VoteChoice, number]>, string, number][])('%s', (_name, overrides, expected, vetoes) => {
    const r = aggregateV2(CODE_COUNCIL, votes(CODE_COUNCIL, overrides));
    expect(r.outcome).toBe(expected);
    expect(r.tally.vetoes).toBe(vetoes);
  });

  it('a veto decides even without a quorum', () => {
    const abstain = Object.fromEntries(CODE_COUNCIL.personas.map((p) => [p.id, ['abstain', 0]])) as Record<string, [VoteChoice, number]>;
    const r = aggregateV2(CODE_COUNCIL, votes(CODE_COUNCIL, { ...abstain, 'injection-hunter': ['reject', 850] }));
    expect(r.tally.cast).toBe(1);
    expect(r.outcome).toBe('reject');
    const none = aggregateV2(CODE_COUNCIL, votes(CODE_COUNCIL, abstain));
    expect(none.outcome).toBe('inconclusive');
  });

  it('without a veto it is rule v1 (quorum 14, two-thirds of the cast votes), on 2,000 pseudo-random vote sets', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let checked = 0;
    for (let n = 0; n < 2000; n++) {
      for (const c of [CODE_COUNCIL, LEGAL_COUNCIL]) {
        const v = c.personas.map((p) => {
          const x = next();
          const vote: VoteChoice = x < 0.5 ? 'approve' : x < 0.8 ? 'reject' : 'abstain';
          const confidence = p.severity === 'blocking' && vote === 'reject' ? Math.floor(next() * VETO_CONFIDENCE) : Math.floor(next() * 1001);
          return { persona: p.id, vote, confidence, rationale: '' };
        });
        const r = aggregateV2(c, v);
        const t1 = tally(v);
        expect(r.tally.vetoes).toBe(0);
        expect(r.outcome).toBe(outcome(t1));
        expect({ ...r.tally, vetoes: undefined, veto_confidence: undefined }).toEqual({ ...t1, vetoes: undefined, veto_confidence: undefined });
        expect(outcomeV2(r.tally)).toBe(r.outcome);
        checked++;
      }
    }
    expect(checked).toBe(4000);
  });

  it('keeps v1\'s boundaries: 14 of 21 approve; 9 of 14 cast does not', () => {
    const adv = advisory(CODE_COUNCIL);
    const seven = Object.fromEntries(adv.slice(0, 7).map((id) => [id, ['reject', 900]])) as Record<string, [VoteChoice, number]>;
    expect(aggregateV2(CODE_COUNCIL, votes(CODE_COUNCIL, seven)).outcome).toBe('approve');
    const fiveRejectSevenAbstain = Object.fromEntries([
      ...adv.slice(0, 5).map((id) => [id, ['reject', 900]]),
      ...adv.slice(5, 12).map((id) => [id, ['abstain', 0]]),
    ]) as Record<string, [VoteChoice, number]>;
    const r = aggregateV2(CODE_COUNCIL, votes(CODE_COUNCIL, fiveRejectSevenAbstain));
    expect(r.tally).toMatchObject({ approve: 9, reject: 5, cast: 14, needed: 10 });
    expect(r.outcome).toBe('reject');
  });

  it('tallies integers only, with exactly the members of SPEC §8.3', () => {
    const { tally: t } = aggregateV2(LEGAL_COUNCIL, votes(LEGAL_COUNCIL));
    expect(Object.keys(t).sort()).toEqual(['abstain', 'approve', 'cast', 'needed', 'quorum', 'reject', 'veto_confidence', 'vetoes']);
    expect(Object.values(t).every(Number.isInteger)).toBe(true);
  });

  it('refuses votes of another council, unknown choices and confidences that are not integers 0..1000', () => {
    const legalVotes = votes(LEGAL_COUNCIL);
    expect(() => aggregateV2(CODE_COUNCIL, legalVotes)).toThrow(expect.objectContaining({ code: 'VOTE_UNKNOWN_PERSONA' }));
    const bad = (patch: Partial<PersonaVote>) => [{ ...votes(CODE_COUNCIL)[0], ...patch }];
    expect(() => aggregateV2(CODE_COUNCIL, bad({ vote: 'maybe' as VoteChoice }))).toThrow(expect.objectContaining({ code: 'VOTE_INVALID' }));
    for (const confidence of [700.5, -1, 1001, Number.NaN]) expect(() => aggregateV2(CODE_COUNCIL, bad({ confidence }))).toThrow(expect.objectContaining({ code: 'VOTE_INVALID' }));
  });
});
