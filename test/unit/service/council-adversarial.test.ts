/**
 * Issue 12: adversarial inputs for every persona rule, up to the body limit, run through the whole
 * council. No timing here (bench/council.bench.ts measures time); what is asserted is that the
 * consultation completes with one valid vote per persona and that the regex-engine work is bounded
 * by a linear function of the input: at most five passes over the text (the council's RE2 set over
 * blocks of lines, then the lines of the blocks where something matched, by the set or by each of
 * at most 4 patterns).
 */
import { describe, expect, it } from 'vitest';
import { COUNCILS, ruleVotes } from '../../../src/service/council/councils.js';
import { Matcher, matcherWork } from '../../../src/service/council/matcher.js';
import { splitLines } from '../../../src/service/council/features.js';
import { MAX_RATIONALE_CHARS, VOTE_CHOICES } from '../../../src/protocol/council/types.js';
import { ADVERSARIAL, WORST_SIZE, adversarialInputs } from '../../helpers/council-adversarial.js';

/**
 * The prefilter pass over blocks of lines, then each line of a matching block either once with
 * the whole set or with each of at most 4 patterns: at most five passes over the text.
 */
function bound(content: string): number {
  return 5 * (content.length + splitLines(content).length);
}

describe('adversarial inputs for every persona rule (128 KiB)', () => {
  it('has near-matches for every persona of both councils', () => {
    for (const c of COUNCILS) expect(Object.keys(ADVERSARIAL[c.id]).sort()).toEqual(c.personas.map((p) => p.id).sort());
  });

  for (const c of COUNCILS) {
    for (const p of c.personas) {
      it(`${c.id} / ${p.id}: completes, with engine work linear in the input`, () => {
        for (const fragment of ADVERSARIAL[c.id][p.id]) {
          for (const { shape, content } of adversarialInputs(c.id, fragment)) {
            expect(content.length).toBeGreaterThanOrEqual(WORST_SIZE - 1);
            const before = matcherWork();
            const votes = ruleVotes(c, content);
            const work = matcherWork() - before;
            const label = `${JSON.stringify(fragment)} ${shape}`;
            expect(work, label).toBeLessThanOrEqual(bound(content));
            expect(work, label).toBeGreaterThanOrEqual(content.length); // the prefilter saw every character
            expect(votes.map((v) => v.persona)).toEqual(c.personas.map((x) => x.id));
            for (const v of votes) {
              expect(VOTE_CHOICES).toContain(v.vote);
              expect(Number.isInteger(v.confidence) && v.confidence >= 0 && v.confidence <= 1000).toBe(true);
              expect(v.rationale.length).toBeLessThanOrEqual(MAX_RATIONALE_CHARS);
            }
          }
        }
      });
    }
  }

  it('the bound is tight enough to catch a per-position search (it can fail)', () => {
    // a rule that searched from every position of a line would cost ~length²/2 engine characters
    const line = 'SELECT "x" '.repeat(100);
    const m = Matcher.of('SELECT[^;]*FROM');
    const before = matcherWork();
    for (let i = 0; i < line.length; i++) m.test(line.slice(i));
    expect(matcherWork() - before).toBeGreaterThan(bound(line));
  });
});
