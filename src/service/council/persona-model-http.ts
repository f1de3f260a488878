/**
 * `HttpPersonaModel`: the council's votes from an operator's model service over HTTP
 * (JSON contract: SPEC §8.6). One POST per council consultation:
 *
 *   request  {"v":1,"council":"code-analysis","route":"analyze","request_digest":"<64 hex>",
 *             "personas":[{"id","name","role"}…21],"payload":{"name","content"}}
 *   response {"v":1,"votes":[{"persona","vote","confidence","rationale"}…]}  exactly one per persona
 *
 * The request content goes to that service in the clear (inside TLS): use https, or loopback.
 * The client is node:http(s) so that every bound is ours (SPEC §8.6): a redirect is never
 * followed (the plaintext payload goes to the configured URL and nowhere else), the answer is
 * read as a stream and cut at MAX_RESPONSE_BYTES (a declared Content-Length above it is refused
 * before reading), a connect timeout and a total timeout (a slow drip cannot hold a worker), and
 * an optional bearer token (PERSONA_MODEL_TOKEN_SECRET, never logged). Every answer is checked
 * strictly; anything else is a RemoteError (the message is retried).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RemoteError } from '../../errors.js';
import { MAX_RATIONALE_CHARS, VOTE_CHOICES, type Council, type CouncilInput, type PersonaModel, type PersonaVote } from '../../protocol/council/types.js';
import { parseStrictJson } from '../../protocol/strict-json.js';

export interface HttpPersonaModelOptions {
  url: string;
  /** the whole consultation, connect to last byte (default 30 s) */
  timeoutMs?: number;
  /** TCP (and TLS) connection set-up (default 5 s) */
  connectTimeoutMs?: number;
  /** the largest answer read (default 1 MiB) */
  maxResponseBytes?: number;
  /** the bearer token, fetched when needed (e.g. from Secrets Manager, cached by the caller); never logged */
  token?: () => Promise<string>;
}

export const MAX_RESPONSE_BYTES = 1024 * 1024;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

export class HttpPersonaModel implements PersonaModel {
  readonly name = 'http';
  private readonly url: URL;

  constructor(private readonly opts: HttpPersonaModelOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK_HOSTS.includes(u.hostname))) {
      throw new RemoteError('PERSONA_MODEL_INSECURE', 'the persona model url must be https (plain http only on loopback)');
    }
    if (u.username || u.password) throw new RemoteError('PERSONA_MODEL_INSECURE', 'the persona model url must not carry credentials (use PERSONA_MODEL_TOKEN_SECRET)');
    this.url = u;
  }

  async consult(council: Council, input: CouncilInput): Promise<PersonaVote[]> {
    const body = Buffer.from(
      JSON.stringify({
        v: 1,
        council: council.id,
        route: input.route,
        request_digest: input.request_digest,
        personas: council.personas.map((p) => ({ id: p.id, name: p.name, role: p.role })),
        payload: input.payload,
      }),
    );
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': body.length, accept: 'application/json' };
    if (this.opts.token) headers.authorization = `Bearer ${await this.opts.token()}`;
    const text = await this.post(body, headers);
    let doc: unknown;
    try {
      doc = parseStrictJson(text);
    } catch {
      throw badAnswer('answer is not JSON');
    }
    return checkVotes(council, doc);
  }

  /** One POST; resolves with the 200 answer's text, rejects with a RemoteError for anything else. */
  private post(body: Buffer, headers: Record<string, string | number>): Promise<string> {
    const max = this.opts.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    const totalMs = this.opts.timeoutMs ?? 30_000;
    const connectMs = this.opts.connectTimeoutMs ?? 5_000;
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (err: RemoteError | undefined, text?: string) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(text!);
      };
      // agent: false — a fresh connection per consultation, so the connect timeout measures one
      const req = send(this.url, { method: 'POST', headers, agent: false });
      timers.push(setTimeout(() => finish(new RemoteError('PERSONA_MODEL_TIMEOUT', `the persona model service did not answer within ${Math.round(totalMs / 1000)} s`)), totalMs));
      const connectTimer = setTimeout(() => finish(new RemoteError('PERSONA_MODEL_UNREACHABLE', `the persona model service did not accept a connection within ${Math.round(connectMs / 1000)} s`)), connectMs);
      timers.push(connectTimer);
      req.once('socket', (s) => {
        const connected = () => clearTimeout(connectTimer);
        if (!s.connecting) connected();
        else s.once(this.url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      req.once('error', (err) => finish(new RemoteError('PERSONA_MODEL_UNREACHABLE', 'the persona model service did not answer', { cause: err })));
      req.once('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          // never followed: the payload would go to wherever the Location points (http, link-local …)
          return finish(new RemoteError('PERSONA_MODEL_FAILED', `the persona model service answered HTTP ${status} (a redirect, which is never followed)`));
        }
        if (status !== 200) return finish(new RemoteError('PERSONA_MODEL_FAILED', `the persona model service answered HTTP ${status}`));
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > max) return finish(badAnswer(`answer declares ${declared} bytes; the limit is ${max}`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) return finish(badAnswer(`answer is larger than ${max} bytes`));
          chunks.push(c);
        });
        res.once('end', () => {
          let text: string;
          try {
            text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
          } catch {
            return finish(badAnswer('answer is not UTF-8'));
          }
          finish(undefined, text);
        });
        res.once('error', (err) => finish(new RemoteError('PERSONA_MODEL_UNREACHABLE', 'the persona model answer was cut off', { cause: err })));
        res.once('aborted', () => finish(new RemoteError('PERSONA_MODEL_UNREACHABLE', 'the persona model answer was cut off')));
      });
      req.end(body);
    });
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
