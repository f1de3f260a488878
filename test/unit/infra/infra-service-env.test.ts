// The contract between infra/ and src/service: the environment the Lambda and the ECS task get
// is exactly what the service reads (SPEC §8.8). The names the service reads are taken from its
// own source (src/service/wiring.ts, the entry points, the AWS client config), so renaming a
// variable on either side fails here. A mutated copy of infra/ proves the check can fail.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyInfra, INFRA_DIR } from '../../helpers/terraform.js';
import { repoRoot } from '../../helpers/cli.js';
import { loadInfra, resolveString, resourcesOf, type Block, type InfraModel } from './infra-model.js';

const SERVICE_SOURCES = ['src/service/config.ts', 'src/service/wiring.ts', 'src/service/worker/main.ts', 'src/service/proxy/lambda.ts', 'src/aws/config.ts'];

/** Every environment variable name the service code reads. */
async function namesTheServiceReads(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const f of SERVICE_SOURCES) {
    const text = await readFile(join(repoRoot, f), 'utf8');
    // env.NAME, process.env.NAME, and the readers of src/service/config.ts: int(env, problems, 'NAME' …
    for (const m of text.matchAll(/\b(?:env|process\.env)\.([A-Z][A-Z0-9_]*)\b|\(env, (?:problems, )?'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1] ?? m[2]);
  }
  return names;
}

const PROXY_REQUIRED = ['QUEUE_URL', 'REQUESTS_TABLE', 'DECISIONS_TABLE', 'PUBLIC_KEYS_SECRET'];
const WORKER_REQUIRED = ['QUEUE_URL', 'REQUESTS_TABLE', 'DECISIONS_TABLE', 'AUDIT_TABLE', 'KEYS_SECRET_PREFIX', 'IMA_QS_PCR_ANCHOR', 'TPM2TOOLS_TCTI', 'PCR_INDEX', 'VISIBILITY_SECONDS', 'AUDIT_CHECKPOINTS', 'AUDIT_CHECKPOINT_ENTRIES', 'AUDIT_CHECKPOINT_SECONDS'];
/** Read by Node itself, not by the service. */
const RUNTIME_NAMES = new Set(['NODE_OPTIONS']);

function proxyEnv(m: InfraModel): Block {
  const env = resourcesOf(m, 'aws_lambda_function')[0]?.body.environment;
  return ((Array.isArray(env) ? (env[0] as Block)?.variables : undefined) ?? {}) as Block;
}

function workerEnv(m: InfraModel): Block {
  return (m.locals.worker_env ?? {}) as Block;
}

function envFindings(m: InfraModel, read: Set<string>): string[] {
  const out: string[] = [];
  for (const [who, env, required] of [['proxy', proxyEnv(m), PROXY_REQUIRED], ['worker', workerEnv(m), WORKER_REQUIRED]] as const) {
    for (const k of Object.keys(env)) if (!read.has(k) && !RUNTIME_NAMES.has(k)) out.push(`${who}: ${k} is set but the service never reads it`);
    for (const k of required) if (!(k in env)) out.push(`${who}: ${k} is not set`);
  }
  return out;
}

let model: InfraModel;
let read: Set<string>;

beforeAll(async () => {
  [model, read] = await Promise.all([loadInfra(INFRA_DIR), namesTheServiceReads()]);
});

describe('infra sets exactly the environment the service reads (SPEC §8.8)', () => {
  it('finds the names in the service source (the extraction works)', () => {
    for (const n of [...PROXY_REQUIRED, ...WORKER_REQUIRED, 'AWS_REGION', 'WORKER_PIPELINES', 'COUNCIL_BUDGET_MS', 'PCR_LOCK_FILE', 'HEARTBEAT_FILE']) expect(read).toContain(n);
  });

  it('has no finding', () => {
    expect(envFindings(model, read)).toEqual([]);
  });

  it('passes the names, not secrets: the proxy gets the public-keys secret, the worker only the prefix', () => {
    const p = proxyEnv(model);
    expect(p.PUBLIC_KEYS_SECRET).toBe('${aws_secretsmanager_secret.public_keys[0].name}');
    expect(workerEnv(model).KEYS_SECRET_PREFIX).toBe('${var.secret_prefix}');
  });

  it('maps audit_anchor: tpm → a TPM through /dev/tpmrm0, none-explicit → the labelled simulated bank in /tmp', () => {
    const w = workerEnv(model);
    expect(String(w.IMA_QS_PCR_ANCHOR)).toMatch(/^\$\{local\.worker_tpm \? "tpm" : "simulated:\$\{local\.simulated_pcr_file\}"\}$/);
    expect(String(w.TPM2TOOLS_TCTI)).toMatch(/^\$\{local\.worker_tpm \? "device:\$\{local\.tpm_device\}" : ""\}$/);
    expect(resolveString(model, '${local.tpm_device}')).toBe('/dev/tpmrm0');
    // /tmp is the task's only writable path (read-only root file system)
    expect(String(resolveString(model, '${local.simulated_pcr_file}'))).toMatch(/^\/tmp\/[^/]+\.json$/);
    expect(String(model.locals.worker_tpm)).toBe('${var.audit_anchor == "tpm"}');
  });

  it('gives the worker its health check: node /app/health.mjs, as in the image', () => {
    const td = String(resourcesOf(model, 'aws_ecs_task_definition')[0].body.container_definitions);
    expect(td).toMatch(/healthCheck\s*=\s*\{[\s\S]*command\s*=\s*\["CMD", "node", "\/app\/health\.mjs"\]/);
  });
});

describe('the contract check fails on a renamed variable (mutated copy of infra/)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyInfra('ima-qs-infra-env-');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['lambda.tf', /(\n\s*)QUEUE_URL(\s*)=/, '$1IMA_QS_REQUESTS_QUEUE_URL$2=', 'proxy: QUEUE_URL is not set'],
    ['ecs.tf', /(\n\s*)AUDIT_TABLE(\s*)=/, '$1IMA_QS_AUDIT_TABLE$2=', 'worker: IMA_QS_AUDIT_TABLE is set but the service never reads it'],
    ['ecs.tf', /(\n\s*)TPM2TOOLS_TCTI(\s*)=/, '$1IMA_QS_TPM_DEVICE$2=', 'worker: TPM2TOOLS_TCTI is not set'],
  ])('%s: %s → %s', async (file, from, to, finding) => {
    const original = await readFile(join(dir, file), 'utf8');
    const mutated = original.replace(from, to);
    expect(mutated).not.toBe(original);
    await writeFile(join(dir, file), mutated);
    try {
      expect(envFindings(await loadInfra(dir), read)).toContain(finding);
    } finally {
      await writeFile(join(dir, file), original);
    }
  });
});
