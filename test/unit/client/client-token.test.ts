// BlackBoxClient's bearer token (issue 12 item 10: the deployed proxy authenticates callers with a
// JWT): sent as `Authorization: Bearer <token>` on every call when given, never otherwise; a
// malformed token is a usage error that does not repeat it.
import { describe, expect, it } from 'vitest';
import { testKeySet } from '../../helpers/keyset.js';
import { BlackBoxClient, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf } from '../../../src/keys/key-dir.js';
import { requestHandle } from '../../../src/protocol/request.js';

const p = getProvider('node');
const keys = generateServiceKeys(p);
const pub = publicKeysOf(keys);
// the pin is the root's fingerprint; the document carries the root-signed key-set statement
const { pin, doc } = testKeySet(p, { keys });

/** A service that records each call's Authorization header; the decision poll answers 404. */
function service() {
  const auth: (string | undefined)[] = [];
  const fetch: FetchLike = async (url, init) => {
    auth.push(init?.headers?.authorization);
    const path = new URL(url).pathname;
    const [status, body] =
      path === '/api/keys'
        ? [200, doc]
        : init?.method === 'POST'
          ? [202, JSON.stringify({ handle: requestHandle(p, init.body!), status: 'queued' })]
          : [404, '{"error":{"code":"UNKNOWN_HANDLE","message":"no"}}'];
    // every answer is JSON (the client checks the content type of successes)
    const headers = { get: (n: string) => (n.toLowerCase() === 'content-type' ? 'application/json' : null) };
    return { status, headers, text: async () => body, arrayBuffer: async () => new TextEncoder().encode(body).buffer };
  };
  return { fetch, auth };
}

describe('BlackBoxClient token', () => {
  it('sends Authorization: Bearer <token> with the keys GET, the POST and the poll', async () => {
    const s = service();
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p, token: 'aaa.bbb.ccc', waitSeconds: 0, pollMs: 1 });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED' });
    expect(s.auth).toEqual(['Bearer aaa.bbb.ccc', 'Bearer aaa.bbb.ccc', 'Bearer aaa.bbb.ccc']);
  });

  it('sends no Authorization header without a token', async () => {
    const s = service();
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p, waitSeconds: 0, pollMs: 1 });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED' });
    expect(s.auth).toEqual([undefined, undefined, undefined]);
  });

  it.each([['empty', ''], ['with a space', 'a b'], ['with a newline', 'a\nb'], ['too long', 'x'.repeat(8193)]])('refuses a token: %s', (_, token) => {
    let err: unknown;
    try {
      new BlackBoxClient({ endpoint: 'http://svc.test', pin, provider: p, token });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'BAD_TOKEN', errorClass: 'usage' });
    if (token.length > 2) expect(String((err as Error).message)).not.toContain(token);
  });
});
