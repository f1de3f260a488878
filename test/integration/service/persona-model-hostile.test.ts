/**
 * The persona-model client against hostile model services on loopback (SPEC §8.6, issue 12
 * item 8): a huge answer (declared, and streamed without end) is cut at the byte cap; a redirect
 * is never followed (the second listener it points to sees no connection at all); a slow drip
 * and a silent server end at the total timeout; bad JSON, bad UTF-8 and error statuses are
 * refused; the bearer token goes in the Authorization header and only there. Every refusal is a
 * RemoteError (the worker retries the message). Only loopback addresses are contacted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_COUNCIL } from '../../../src/service/council/councils.js';
import { HttpPersonaModel, MAX_RESPONSE_BYTES } from '../../../src/service/council/persona-model-http.js';
import { ImaError } from '../../../src/errors.js';

const input = { route: 'analyze' as const, request_digest: 'ab'.repeat(32), payload: { name: 'a.py', content: 'print(1)\n' } };
const goodVotes = () => ({ v: 1, votes: CODE_COUNCIL.personas.map((p) => ({ persona: p.id, vote: 'approve', confidence: 900, rationale: 'ok' })) });

/** Loopback HTTP servers by path; each records what it saw. */
const seen: { path: string; authorization?: string; bytesWritten?: number }[] = [];
let model: Server;
let base = '';
/** The redirect target: a raw TCP listener that must never see a connection. */
let second: NetServer;
let secondConnections = 0;
let secondUrl = '';
/** A port with nothing listening (connection refused). */
let closedPort = 0;

function readAll(req: IncomingMessage): Promise<void> {
  return new Promise((r) => {
    req.resume();
    req.on('end', () => r());
  });
}

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>> = {
  '/good': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(goodVotes())),
  '/declared-huge': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) });
    res.write('{"v":1,"votes":[');
    // never sends the rest: the client must refuse on the declared length alone
  },
  '/endless': async (_req, res) => {
    // chunked, no length, never ends: written until the client hangs up
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    const entry = seen[seen.length - 1];
    res.write('{"v":1,"votes":[');
    while (!res.destroyed && written < 512 * 1024 * 1024) {
      if (!res.write(chunk)) {
        await new Promise<void>((r) => {
          const done = () => (res.off('drain', done), res.off('close', done), r());
          res.on('drain', done);
          res.on('close', done);
        });
      }
      written += chunk.length;
      entry.bytesWritten = written;
    }
  },
  '/redirect-302': (_req, res) => void res.writeHead(302, { location: secondUrl }).end(),
  '/redirect-307': (_req, res) => void res.writeHead(307, { location: secondUrl }).end(),
  '/redirect-308': (_req, res) => void res.writeHead(308, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
  '/drip': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
    res.on('close', () => clearInterval(t));
  },
  '/silent': () => {
    // accepts the request, never answers
  },
  '/bad-json': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"v":1,"votes":[{"persona":'),
  '/bad-utf8': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  '/status-500': (_req, res) => void res.writeHead(500).end('oops'),
  '/wrong-shape': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('[1,2,3]'),
};

beforeAll(async () => {
  model = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    void readAll(req).then(() => (routes[req.url ?? ''] ?? ((_q: IncomingMessage, s: ServerResponse) => void s.writeHead(404).end()))(req, res));
  });
  second = createNetServer((s) => {
    secondConnections++;
    s.destroy();
  });
  const closed = createNetServer();
  await Promise.all([
    new Promise<void>((r) => model.listen(0, '127.0.0.1', () => r())),
    new Promise<void>((r) => second.listen(0, '127.0.0.1', () => r())),
    new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r())),
  ]);
  base = `http://127.0.0.1:${(model.address() as AddressInfo).port}`;
  secondUrl = `http://127.0.0.1:${(second.address() as AddressInfo).port}/stolen`;
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
});

afterAll(async () => {
  model.closeAllConnections();
  await Promise.all([new Promise((r) => model.close(r)), new Promise((r) => second.close(r))]);
});

async function failure(path: string, opts: { timeoutMs?: number; token?: () => Promise<string>; url?: string } = {}): Promise<ImaError> {
  const m = new HttpPersonaModel({ url: opts.url ?? `${base}${path}`, timeoutMs: opts.timeoutMs ?? 10_000, token: opts.token });
  const err = await m.consult(CODE_COUNCIL, input).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImaError);
  expect((err as ImaError).errorClass).toBe('remote'); // the message comes back and is retried
  return err as ImaError;
}

