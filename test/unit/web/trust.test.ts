// The page's pin (src/web/page/trust.ts): one place decides which pin is used, and every way it can
// be wrong is refused before anything is fetched or sent.
import { describe, expect, it } from 'vitest';
import { choosePin, clientFor, pinFromFragment, rememberedGeneration } from '../../../src/web/page/trust.js';
import type { FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { testKeySet } from '../../helpers/keyset.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('the page pin', () => {
  it('reads #pin= from the fragment, ignoring other parameters', () => {
    expect(pinFromFragment(`#pin=${A}`)).toBe(A);
    expect(pinFromFragment(`#x=1&pin=${A}&y=2`)).toBe(A);
    expect(pinFromFragment('#pin=')).toBeUndefined();
    expect(pinFromFragment('')).toBeUndefined();
    expect(pinFromFragment('#other')).toBeUndefined();
    expect(pinFromFragment('#' + 'x'.repeat(5000))).toBeUndefined();
  });

  it('configuration, then link, then typed; spellings normalised like the CLI (sha3-256: prefix, upper case)', () => {
    expect(choosePin({ configured: A, fragment: A, typed: B })).toEqual({ pin: A, source: 'configuration' });
    expect(choosePin({ fragment: `sha3-256:${A.toUpperCase()}`, typed: B })).toEqual({ pin: A, source: 'link' });
    expect(choosePin({ typed: ` ${B} ` })).toEqual({ pin: B, source: 'typed' });
  });

  it('refuses a link that names another pin than the configuration, a malformed pin, and no pin', () => {
    expect(() => choosePin({ configured: A, fragment: B })).toThrow(expect.objectContaining({ code: 'PIN_CONFLICT' }));
    expect(() => choosePin({ fragment: 'abc' })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({ configured: A.slice(1) })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({ typed: 'g'.repeat(64) })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({})).toThrow(expect.objectContaining({ code: 'PIN_REQUIRED' }));
    expect(() => choosePin({ typed: '   ' })).toThrow(expect.objectContaining({ code: 'PIN_REQUIRED' }));
  });
});

describe('the page remembers the highest key-set generation per root across reloads (issue 15)', () => {
  const p = getProvider('node');
  const g1 = testKeySet(p);
  const g2 = testKeySet(p, { root: g1.root, previous: g1.keyset });
  const serving = (doc: string): FetchLike => async () => ({ status: 200, headers: { get: (h: string) => (h === 'content-type' ? 'application/json' : null) }, text: async () => doc, arrayBuffer: async () => new TextEncoder().encode(doc).buffer });
  const memory = () => {
    const m = new Map<string, string>();
    return { m, getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
  };
  const pin = { pin: g1.pin, source: 'typed' as const };

  it('a page that saw generation 2 refuses a generation-1 document after a reload; another root is unaffected', async () => {
    const store = memory();
    await clientFor(pin, { endpoint: 'http://svc.test', fetch: serving(g2.doc), provider: p }, store).keys();
    expect(rememberedGeneration(store, g1.pin)).toEqual({ generation: 2, signers: [g2.keyset.statement.signers.decisions.fingerprint] });
    // "reload": a new client over the same storage, served the old document
    const reloaded = clientFor(pin, { endpoint: 'http://svc.test', fetch: serving(g1.doc), provider: p }, store);
    await expect(reloaded.keys()).rejects.toMatchObject({ code: 'KEYS_DOC_ROLLBACK' });
    // without the memory, the same old document is accepted (what the store adds)
    await expect(clientFor(pin, { endpoint: 'http://svc.test', fetch: serving(g1.doc), provider: p }).keys()).resolves.toMatchObject({ generation: 1 });
    expect(rememberedGeneration(store, 'c'.repeat(64))).toBeUndefined();
  });

  it('ignores a stored entry that is not exactly {generation, signers}, and storage that throws', () => {
    const store = memory();
    const key = `ima-qs/generation/${g1.pin}`;
    for (const bad of ['{"generation":0,"signers":[]}', '{"generation":2}', '{"generation":2,"signers":["x"]}', '{"generation":2,"signers":[],"extra":1}', '{"generation":2,"generation":3,"signers":[]}', 'not json']) {
      store.m.set(key, bad);
      expect(rememberedGeneration(store, g1.pin), bad).toBeUndefined();
    }
    const throwing = { getItem: () => { throw new Error('SecurityError'); }, setItem: () => { throw new Error('QuotaExceeded'); } };
    expect(rememberedGeneration(throwing, g1.pin)).toBeUndefined();
    expect(() => clientFor(pin, { endpoint: 'http://svc.test', provider: p }, throwing)).not.toThrow();
  });
});
