/**
 * `ima-qs rollout day N` against moto_server with resources created by the test: a healthy account
 * passes; a missing table, a disabled KMS key, an unmatched fingerprint, a stopped worker, PEM in
 * the logs, a tampered audit entry each fail with exit 5 naming the item; prompts are scripted;
 * state persists between runs.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DisableKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { createPublicKeysDocument, publicKeysDocumentText } from '../../../src/protocol/keys-document.js';
import { testKeySet, writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { type ServiceKeys, fingerprints, generateServiceKeys, publicKeysOf, writeKeyDir } from '../../../src/keys/key-dir.js';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { NAMES, clients, createAlarms, createInfrastructure, createLambda, createLogGroups, createWorker, writeAuditEntries } from './account.js';

const p = defaultProvider();
let moto: Moto;
let dir: string;
let keys: ServiceKeys;
let otherKeysDir: string;
let keysDir: string;
/** the root's fingerprint (keys generate writes the root beside the folder) */
let pin: string;
let mine: Awaited<ReturnType<typeof writeCertifiedKeyDir>>;

beforeAll(async () => {
  moto = await startMoto();
  dir = await mkdtemp(join(tmpdir(), 'ima-rollout-'));
  keysDir = join(dir, 'quantum_keys');
  mine = await writeCertifiedKeyDir(p, keysDir, join(dir, 'quantum_keys_root'));
  keys = mine.keys;
  otherKeysDir = join(dir, 'other_keys');
  await writeCertifiedKeyDir(p, otherKeysDir, join(dir, 'other_keys_root'));
  pin = mine.pin;
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let stateFile: string;
let n = 0;
beforeEach(async () => {
  await moto.reset();
  stateFile = join(dir, `state-${++n}.json`);
});

const cli = (argv: string[], over: Parameters<typeof runCli>[1] = {}) =>
  runCli(argv, { env: { ...process.env, ...moto.env }, cwd: dir, ...over });

async function uploadKeys() {
  const r = await cli(['keys', 'upload', '--keys', keysDir, '--kms-key', NAMES.alias, '--yes', '--json']);
  expect(r.code, r.stderr).toBe(0);
}

function statusOf(doc: any, id: string): string {
  return doc.items.find((i: any) => i.id === id)?.status;
}

describe('rollout day 1 (keys and infrastructure)', () => {
  it('passes every automated item of a healthy account and records them', async () => {
    await createInfrastructure(moto);
    await uploadKeys();
    const r = await cli(['rollout', 'day', '1', '--keys', keysDir, '--yes', '--state', stateFile, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const doc = r.json();
    for (const id of ['d1.kms-key', 'd1.keys-uploaded', 'd1.tables', 'd1.queue', 'd1.log-groups']) expect(statusOf(doc, id), id).toBe('pass');
    for (const id of ['d1.keys-generated', 'd1.iam-policies']) expect(statusOf(doc, id)).toBe('confirmed');
    expect(doc.complete).toBe(true);
    expect(doc.account).toMatch(/^\d{12}$/);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved.items['d1.tables'].status).toBe('pass');
    expect(saved.items['d1.iam-policies'].by).toBe('--yes');
  });

  it('with only --pin compares the secrets through the pinned public-keys document', async () => {
    await createInfrastructure(moto);
    await uploadKeys();
    const r = await cli(['rollout', 'day', '1', '--pin', pin, '--yes', '--state', stateFile, '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json().items.find((i: any) => i.id === 'd1.keys-uploaded').detail).toContain('pinned public-keys document');
  });

  it('a missing table fails d1.tables with exit 5', async () => {
    await createInfrastructure(moto);
    await uploadKeys();
    await clients(moto).ddb.send(new DeleteTableCommand({ TableName: NAMES.tables.decisions }));
    const r = await cli(['rollout', 'day', '1', '--keys', keysDir, '--yes', '--state', stateFile, '--json']);
    expect(r.code).toBe(5);
    const doc = r.json();
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe('ROLLOUT_CHECK_FAILED');
    expect(doc.error.details.items).toEqual(['d1.tables']);
    expect(doc.error.hint).toContain('d1.tables:');
    expect(statusOf(doc, 'd1.tables')).toBe('fail');
    expect(doc.items.find((i: any) => i.id === 'd1.tables').detail).toContain(`table ${NAMES.tables.decisions} not found`);
  });

  it('a disabled KMS key fails d1.kms-key with exit 5', async () => {
    await createInfrastructure(moto);
    await uploadKeys();
    const { kms } = clients(moto);
    const keyId = (await kms.send(new DescribeKeyCommand({ KeyId: NAMES.alias }))).KeyMetadata!.KeyId!;
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    const r = await cli(['rollout', 'day', '1', '--keys', keysDir, '--yes', '--state', stateFile, '--json']);
    expect(r.code).toBe(5);
    const doc = r.json();
    expect(doc.error.code).toBe('ROLLOUT_CHECK_FAILED');
    expect(doc.error.details.items).toContain('d1.kms-key');
    expect(doc.items.find((i: any) => i.id === 'd1.kms-key').detail).toContain('Disabled');
  });

  it('secrets holding other keys than the local files fail d1.keys-uploaded', async () => {
    await createInfrastructure(moto);
    await uploadKeys();
    const r = await cli(['rollout', 'day', '1', '--keys', otherKeysDir, '--yes', '--state', stateFile, '--json']);
    expect(r.code).toBe(5);
    const doc = r.json();
    expect(doc.error.details.items).toEqual(['d1.keys-uploaded']);
    expect(doc.items.find((i: any) => i.id === 'd1.keys-uploaded').detail).toMatch(/holds another statement of generation 1 as current/);
  });

  it('missing secrets fail d1.keys-uploaded; no credentials is exit 4', async () => {
    await createInfrastructure(moto);
    const r = await cli(['rollout', 'day', '1', '--keys', keysDir, '--yes', '--state', stateFile, '--json']);
    expect(r.code).toBe(5);
    expect(r.json().error.details.items).toEqual(['d1.keys-uploaded']);
    const env: Record<string, string | undefined> = { ...process.env, ...moto.env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: 'ima-none', AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') };
    const r2 = await runCli(['rollout', 'day', '1', '--keys', keysDir, '--yes', '--state', stateFile, '--json'], { env, cwd: dir });
    expect(r2.code).toBe(4);
    expect(r2.json().error.code).toMatch(/^AWS_/);
  });
});

describe('manual items and state', () => {
  it('--json without --yes on a pending manual item is a usage error naming --yes / --confirm', async () => {
    const r = await cli(['rollout', 'day', '0', '--state', stateFile, '--json']);
    expect(r.code).toBe(2);
    const doc = r.json();
    expect(doc.error.code).toBe('CONFIRMATION_REQUIRED');
    expect(doc.error.hint).toContain('--yes');
    expect(doc.error.hint).toContain('--confirm d0.plan-reviewed');
  });

  it('asks on a TTY with scripted answers, keeps the answers, and status shows them', async () => {
    const asked: string[] = [];
    const answers = [true, false, true]; // d0.plan-reviewed yes, d0.terraform-state no, d0.audit-anchor yes
    const confirm = async (m: string) => {
      asked.push(m);
      return answers.shift()!;
    };
    const r = await cli(['rollout', 'day', '0', '--state', stateFile], { interactive: true, confirm });
    expect(r.code, r.stderr).toBe(0);
    expect(asked.map((m) => m.split(':')[0])).toEqual(['d0.plan-reviewed', 'd0.terraform-state', 'd0.audit-anchor']);
    expect(r.stdout).toContain('d0.caller-identity');

    // second run: only the still-pending item is asked; --confirm answers it without a prompt
    const again: string[] = [];
    const r2 = await cli(['rollout', 'day', '0', '--state', stateFile, '--confirm', 'd0.terraform-state', '--json'], {
      interactive: true,
      confirm: async (m) => (again.push(m), true),
    });
    expect(r2.code, r2.stdout).toBe(0);
    expect(again).toEqual([]);
    const doc = r2.json();
    expect(doc.complete).toBe(true);
    expect(doc.items.find((i: any) => i.id === 'd0.terraform-state').by).toBe('--confirm');
    expect(doc.items.find((i: any) => i.id === 'd0.plan-reviewed').by).toBe('prompt');

    const s = await cli(['rollout', 'status', '--state', stateFile, '--json']);
    expect(s.code).toBe(0);
    const st = s.json();
    expect(st.days[0].complete).toBe(true);
    expect(st.days[1].complete).toBe(false);
    expect(st.summary).toContain('1/6 days complete; next: day 1');
  });

  it('--confirm of an unknown item is a usage error', async () => {
    const r = await cli(['rollout', 'day', '0', '--state', stateFile, '--confirm', 'd0.nope', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('UNKNOWN_ITEM');
  });
});

describe('rollout days 2-5', () => {
  let server: Server | undefined;
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** GET /api/keys → the document; with `token`, only for `Authorization: Bearer <token>` (else 401, as API Gateway) */
  async function serveDocument(body: string, token?: string): Promise<string> {
    server?.close();
    server = createServer((req, res) => {
      if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
      } else if (req.url === '/api/keys') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
        res.end(body);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const addr = server.address() as { port: number };
    return `http://127.0.0.1:${addr.port}`;
  }

  /** the document our root publishes (the keys given), or with `stranger` one of another root */
  const doc = (k: ServiceKeys, stranger = false) =>
    stranger ? testKeySet(p, { keys: k }).doc : publicKeysDocumentText(createPublicKeysDocument({ root: mine.root.publicKey, current: testKeySet(p, { keys: k, root: mine.root }).keyset }));

  it('day 2: the deployed proxy and its /api/keys document signed by the pinned key pass (with the API token)', async () => {
    await createLambda(moto);
    const url = await serveDocument(doc(keys), 'jwt-for-the-rollout');
    const r = await cli(['rollout', 'day', '2', '--keys', keysDir, '--token', 'jwt-for-the-rollout', '--resource', `api.url=${url}`, '--yes', '--state', stateFile, '--json']);
    expect(r.code, r.stdout).toBe(0);
    const d = r.json();
    expect(statusOf(d, 'd2.lambda-deployed')).toBe('pass');
    expect(d.items.find((i: any) => i.id === 'd2.lambda-deployed').detail).toContain('alias live → version 2');
    expect(statusOf(d, 'd2.api-keys')).toBe('pass');
    expect(r.stdout).not.toContain('jwt-for-the-rollout'); // the token is never printed
    // without the token the authenticated API refuses, and the item says what to pass
    const no = await cli(['rollout', 'day', '2', '--keys', keysDir, '--resource', `api.url=${url}`, '--yes', '--state', stateFile, '--json']);
    expect(no.code).toBe(5);
    expect(no.json().items.find((i: any) => i.id === 'd2.api-keys').detail).toContain('HTTP 401 (the API authenticates callers: pass --token or IMA_QS_TOKEN)');
  });

  it('day 2: a document signed by another key fails d2.api-keys', async () => {
    await createLambda(moto);
    const url = await serveDocument(doc(generateServiceKeys(p), true));
    const r = await cli(['rollout', 'day', '2', '--pin', pin, '--resource', `api.url=${url}`, '--yes', '--state', stateFile, '--json']);
    expect(r.code).toBe(5);
    expect(r.json().error.details.items).toEqual(['d2.api-keys']);
  });

  it('day 3: a running worker and valid audit signatures pass; a tampered entry or a stopped worker fail', async () => {
    const keyArn = await createInfrastructure(moto);
    void keyArn;
    await uploadKeys();
    await createWorker(moto, true);
    await writeAuditEntries(moto, p, keys, 3);
    const r = await cli(['rollout', 'day', '3', '--pin', pin, '--yes', '--state', stateFile, '--json']);
    expect(r.code, r.stdout).toBe(0);
    const d = r.json();
    expect(statusOf(d, 'd3.worker-running')).toBe('pass');
    expect(d.items.find((i: any) => i.id === 'd3.worker-running').detail).toContain('Fargate: no TPM');
    const signed = d.items.find((i: any) => i.id === 'd3.decisions-signed');
    expect(signed.status).toBe('pass');
    expect(signed.detail).toMatch(/^3 valid: .*context ima-qs\/v2\/batch.*3 sealed decision/);

    await moto.reset();
    await createInfrastructure(moto);
    await uploadKeys();
    await createWorker(moto, false);
    await writeAuditEntries(moto, p, keys, 3, true);
    const bad = await cli(['rollout', 'day', '3', '--pin', pin, '--yes', '--state', stateFile, '--json']);
    expect(bad.code).toBe(5);
    expect(bad.json().error.details.items).toEqual(['d3.worker-running', 'd3.decisions-signed']);
  });

  it('day 4: PEM armor in a log group fails d4.no-key-material-in-logs; clean logs pass; d4.load-test and d4.unauthenticated-refused without a URL or a pin fail', async () => {
    // the load test itself against a running service: rollout-load.test.ts
    await createLogGroups(moto);
    const ok = await cli(['rollout', 'day', '4', '--pin', pin, '--yes', '--state', stateFile, '--json']);
    expect(ok.code, ok.stdout).toBe(5);
    expect(ok.json().error.details.items).toEqual(['d4.unauthenticated-refused', 'd4.load-test']);
    const item = ok.json().items.find((i: any) => i.id === 'd4.no-key-material-in-logs');
    expect(item.status).toBe('pass');
    expect(item.detail).toContain('/ecs/ima-quantum-worker: 1 events');
    const lt = ok.json().items.find((i: any) => i.id === 'd4.load-test');
    expect(lt.kind).toBe('auto');
    expect(lt.detail).toContain(`no URL for the proxy: ${NAMES.fn} has no function URL and no api.url is configured`);

    await moto.reset();
    await createLogGroups(moto, ['starting', 'loaded key -----BEGIN PRIVATE KEY----- MC4CAQAwBQYDK2VwBCIEIA']);
    const bad = await cli(['rollout', 'day', '4', '--resource', 'api.url=http://127.0.0.1:9', '--yes', '--state', stateFile, '--json']);
    expect(bad.code).toBe(5);
    const d = bad.json();
    expect(d.error.details.items).toEqual(['d4.unauthenticated-refused', 'd4.load-test', 'd4.no-key-material-in-logs']);
    expect(d.items.find((i: any) => i.id === 'd4.unauthenticated-refused').detail).toContain('GET http://127.0.0.1:9/api/keys: unreachable');
    expect(d.items.find((i: any) => i.id === 'd4.load-test').detail).toContain('no --pin FINGERPRINT');
    expect(d.items.find((i: any) => i.id === 'd4.no-key-material-in-logs').detail).toContain('pem-armor in /aws/lambda/ima-quantum-proxy');
    expect(bad.stdout).not.toContain('MC4CAQAwBQYDK2VwBCIEIA'); // the finding never repeats the text
  });

  it('day 5: an empty dead-letter queue and OK alarms that notify a topic pass', async () => {
    await createInfrastructure(moto);
    await createAlarms(moto, 'arn:aws:sns:eu-central-1:123456789012:ima-oncall');
    const r = await cli(['rollout', 'day', '5', '--yes', '--state', stateFile, '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(statusOf(r.json(), 'd5.dlq-empty')).toBe('pass');
    expect(statusOf(r.json(), 'd5.alarms-ok')).toBe('pass');
    expect(r.json().complete).toBe(true);
  });
});
