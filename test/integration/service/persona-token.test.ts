/**
 * The persona model's bearer token from Secrets Manager (SPEC §8.6/§8.8 PERSONA_MODEL_TOKEN_SECRET),
 * on moto_server: the worker reads it at start (a missing or malformed secret stops the start),
 * sends it as `Authorization: Bearer …` to the model service on loopback, and reads the secret
 * once (cached; a failed read is not cached). The token never appears in an error message.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { ImaError, RemoteError } from '../../../src/errors.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { CODE_COUNCIL } from '../../../src/service/council/councils.js';
import { secretToken, workerFromEnv } from '../../../src/service/wiring.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { memoryLogger, p, tempDir } from '../../unit/service/fixtures.js';

let moto: Moto;
let model: Server;
let modelUrl = '';
const authorizations: (string | undefined)[] = [];
const root = tempDir('ima-token-');
const TOKEN = 'tok-9f8e7d6c5b4a.QS~_+/==';

beforeAll(async () => {
  await writeCertifiedKeyDir(p, join(root, 'keys'), join(root, 'keys_root'));
  model = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    req.resume();
    req.on('end', () => {
      const votes = CODE_COUNCIL.personas.map((x) => ({ persona: x.id, vote: 'approve', confidence: 900, rationale: 'ok' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: 1, votes }));
    });
  });
  [moto] = await Promise.all([startMoto(), new Promise<void>((r) => model.listen(0, '127.0.0.1', () => r()))]);
  modelUrl = `http://127.0.0.1:${(model.address() as AddressInfo).port}/v1/consult`;
});
afterAll(async () => {
  await Promise.all([moto?.stop(), new Promise((r) => model.close(r))]);
});

const env = (over: Record<string, string> = {}) => ({
  ...moto.env,
  AWS_MAX_ATTEMPTS: '1',
  QUEUE_URL: `${moto.endpoint}/000000000000/ima-quantum-requests`,
  IMA_QS_PCR_ANCHOR: `simulated:${join(root, 'pcr.json')}`,
  KEYS_DIR: join(root, 'keys'),
  AUDIT_CHAIN_ID: 'token-test',
  PERSONA_MODEL_URL: modelUrl,
  PERSONA_MODEL_TOKEN_SECRET: 'ima/test/persona-model-token',
  ...over,
});
const store = () => SecretsManagerStore.fromOptions({}, moto.env);
const input = { route: 'analyze' as const, request_digest: 'cd'.repeat(32), payload: { name: 'a.py', content: 'x = 1\n' } };

async function startError(e: Record<string, string>): Promise<ImaError> {
  const err = await workerFromEnv(e, memoryLogger()).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(err).toBeInstanceOf(ImaError);
  return err as ImaError;
}

describe('PERSONA_MODEL_TOKEN_SECRET on moto_server', () => {
  it('the worker sends the token from the secret as a bearer token', async () => {
    await moto.reset();
    await store().create('ima/test/persona-model-token', { value: `${TOKEN}\n`, kmsKeyId: 'alias/aws/secretsmanager', tags: {} });
    const w = await workerFromEnv(env(), memoryLogger(), { inline: true });
    const model = w.deps![0].model;
    expect(model.name).toBe('http');
    const n = authorizations.length;
    await model.consult(CODE_COUNCIL, input);
    await model.consult(CODE_COUNCIL, input);
    expect(authorizations.slice(n)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  });

  it('is read once and kept; a failed read is not kept', async () => {
    await moto.reset();
    await store().create('ima/test/persona-model-token', { value: TOKEN, kmsKeyId: 'alias/aws/secretsmanager', tags: {} });
    const real = store();
    let gets = 0;
    let failNext = true;
    const counting = {
      get: async (name: string) => {
        gets++;
        if (failNext) {
          failNext = false;
          throw new RemoteError('AWS_UNREACHABLE', 'reading secret: connect ECONNREFUSED');
        }
        return real.get(name);
      },
    };
    const token = secretToken(counting, 'ima/test/persona-model-token');
    await expect(token()).rejects.toMatchObject({ code: 'AWS_UNREACHABLE' });
    expect(await token()).toBe(TOKEN);
    expect(await token()).toBe(TOKEN);
    expect(await Promise.all([token(), token()])).toEqual([TOKEN, TOKEN]);
    expect(gets).toBe(2);
  });

  it('a missing secret stops the start (exit 4); the model is never called', async () => {
    await moto.reset();
    const n = authorizations.length;
    const e = await startError(env());
    expect(e.code).toBe('AWS_NOT_FOUND');
    expect(e.exitCode).toBe(4);
    expect(authorizations.length).toBe(n);
  });

  it('a secret that is not a bearer token stops the start as CONFIG_INVALID, without echoing it', async () => {
    await moto.reset();
    await store().create('ima/test/persona-model-token', { value: 'two words secretvalue', kmsKeyId: 'alias/aws/secretsmanager', tags: {} });
    const e = await startError(env());
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details).toEqual({ variables: ['PERSONA_MODEL_TOKEN_SECRET'] });
    expect(JSON.stringify(e.toJSON())).not.toContain('secretvalue');
  });
});
