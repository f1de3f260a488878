/**
 * Rotation by generation end to end on the local stack (SPEC §7.2), with requests in flight:
 * three clients send requests back to back the whole time, re-fetching the keys document every
 * 300 ms, while the stack goes publish → (restart: a worker started mid-rotation) → switch →
 * retire. None is refused and every answer verifies against the root pin; a client that kept the
 * old document seals to the old generation across the switch and is still served; once a newer
 * generation was seen, the old keys document is refused by the client and by `ima-qs verify`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlackBoxClient, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { rotateLocal } from '../../../src/local/local-keys.js';
import { STATE_LAYOUT, startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { runCli } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/wait.js';
import { tempDir } from './helpers.js';

const p = getProvider('node');
const tmp = tempDir('ima-rotate-');
const state = join(tmp.dir, 'state');
let stack: LocalStack | undefined;
const start = () => startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 2, keysReloadMs: 200 });
const held = (s: LocalStack) => s.ring.sets.map((x) => `${x.stage}:${x.generation}`).sort();

interface Outcome {
  ok: boolean;
  generation?: number;
  code?: string;
  phase: string;
}

/** N clients sending back to back until stopped; every outcome recorded with the phase it started in. */
function load(endpoint: string, pin: string, phase: () => string, n = 3) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loops = Array.from({ length: n }, async (_, i) => {
    const c = new BlackBoxClient({ endpoint, pin, provider: p, keysCacheMs: 300, timeoutMs: 60_000, waitSeconds: 5 });
    for (let k = 0; !stopped; k++) {
      const at = phase();
      try {
        const r = await c.request('analyze', { name: `f${i}-${k}.ts`, content: `export const v${i}_${k} = ${k};\n` });
        outcomes.push({ ok: true, generation: (r.response as any).certification.keyset.statement.generation, phase: at });
      } catch (e) {
        outcomes.push({ ok: false, code: (e as { code?: string }).code, phase: at });
      }
    }
  });
  return {
    outcomes,
    async until(count: number) {
      await waitFor(async () => (outcomes.length >= count ? true : undefined), `${count} answers`, 120_000);
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

beforeAll(async () => {
  stack = await start();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  tmp.cleanup();
});

describe('rotation on the local stack with requests in flight', () => {
  it('publish → a worker started mid-rotation → switch → retire: none refused, every answer verifies', async () => {
    let s = stack!;
    const pin = s.fingerprint;
    const doc1 = readFileSync(join(state, STATE_LAYOUT.keysDocument), 'utf8');
    expect(JSON.parse(doc1).current.statement.generation).toBe(1);
    // a client that fetched generation 1's document and keeps it (its cache outlives the switch)
    const stale = new BlackBoxClient({ endpoint: s.endpoint, pin, provider: p, keysCacheMs: 600_000, timeoutMs: 60_000 });
    expect((await stale.keys()).generation).toBe(1);
    const before = await stale.request('analyze', { name: 'before.ts', content: 'export const before = 1;\n' });

    let phase = 'gen1';
    let l = load(s.endpoint, pin, () => phase);
    await l.until(3);

    // phase 1: publish generation 2 (new KEM keys, the same signing key); the worker picks it up
    phase = 'publishing'; // requests started now may still be signed under generation 1
    expect((await rotateLocal(p, state, { expect: 'publish', now: new Date() })).generation).toBe(2);
    await waitFor(async () => (held(s).join() === 'current:1,pending:2' ? true : undefined), 'the worker holds generation 2');
    phase = 'publish';
    await l.until(l.outcomes.length + 6);
    await l.stop();
    // the document as served since (STATE/public-keys.json is rewritten when the generations change)
    const published = JSON.parse(readFileSync(join(state, STATE_LAYOUT.keysDocument), 'utf8'));

    // a worker started mid-rotation (between publish and switch) loads both generations and serves
    await s.stop();
    stack = s = await start();
    expect(held(s)).toEqual(['current:1', 'pending:2']);
    expect(published.current.statement.generation).toBe(1);
    expect(published.accepted.map((a: any) => a.statement.generation)).toEqual([2]);
    const restarted = load(s.endpoint, pin, () => phase);
    await restarted.until(3);

    // phase 2: switch; the stale client still seals to generation 1 and is served (the overlap)
    phase = 'switch';
    await rotateLocal(p, state, { expect: 'switch', now: new Date() });
    await waitFor(async () => (held(s).join() === 'current:2,previous:1' ? true : undefined), 'the switch reaches the worker');
    const origFetch = (globalThis as { fetch: FetchLike }).fetch.bind(globalThis);
    const oldDocFetch: FetchLike = async (url, init) => {
      if (String(url).endsWith('/api/keys')) return { status: 200, headers: { get: (h: string) => (h === 'content-type' ? 'application/json' : null) }, text: async () => doc1, arrayBuffer: async () => new TextEncoder().encode(doc1).buffer } as never;
      return origFetch(url, init);
    };
    const holder = new BlackBoxClient({ endpoint: s.endpoint, pin, provider: p, fetch: oldDocFetch, timeoutMs: 60_000 });
    const acrossSwitch = await holder.request('analyze', { name: 'across.ts', content: 'export const across = 1;\n' });
    expect(acrossSwitch.response.decision.outcome).toBeDefined();
    await restarted.until(restarted.outcomes.length + 6);

    // phase 3: retire; generation 1 is no longer decrypted
    phase = 'retire';
    await rotateLocal(p, state, { expect: 'retire', now: new Date() });
    await waitFor(async () => (held(s).join() === 'current:2' ? true : undefined), 'the retire reaches the worker');
    await restarted.until(restarted.outcomes.length + 3);
    await restarted.stop();

    const all = [...l.outcomes, ...restarted.outcomes];
    expect(all.filter((o) => !o.ok)).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(20);
    // from the publish on, every worker signs under the newest generation it holds
    expect(new Set(all.filter((o) => o.phase !== 'gen1' && o.phase !== 'publishing').map((o) => o.generation))).toEqual(new Set([2]));
    expect(all.filter((o) => o.phase === 'publish').length).toBeGreaterThan(0);
    expect((before.response as any).certification.keyset.statement.generation).toBe(1);
    expect((acrossSwitch.response as any).certification.keyset.statement.generation).toBe(2);

    // after the retire, a request sealed to generation 1 is refused at the door (WRONG_RECIPIENT);
    // a client that re-fetches the document is served
    await expect(new BlackBoxClient({ endpoint: s.endpoint, pin, provider: p, fetch: oldDocFetch }).request('analyze', { name: 'late.ts', content: 'x\n' })).rejects.toMatchObject({
      code: 'SERVICE_REFUSED',
      details: { serviceCode: 'WRONG_RECIPIENT' },
    });

    // the rollback: a client that saw generation 2 refuses the generation-1 document…
    let serveOld = false;
    const switching: FetchLike = async (url, init) => (serveOld ? oldDocFetch(url, init) : origFetch(url, init));
    const seer = new BlackBoxClient({ endpoint: s.endpoint, pin, provider: p, fetch: switching, keysCacheMs: 0 });
    expect((await seer.keys()).generation).toBe(2);
    serveOld = true;
    await expect(seer.request('analyze', { name: 'r.ts', content: 'x\n' })).rejects.toMatchObject({ code: 'KEYS_DOC_ROLLBACK', exitCode: 1 });

    // …and so does `ima-qs verify`, once it has seen generation 2 (the state file per root pin)
    const env = { ...process.env, XDG_STATE_HOME: join(tmp.dir, 'xdg') };
    const oldFile = join(tmp.dir, 'keys-gen1.json');
    const newFile = join(tmp.dir, 'keys-gen2.json');
    writeFileSync(oldFile, doc1);
    writeFileSync(newFile, readFileSync(join(state, STATE_LAYOUT.keysDocument)));
    expect((await runCli(['verify', oldFile, '--pin', pin, '--json'], { env })).code).toBe(0); // nothing newer seen yet
    const seen2 = await runCli(['verify', newFile, '--pin', pin, '--json'], { env });
    expect(seen2.code, seen2.stdout).toBe(0);
    expect(seen2.json()).toMatchObject({ generation: 2, highestSeen: 2 });
    const rolled = await runCli(['verify', oldFile, '--pin', pin, '--json'], { env });
    expect(rolled.code).toBe(1);
    expect(rolled.json().error.code).toBe('KEYS_DOC_ROLLBACK');
    // a decision certified by generation 1 before the rotation still verifies: generation 2 kept its signer
    const oldResponse = join(tmp.dir, 'before.json');
    writeFileSync(oldResponse, JSON.stringify(before.response));
    const archived = await runCli(['verify', oldResponse, '--pin', pin, '--json'], { env });
    expect(archived.code, archived.stdout).toBe(0);
    expect(archived.json().checks.find((c: any) => c.name === 'signer key').detail).toMatch(/still certifies this signer/);
    // --reset-generation forgets what was seen
    expect((await runCli(['verify', oldFile, '--pin', pin, '--reset-generation', '--json'], { env })).code).toBe(0);
    // every answer of the run verifies offline with the root pin alone
    expect(verifyResponse(p, acrossSwitch.response, pin, { requestDigest: acrossSwitch.handle }).ok).toBe(true);
    // and so does the audit log across the rotation, with its checkpoints: the audit key and the
    // batch signer are trusted through the statements of both generations stored beside them
    const audited = await runCli(['audit', 'verify', '--state', state, '--pin', pin, '--json'], { env });
    expect(audited.code, audited.stdout).toBe(0);
    expect(audited.json().root).toMatchObject({ pin, generations: [1, 2], refused: [] });
    expect(audited.json().chains.every((c: any) => c.ok && c.checkpoints?.registered)).toBe(true);
  }, 300_000);
});
