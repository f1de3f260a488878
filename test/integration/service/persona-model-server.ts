/**
 * A persona model service on 127.0.0.1 for the worker-process tests: the JSON contract of
 * SPEC §8.6 (src/service/council/persona-model-http.ts), answered by a fixed rule (every persona
 * approves), with a gate that can HOLD requests unanswered — so a test knows for certain that a
 * worker is in the middle of a request — and release them later.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ModelCall {
  council: string;
  route: string;
  request_digest: string;
  personas: number;
}

export interface PersonaModelServer {
  readonly url: string;
  /** every well-formed consultation received, in order (held ones included) */
  readonly calls: ModelCall[];
  /** 'hold': keep new requests open without an answer; 'answer': answer at once */
  mode: 'hold' | 'answer';
  /** how many requests are held open right now */
  held(): number;
  /** answers every held request (those whose client is gone are dropped) */
  release(): void;
  stop(): Promise<void>;
}

const MAX_BODY = 1 << 20;

function answer(res: ServerResponse, personas: { id: string }[]): void {
  const votes = personas.map((p) => ({ persona: p.id, vote: 'approve', confidence: 900, rationale: `test model: ${p.id} approves` }));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: 1, votes }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export async function startPersonaModelServer(): Promise<PersonaModelServer> {
  const calls: ModelCall[] = [];
  const holding: { res: ServerResponse; personas: { id: string }[]; gone: boolean }[] = [];
  const state = { mode: 'answer' as 'hold' | 'answer' };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json') return void res.writeHead(415).end();
      let body: { v?: unknown; council?: unknown; route?: unknown; request_digest?: unknown; personas?: unknown };
      try {
        body = (await readJson(req)) as typeof body;
      } catch {
        return void res.writeHead(400).end();
      }
      const personas = body.personas;
      if (body.v !== 1 || !Array.isArray(personas) || typeof body.request_digest !== 'string') return void res.writeHead(400).end();
      calls.push({ council: String(body.council), route: String(body.route), request_digest: body.request_digest, personas: personas.length });
      if (state.mode === 'hold') {
        const h = { res, personas, gone: false };
        res.once('close', () => (h.gone = true)); // the client went away (e.g. a killed worker)
        holding.push(h);
      } else answer(res, personas);
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/consult`,
    calls,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    held: () => holding.filter((h) => !h.gone).length,
    release() {
      for (const h of holding.splice(0)) if (!h.gone) answer(h.res, h.personas);
    },
    stop: () =>
      new Promise<void>((ok) => {
        for (const h of holding.splice(0)) h.res.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
