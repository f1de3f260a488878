// The whole service on one machine (issue 6): the local stack in-process on port 0 with a temp
// state dir and the simulated bank; `request` through the program for both routes; response.json
// verified, then tampered with (each tamper → exit 1 naming the check); a wrong pin refused
// before anything is POSTed; a restart on the same state dir keeps keys and decisions.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir, verifyJson, writeSamples } from './helpers.js';

const tmp = tempDir('ima-local-');
const state = join(tmp.dir, 'state');
let stack: LocalStack;
let files: { code: string; claims: string };
const handles: Record<string, string> = {};
let analyzeSeq = -1;

beforeAll(async () => {
  files = writeSamples(tmp.dir);
  stack = await startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 2 });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  tmp.cleanup();
});

function tamper(src: string, name: string, edit: (doc: any) => void): string {
  const doc = JSON.parse(readFileSync(src, 'utf8'));
  edit(doc);
  const out = join(tmp.dir, `tampered-${name}.json`);
  writeFileSync(out, JSON.stringify(doc, null, 2));
  return out;
}

describe('local stack: request → response.json → verify', () => {
  it('starts with fresh keys and a labelled simulated anchor', () => {
    expect(stack.keysCreated).toBe(true);
    expect(stack.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(stack.anchor).toMatchObject({ kind: 'simulated', simulated: true, pcr: 11 });
  });

  it('the pin printed is the fingerprint `keys show STATE/keys` prints', async () => {
    const r = await runCli(['keys', 'show', join(state, 'keys'), '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(stack.fingerprint);
  });

  for (const route of ['analyze', 'patents'] as const) {
    it(`request ${route} verifies and writes response.json`, async () => {
      const out = join(tmp.dir, `response-${route}.json`);
      const r = await runCli(['request', route, route === 'analyze' ? files.code : files.claims, '--endpoint', stack.endpoint, '--pin', stack.fingerprint, '-o', out, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = r.json();
      expect(j.ok).toBe(true);
      expect(j.route).toBe(route);
      expect(j.votes).toHaveLength(21);
      expect(j.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
      expect(j.anchor).toBe('simulated');
      expect(j.audit.batch.statement.pcr.simulated).toBe(true);
      handles[route] = j.handle;
      if (route === 'analyze') analyzeSeq = j.audit.entry.seq;
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(doc.decision.request_digest).toBe(j.handle);
      expect(doc.decision.council).toBe(route === 'analyze' ? 'code-analysis' : 'legal-documents');

      const v = await verifyJson(out, { pin: stack.fingerprint, requestDigest: j.handle }, tmp.dir);
      expect(v.code).toBe(0);
      expect(v.doc.ok).toBe(true);
      expect(v.doc.checks.map((c) => c.name)).toEqual(
        expect.arrayContaining(['format', 'signer key', 'decision signature', 'votes root', 'tally', 'aggregation rule', 'payload digest', 'request digest', 'audit entry', 'batch signature', 'entry in batch', 'pcr anchor']),
      );
    }, 60_000);
  }

  it('verify --key STATE/keys accepts it too; another key does not', async () => {
    const out = join(tmp.dir, 'response-analyze.json');
    expect((await verifyJson(out, { key: join(state, 'keys') }, tmp.dir)).code).toBe(0);
    const v = await verifyJson(out, { pin: 'ab'.repeat(32) }, tmp.dir);
    expect(v.code).toBe(1);
    expect(v.doc.failed).toContain('signer key');
  });

  const cases: [string, (d: any) => void, string][] = [
    ['a vote', (d) => (d.votes[3].vote = d.votes[3].vote === 'approve' ? 'reject' : 'approve'), 'votes root'],
    ['a vote confidence', (d) => (d.votes[5].confidence = d.votes[5].confidence === 1000 ? 999 : d.votes[5].confidence + 1), 'votes root'],
    ['a vote rationale', (d) => (d.votes[0].rationale = d.votes[1].rationale + ' '), 'votes root'],
    [
      'the decision signature',
      (d) => {
        const s = fromBase64(d.signature);
        s[100] ^= 1;
        d.signature = toBase64(s);
      },
      'decision signature',
    ],
    ['the tally', (d) => (d.decision.tally.approve += 1), 'tally'],
    ['the outcome', (d) => (d.decision.outcome = d.decision.outcome === 'approve' ? 'reject' : 'approve'), 'aggregation rule'],
    ['the request digest', (d) => (d.decision.request_digest = 'ab'.repeat(32)), 'decision signature'],
    ['the pcr value of the batch statement', (d) => (d.audit.batch.statement.pcr.after = 'cd'.repeat(32)), 'batch signature'],
    ['the simulated flag', (d) => (d.audit.batch.statement.pcr.simulated = false), 'batch signature'],
    ['the entry proof', (d) => (d.audit.proof.index += 1), 'entry in batch'],
  ];
  for (const [what, edit, check] of cases) {
    it(`tampering with ${what} → exit 1 naming "${check}"`, async () => {
      const file = tamper(join(tmp.dir, 'response-analyze.json'), what.replace(/\W+/g, '-'), edit);
      const v = await verifyJson(file, { pin: stack.fingerprint }, tmp.dir);
      expect(v.code).toBe(1);
      expect(v.doc.ok).toBe(false);
      expect(v.doc.error?.code).toBe('RESPONSE_INVALID');
      expect(v.doc.failed).toContain(check);
    });
  }

  it('the request digest check: a response is not the answer to another request', async () => {
    const v = await verifyJson(join(tmp.dir, 'response-analyze.json'), { pin: stack.fingerprint, requestDigest: handles.patents }, tmp.dir);
    expect(v.code).toBe(1);
    expect(v.doc.failed).toEqual(['request digest']);
  });

  it('a pin mismatch is refused before anything is POSTed', async () => {
    const posts = () => (stack.http.byRoute['POST /api/analyze'] ?? 0) + (stack.http.byRoute['POST /api/patents'] ?? 0);
    const before = posts();
    const keysBefore = stack.http.byRoute['GET /api/keys'] ?? 0;
    const out = join(tmp.dir, 'never.json');
    const r = await runCli(['request', 'analyze', files.code, '--endpoint', stack.endpoint, '--pin', 'ef'.repeat(32), '-o', out, '--json']);
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('KEYS_DOC_PIN_MISMATCH');
    expect(stack.http.byRoute['GET /api/keys']).toBe(keysBefore + 1); // it did ask for the keys
    expect(posts()).toBe(before); // and sent nothing
    expect(() => readFileSync(out)).toThrow();
  });

  it('loadtest: a tiny bounded run reports latency percentiles with every request ok', async () => {
    const r = await runCli(['loadtest', '--endpoint', stack.endpoint, '--pin', stack.fingerprint, '--users', '2', '--duration', '2', '--max-requests', '6', '--json']);
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.requests.ok).toBeGreaterThan(0);
    expect(j.requests.errors).toBe(0);
    expect(j.requests.started).toBeLessThanOrEqual(6);
    expect(j.latencyMs.service.count).toBe(j.requests.ok);
    for (const k of ['p50', 'p95', 'p99', 'max', 'mean']) expect(j.latencyMs.service[k]).toBeGreaterThan(0);
    expect(j.latencyMs.service.p50).toBeLessThanOrEqual(j.latencyMs.service.p99);
    expect(j.throughputPerSecond).toBeGreaterThan(0);
    expect(j.budget).toMatchObject({ users: 100, p99Ms: 550, met: null });
  }, 60_000);

  it('service.log (0600) has the per-stage timings and no secret: no PEM, no private key bytes, no payload text', () => {
    const path = join(state, 'service.log');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const log = readFileSync(path, 'utf8');
    const lines = log.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === 'decision stored' && typeof l.ms?.total === 'number')).toBe(true);
    expect(log).not.toMatch(/-----BEGIN|PRIVATE KEY/);
    for (const name of readdirSync(join(state, 'keys')).filter((n) => n.includes('private'))) {
      const b64 = readFileSync(join(state, 'keys', name), 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
      const der = Buffer.from(b64, 'base64');
      // any 24-byte window of the private key, as base64 or hex, would be a leak
      for (let i = 0; i + 24 <= der.length; i += 8) {
        const w = der.subarray(i, i + 24);
        expect(log).not.toContain(w.toString('hex'));
        expect(log).not.toContain(w.toString('base64').slice(4, 28));
      }
    }
    expect(log).not.toContain('Add two numbers');
    expect(log).not.toContain('What is claimed');
  });

  it('a restart on the same state dir keeps the keys and the earlier decisions', async () => {
    const fp = stack.fingerprint;
    await stack.stop();
    stack = await startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 2 });
    expect(stack.keysCreated).toBe(false);
    expect(stack.fingerprint).toBe(fp);
    for (const h of Object.values(handles)) {
      const res = await fetch(`${stack.endpoint}/api/decisions/${h}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    // the audit chain continues where it was
    const r = await runCli(['request', 'analyze', files.code, '--endpoint', stack.endpoint, '--pin', fp, '--json']);
    expect(r.code).toBe(0);
    expect(r.json().audit.entry.seq).toBeGreaterThan(analyzeSeq);
  }, 60_000);

  it('a second stack on the same state dir is refused (STATE_IN_USE, exit 5)', async () => {
    await expect(startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 2 })).rejects.toMatchObject({ code: 'STATE_IN_USE' });
  });
});
