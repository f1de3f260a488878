// BlackBoxClient against a hostile loopback server (issue 19), in-process on real sockets: for each
// of the three calls (keys, POST, decision poll) and each hostile mode, the request ends within
// its deadline + 1 s (the criterion; no start-up to add in-process) with a clear error
// naming the step, and for a stalled answer the SERVER sees the connection closed by the client:
// the abort really drops the socket. The per-step limits fire below the deadline; a drip defeats
// the body limit but not the deadline; the caller's signal stops a request; a fetch that ignores
// its signal still returns on time. No service here: the upstream is scripted (a real signed keys
// document, a 202 naming the digest of what was posted, a pending poll); the well-behaved request
// end to end is test/integration/client/hostile-request.test.ts.
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BlackBoxClient, type BlackBoxClientOptions, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf } from '../../../src/keys/key-dir.js';
import { testKeySet } from '../../helpers/keyset.js';
import { HOSTILE_MODES, type HostileCall, type HostileMode, type HostileServer, STALLING, startHostileServer, type Upstream } from '../../helpers/hostile-server.js';

const p = getProvider('node');
const keys = generateServiceKeys(p);
const pub = publicKeysOf(keys);
// the pin is the root's fingerprint; the document carries the root-signed key-set statement
const { pin, doc } = testKeySet(p, { keys });

/** A well-behaved scripted service: real keys, an honest 202, a decision that stays pending. */
const scripted: Upstream = async (req) => {
  if (req.path === '/api/keys') return { status: 200, type: 'application/json', body: Buffer.from(doc) };
  if (req.method === 'POST') {
    const handle = createHash('sha3-256').update(req.body).digest('hex');
    return { status: 202, type: 'application/json', body: Buffer.from(JSON.stringify({ handle, status: 'queued' })) };
  }
  return { status: 202, type: 'application/json', body: Buffer.from('{"status":"pending"}') };
};

const servers: HostileServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function hostile(call?: HostileCall, mode?: HostileMode): Promise<HostileServer> {
  const s = await startHostileServer(scripted);
  servers.push(s);
  s.misbehave(call, mode);
  return s;
}

const DEADLINE_MS = 1500;
const SLACK_MS = 1000; // the "deadline + 1 s"

async function timed(opts: Partial<BlackBoxClientOptions> & { endpoint: string }, signal?: AbortSignal) {
  const c = new BlackBoxClient({ pin, provider: p, timeoutMs: DEADLINE_MS, ...opts });
  const t0 = performance.now();
  const err = await c.request('analyze', { name: 'a.py', content: 'print(1)\n' }, signal).then(
    () => undefined,
    (e: unknown) => e as { code?: string; errorClass?: string; message: string; details?: Record<string, unknown> },
  );
  return { err, ms: performance.now() - t0 };
}

/** Waits (bounded) until every connection of `call` is closed, and says by whom. */
async function closedBy(s: HostileServer, call: HostileCall): Promise<('client' | 'server' | 'open')[]> {
  const conns = () => s.connections.filter((c) => c.call === call);
  for (let i = 0; i < 40 && conns().some((c) => c.closedAt === undefined); i++) await new Promise((r) => setTimeout(r, 50));
  return conns().map((c) => (c.closedAt === undefined ? 'open' : c.closedByServer ? 'server' : 'client'));
}

const expectedCode: Record<HostileMode, string> = {
  'stall-after-status': 'TIMEOUT',
  'stall-mid-headers': 'TIMEOUT',
  'stall-mid-body': 'TIMEOUT',
  'drip-headers': 'TIMEOUT',
  'drip-body': 'TIMEOUT',
  'redirect-self': 'REDIRECT_REFUSED',
  'redirect-other': 'REDIRECT_REFUSED',
  'close-mid-body': 'ANSWER_TRUNCATED',
  'wrong-type': 'BAD_CONTENT_TYPE',
};

describe.concurrent('BlackBoxClient against a hostile server: every case ends within the deadline + 1 s', () => {
  for (const call of ['keys', 'post', 'poll'] as const) {
    for (const mode of HOSTILE_MODES) {
      it(`${call}: ${mode} → ${expectedCode[mode]}`, async () => {
        const s = await hostile(call, mode);
        const { err, ms } = await timed({ endpoint: s.url });
        expect(err, 'the request must fail').toBeDefined();
        expect(err).toMatchObject({ code: expectedCode[mode], errorClass: 'remote' });
        expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        // the calls before the hostile one were made once, and none after it
        const order: HostileCall[] = ['keys', 'post', 'poll'];
        for (const c of order) expect(s.counts[c], c).toBe(order.indexOf(c) <= order.indexOf(call) ? 1 : 0);
        if (STALLING.has(mode)) {
          expect(err!.details).toMatchObject({ step: call, limit: 'deadline' });
          expect(err!.message).toContain(`step ${call}`);
          expect(await closedBy(s, call)).toEqual(['client']); // the abort dropped the socket
        }
        if (mode.startsWith('redirect')) {
          expect(err!.message).toContain(mode === 'redirect-self' ? s.url : s.otherUrl);
          expect(s.otherRequests).toEqual([]); // never re-sent elsewhere
          expect(s.connections.filter((c) => c.call === call)).toHaveLength(1); // nor to itself
        }
      });
    }
  }
});

