/**
 * `HttpPersonaModel`: the council's votes from an operator's model service over HTTP
 * (JSON contract: SPEC §8.6). One POST per council consultation:
 *
 *   request  {"v":1,"council":"code-analysis","route":"analyze","request_digest":"<64 hex>",
 *             "personas":[{"id","name","role"}…21],"payload":{"name","content"}}
 *   response {"v":1,"votes":[{"persona","vote","confidence","rationale"}…]}  exactly one per persona
 *
 * The request content goes to that service in the clear (inside TLS): use https, or loopback.
 * Every answer is checked strictly; anything else is a RemoteError (the message is retried).
 */
import { RemoteError } from '../../errors.js';
import { MAX_RATIONALE_CHARS, VOTE_CHOICES, type Council, type CouncilInput, type PersonaModel, type PersonaVote } from './types.js';
import { parseStrictJson } from '../../protocol/strict-json.js';

export interface HttpPersonaModelOptions {
  url: string;
  timeoutMs?: number;
  /** extra headers, e.g. an authorization token (never logged) */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

export class HttpPersonaModel implements PersonaModel {
  readonly name = 'http';

  constructor(private readonly opts: HttpPersonaModelOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))) {
      throw new RemoteError('PERSONA_MODEL_INSECURE', 'the persona model url must be https (plain http only on loopback)');
    }
  }

  async consult(council: Council, input: CouncilInput): Promise<PersonaVote[]> {
    const body = {
      v: 1,
      council: council.id,
      route: input.route,
      request_digest: input.request_digest,
      personas: council.personas.map((p) => ({ id: p.id, name: p.name, role: p.role })),
      payload: input.payload,
    };
    const f = this.opts.fetch ?? fetch;
    let res: Response;
    try {
      res = await f(this.opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.opts.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new RemoteError('PERSONA_MODEL_UNREACHABLE', 'the persona model service did not answer', { cause: err });
    }
    if (!res.ok) throw new RemoteError('PERSONA_MODEL_FAILED', `the persona model service answered HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) throw badAnswer(`answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    let doc: unknown;
    try {
      doc = parseStrictJson(text);
    } catch {
      throw badAnswer('answer is not JSON');
    }
    return checkVotes(council, doc);
  }
}

function badAnswer(why: string): RemoteError {
  return new RemoteError('PERSONA_MODEL_BAD_ANSWER', `the persona model service gave a bad answer: ${why}`, {
    hint: 'see SPEC §8.6 for the JSON contract',
  });
}

/** Checks an answer against the contract and returns the votes in the council's persona order. */
export function checkVotes(council: Council, doc: unknown): PersonaVote[] {
  if (typeof doc !== 'object' || doc === null || (doc as { v?: unknown }).v !== 1) throw badAnswer('expected {"v":1,"votes":[…]}');
  const votes = (doc as { votes?: unknown }).votes;
  if (!Array.isArray(votes)) throw badAnswer('votes is not an array');
  const byId = new Map<string, PersonaVote>();
  for (const v of votes) {
    if (typeof v !== 'object' || v === null) throw badAnswer('a vote is not an object');
    const { persona, vote, confidence, rationale, ...rest } = v as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw badAnswer(`a vote has unknown fields: ${Object.keys(rest).slice(0, 3).join(', ')}`);
    if (typeof persona !== 'string' || !council.personas.some((p) => p.id === persona)) throw badAnswer('a vote names an unknown persona');
    if (byId.has(persona)) throw badAnswer(`two votes for persona ${persona}`);
    if (typeof vote !== 'string' || !(VOTE_CHOICES as readonly string[]).includes(vote)) throw badAnswer(`vote of ${persona} is not approve, reject or abstain`);
    if (!Number.isInteger(confidence) || (confidence as number) < 0 || (confidence as number) > 1000) {
      throw badAnswer(`confidence of ${persona} is not an integer 0..1000`);
    }
    if (typeof rationale !== 'string' || rationale.length > MAX_RATIONALE_CHARS) {
      throw badAnswer(`rationale of ${persona} is not text of at most ${MAX_RATIONALE_CHARS} characters`);
    }
    byId.set(persona, { persona, vote: vote as PersonaVote['vote'], confidence: confidence as number, rationale });
  }
  const missing = council.personas.filter((p) => !byId.has(p.id));
  if (missing.length > 0) throw badAnswer(`no vote for ${missing.length} personas (e.g. ${missing[0].id})`);
  return council.personas.map((p) => byId.get(p.id)!);
}