describe('HttpPersonaModel against hostile loopback servers', () => {
  it('a well-formed answer is accepted (the set-up works)', async () => {
    const votes = await new HttpPersonaModel({ url: `${base}/good` }).consult(CODE_COUNCIL, input);
    expect(votes).toHaveLength(21);
  });

  it('a declared 50 MiB answer is refused on its Content-Length, before reading it', async () => {
    const e = await failure('/declared-huge');
    expect(e.code).toBe('PERSONA_MODEL_BAD_ANSWER');
    expect(e.message).toMatch(/declares 52428800 bytes/);
  });

  it('an endless streamed answer is cut at the byte cap and the connection closed', async () => {
    const e = await failure('/endless');
    expect(e.code).toBe('PERSONA_MODEL_BAD_ANSWER');
    expect(e.message).toContain(`larger than ${MAX_RESPONSE_BYTES} bytes`);
    const entry = seen.find((s) => s.path === '/endless')!;
    // the server stopped writing because the client hung up: far below the 512 MiB it would send
    // (what it wrote beyond the cap sat in the loopback socket buffers)
    await new Promise((r) => setTimeout(r, 200));
    expect(entry.bytesWritten).toBeLessThan(64 * 1024 * 1024);
    if (process.env.DEBUG_MODEL) console.error('endless: server wrote', entry.bytesWritten);
  });

  it.each(['/redirect-302', '/redirect-307'])('%s to a second loopback listener: refused, and that listener is never contacted', async (path) => {
    const e = await failure(path);
    expect(e.code).toBe('PERSONA_MODEL_FAILED');
    expect(e.message).toMatch(/redirect, which is never followed/);
    expect(secondConnections).toBe(0);
  });

  it('a redirect to a link-local address is refused without following it', async () => {
    const e = await failure('/redirect-308');
    expect(e.code).toBe('PERSONA_MODEL_FAILED');
  });

  it('a slow drip of bytes, and a server that never answers, end at the total timeout', async () => {
    expect((await failure('/drip', { timeoutMs: 800 })).code).toBe('PERSONA_MODEL_TIMEOUT');
    expect((await failure('/silent', { timeoutMs: 800 })).code).toBe('PERSONA_MODEL_TIMEOUT');
  });

  it('bad JSON, bad UTF-8, another shape and an error status are refused', async () => {
    expect((await failure('/bad-json')).code).toBe('PERSONA_MODEL_BAD_ANSWER');
    expect((await failure('/bad-utf8')).code).toBe('PERSONA_MODEL_BAD_ANSWER');
    expect((await failure('/wrong-shape')).code).toBe('PERSONA_MODEL_BAD_ANSWER');
    expect((await failure('/status-500')).code).toBe('PERSONA_MODEL_FAILED');
  });

  it('nothing listening: PERSONA_MODEL_UNREACHABLE', async () => {
    expect((await failure('', { url: `http://127.0.0.1:${closedPort}/v1` })).code).toBe('PERSONA_MODEL_UNREACHABLE');
  });

  it('sends the bearer token in Authorization (and none without one)', async () => {
    const n = seen.length;
    await new HttpPersonaModel({ url: `${base}/good`, token: async () => 'tok-abc.123' }).consult(CODE_COUNCIL, input);
    await new HttpPersonaModel({ url: `${base}/good` }).consult(CODE_COUNCIL, input);
    expect(seen.slice(n).map((s) => s.authorization)).toEqual(['Bearer tok-abc.123', undefined]);
  });

  it('a token that cannot be read fails the consultation (retried), nothing is sent', async () => {
    const n = seen.length;
    const err = await new HttpPersonaModel({ url: `${base}/good`, token: async () => Promise.reject(new ImaError('remote', 'AWS_UNREACHABLE', 'no')) })
      .consult(CODE_COUNCIL, input)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as ImaError).code).toBe('AWS_UNREACHABLE');
    expect(seen.length).toBe(n);
  });

  it('refuses a URL with credentials in it', () => {
    expect(() => new HttpPersonaModel({ url: 'https://user:pw@models.example.com/v1' })).toThrow(expect.objectContaining({ code: 'PERSONA_MODEL_INSECURE' }));
  });
});