describe('BlackBoxClient deadlines: the limits below the deadline, the caller, the fetch', () => {
  it('the headers limit fires below the deadline (stall after the status line)', async () => {
    const s = await hostile('keys', 'stall-after-status');
    const { err, ms } = await timed({ endpoint: s.url, timeoutMs: 20_000, headersTimeoutMs: 300 });
    expect(err).toMatchObject({ code: 'TIMEOUT', details: { step: 'keys', limit: 'headers', limitMs: 300 } });
    expect(ms).toBeLessThan(300 + SLACK_MS);
    expect(await closedBy(s, 'keys')).toEqual(['client']);
  });

  it('the body limit fires on a body that stops mid-way, not on one that drips faster than it', async () => {
    const s = await hostile('post', 'stall-mid-body');
    const stalled = await timed({ endpoint: s.url, timeoutMs: 20_000, bodyTimeoutMs: 300 });
    expect(stalled.err).toMatchObject({ code: 'TIMEOUT', details: { step: 'post', limit: 'body', limitMs: 300 } });
    expect(stalled.ms).toBeLessThan(300 + SLACK_MS);
    expect(await closedBy(s, 'post')).toEqual(['client']);
    // one byte a second never leaves the body silent for 1.5 s: only the deadline ends it
    const d = await hostile('post', 'drip-body');
    const dripped = await timed({ endpoint: d.url, timeoutMs: 2500, bodyTimeoutMs: 1500 });
    expect(dripped.err).toMatchObject({ code: 'TIMEOUT', details: { step: 'post', limit: 'deadline' } });
    expect(dripped.ms).toBeLessThan(2500 + SLACK_MS);
  });

  it('a long poll gets its wait on top of the headers limit; a decision that stays pending is TIMEOUT in step poll', async () => {
    const s = await hostile();
    const { err } = await timed({ endpoint: s.url, timeoutMs: 1200, headersTimeoutMs: 200, waitSeconds: 1, pollMs: 20 });
    expect(err).toMatchObject({ code: 'TIMEOUT', details: { step: 'poll', limit: 'deadline' } });
    expect(err!.message).toContain('still pending');
    expect(s.counts.poll).toBeGreaterThan(1);
  });

  it("the caller's signal stops a stalled request at once (REQUEST_ABORTED) and drops the socket", async () => {
    const s = await hostile('poll', 'stall-mid-body');
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error('user pressed stop')), 400);
    const { err, ms } = await timed({ endpoint: s.url, timeoutMs: 20_000 }, ctl.signal);
    clearTimeout(timer);
    expect(err).toMatchObject({ code: 'REQUEST_ABORTED' });
    expect(ms).toBeLessThan(400 + SLACK_MS);
    expect(await closedBy(s, 'poll')).toEqual(['client']);
  });

  it('a fetch that ignores its signal still returns at the deadline', async () => {
    const never: FetchLike = () => new Promise(() => undefined);
    const t0 = performance.now();
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, provider: p, fetch: never, timeoutMs: 500 });
    await expect(c.keys()).rejects.toMatchObject({ code: 'TIMEOUT', details: { step: 'keys' } });
    expect(performance.now() - t0).toBeLessThan(500 + SLACK_MS);
  });

  it('every request asks fetch not to follow redirects', async () => {
    const seen: (string | undefined)[] = [];
    const s = await hostile();
    const f: FetchLike = (url, init) => (seen.push(init?.redirect), (fetch as unknown as FetchLike)(url, init));
    const { err } = await timed({ endpoint: s.url, fetch: f, timeoutMs: 800, waitSeconds: 0 });
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seen)).toEqual(new Set(['manual']));
  });

  it("calls the runtime's own fetch on globalThis (a browser's fetch refuses another `this`)", async () => {
    const s = await hostile();
    const real = globalThis.fetch;
    globalThis.fetch = function (this: unknown, ...args: Parameters<typeof fetch>) {
      if (this !== globalThis && this !== undefined) throw new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation");
      return real(...args);
    } as typeof fetch;
    try {
      const c = new BlackBoxClient({ endpoint: s.url, pin, provider: p, timeoutMs: 5000 });
      await expect(c.keys()).resolves.toHaveProperty('composite');
    } finally {
      globalThis.fetch = real;
    }
  });
});
