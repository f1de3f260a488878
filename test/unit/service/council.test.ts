import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { outcome, tally } from '../../../src/protocol/council/aggregate.js';
import { aggregateV2 } from '../../../src/protocol/council/aggregate-v2.js';
import { CODE_COUNCIL, LEGAL_COUNCIL, RulesModel } from '../../../src/service/council/councils.js';
import { HttpPersonaModel } from '../../../src/service/council/persona-model-http.js';
import type { PersonaVote } from '../../../src/protocol/council/types.js';
import { BAD_CODE, CLEAN_CODE } from './fixtures.js';

const model = new RulesModel();
const input = (route: 'analyze' | 'patents', content: string) => ({ route, request_digest: 'ab'.repeat(32), payload: { name: 'f', content } });

const PATENT = `Title: A sensor housing
Abstract
A housing for a sensor device with a processor and memory.
Background
Earlier housings leaked. Inventors: A. Example. Filed on 2025-01-02.
Summary
In one embodiment, FIG. 1 shows the housing. See prior art US 1234567. ${'The housing protects the circuit from dust and water. '.repeat(20)}
Claims
1. A housing comprising a sealed shell.
2. The housing of claim 1, further comprising a gasket.
`;

describe('councils', () => {
  it('has 21 distinct personas in each council', () => {
    for (const c of [CODE_COUNCIL, LEGAL_COUNCIL]) {
      expect(c.personas).toHaveLength(21);
      expect(new Set(c.personas.map((p) => p.id)).size).toBe(21);
    }
  });

  it('is deterministic: the same input gives the same votes', async () => {
    const a = await model.consult(CODE_COUNCIL, input('analyze', BAD_CODE));
    const b = await model.consult(CODE_COUNCIL, input('analyze', BAD_CODE));
    expect(a).toEqual(b);
  });

  it('different inputs give different decisions (aggregation rule v2)', async () => {
    expect(model.name).toBe('rules/v2');
    const v2 = (c: typeof CODE_COUNCIL, votes: PersonaVote[]) => aggregateV2(c, votes).outcome;
    const clean = await model.consult(CODE_COUNCIL, input('analyze', CLEAN_CODE));
    const bad = await model.consult(CODE_COUNCIL, input('analyze', BAD_CODE));
    expect(v2(CODE_COUNCIL, clean)).toBe('approve');
    expect(v2(CODE_COUNCIL, bad)).toBe('reject');
    const good = await model.consult(LEGAL_COUNCIL, input('patents', PATENT));
    const empty = await model.consult(LEGAL_COUNCIL, input('patents', 'hello'));
    expect(v2(LEGAL_COUNCIL, good)).toBe('approve');
    expect(v2(LEGAL_COUNCIL, empty)).toBe('reject');
    // v1 still decides these two the same way (today's pipeline computes v1)
    expect(outcome(tally(clean))).toBe('approve');
    expect(outcome(tally(bad))).toBe('reject');
    expect(bad.find((v) => v.persona === 'security-auditor')?.vote).toBe('reject');
    expect(bad.find((v) => v.persona === 'secrets-scanner')?.rationale).toMatch(/hard-coded credentials/);
  });

  it('aggregates with a quorum of 14 and a two-thirds supermajority', () => {
    const votes = (a: number, r: number, x: number) =>
      [...Array(a).fill('approve'), ...Array(r).fill('reject'), ...Array(x).fill('abstain')].map((vote) => ({ vote }) as PersonaVote);
    expect(outcome(tally(votes(10, 3, 8)))).toBe('inconclusive'); // 13 cast < 14
    expect(outcome(tally(votes(10, 4, 7)))).toBe('approve'); // 10/14 ≥ 2/3
    expect(outcome(tally(votes(9, 5, 7)))).toBe('reject'); // 9/14 < 2/3
    expect(outcome(tally(votes(14, 7, 0)))).toBe('approve'); // exactly 2/3
    expect(tally(votes(14, 7, 0)).needed).toBe(14);
  });
});

describe('HttpPersonaModel (a real loopback HTTP server)', () => {
  async function serve(answer: (body: any) => unknown) {
    const srv = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer(JSON.parse(data))));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/v1/council`, close: () => new Promise((r) => srv.close(r)) };
  }

  it('sends the contract request and returns votes in persona order', async () => {
    let seen: any;
    const s = await serve((body) => {
      seen = body;
      return { v: 1, votes: [...body.personas].reverse().map((p: any) => ({ persona: p.id, vote: 'approve', confidence: 900, rationale: 'ok' })) };
    });
    try {
      const votes = await new HttpPersonaModel({ url: s.url }).consult(CODE_COUNCIL, input('analyze', 'x'));
      expect(votes.map((v) => v.persona)).toEqual(CODE_COUNCIL.personas.map((p) => p.id));
      expect(seen).toMatchObject({ v: 1, council: 'code-analysis', route: 'analyze', payload: { name: 'f', content: 'x' } });
      expect(seen.personas).toHaveLength(21);
    } finally {
      await s.close();
    }
  });

  it('refuses an answer that misses a persona or has a bad confidence', async () => {
    const s1 = await serve((body) => ({ v: 1, votes: body.personas.slice(1).map((p: any) => ({ persona: p.id, vote: 'approve', confidence: 1, rationale: '' })) }));
    const s2 = await serve((body) => ({ v: 1, votes: body.personas.map((p: any) => ({ persona: p.id, vote: 'approve', confidence: 0.5, rationale: '' })) }));
    try {
      await expect(new HttpPersonaModel({ url: s1.url }).consult(CODE_COUNCIL, input('analyze', 'x'))).rejects.toMatchObject({ code: 'PERSONA_MODEL_BAD_ANSWER' });
      await expect(new HttpPersonaModel({ url: s2.url }).consult(CODE_COUNCIL, input('analyze', 'x'))).rejects.toMatchObject({ code: 'PERSONA_MODEL_BAD_ANSWER' });
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('refuses plain http to a non-loopback host', () => {
    expect(() => new HttpPersonaModel({ url: 'http://models.example.com/v1' })).toThrow(expect.objectContaining({ code: 'PERSONA_MODEL_INSECURE' }));
  });
});
