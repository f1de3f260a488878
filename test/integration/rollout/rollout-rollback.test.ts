/**
 * `ima-qs rollout rollback` against moto_server: a Lambda function with two published versions
 * behind alias `live`, and the worker ECS service. The plan changes nothing; --execute moves the
 * alias to the previous version and scales the worker to 0, after confirmation; with an Application
 * Auto Scaling target on the worker (infra/autoscaling.tf) it first sets the range to 0-0, so the
 * scaler cannot bring the worker back (moto records the range; it does not move the count itself).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { NAMES, clients, createLambda, createScalableTarget, createWorker } from './account.js';

let moto: Moto;
let dir: string;

beforeAll(async () => {
  moto = await startMoto();
  dir = await mkdtemp(join(tmpdir(), 'ima-rollback-'));
}, 60_000);
afterAll(async () => {
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => moto.reset());

const cli = (argv: string[], over: Parameters<typeof runCli>[1] = {}) => runCli(argv, { env: { ...process.env, ...moto.env }, cwd: dir, ...over });

async function current() {
  const { lambda, ecs } = clients(moto);
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: NAMES.fn, Name: 'live' }));
  const svc = (await ecs.send(new DescribeServicesCommand({ cluster: NAMES.cluster, services: [NAMES.service] }))).services![0];
  return { version: alias.FunctionVersion, desired: svc.desiredCount };
}

describe('rollout rollback', () => {
  it('prints the plan and changes nothing without --execute', async () => {
    await createLambda(moto);
    await createWorker(moto, true);
    const r = await cli(['rollout', 'rollback', '--json']);
    expect(r.code, r.stdout).toBe(0);
    const doc = r.json();
    expect(doc.executed).toBe(false);
    expect(doc.steps).toMatchObject([
      { id: 'lambda-alias', kind: 'run', from: '2', to: '1' },
      { id: 'worker-scale', kind: 'run', from: '2', to: '0' },
    ]);
    expect(await current()).toEqual({ version: '2', desired: 2 });
  });

  it('--execute with --json needs --yes', async () => {
    await createLambda(moto);
    await createWorker(moto, true);
    const r = await cli(['rollout', 'rollback', '--execute', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('CONFIRMATION_REQUIRED');
    expect(await current()).toEqual({ version: '2', desired: 2 });
  });

  it('a "no" on the prompt changes nothing; a "yes" runs both steps', async () => {
    await createLambda(moto);
    await createWorker(moto, true);
    const no = await cli(['rollout', 'rollback', '--execute'], { interactive: true, confirm: async () => false });
    expect(no.code).toBe(0);
    expect(no.stdout).toContain('nothing changed');
    expect(await current()).toEqual({ version: '2', desired: 2 });

    const asked: string[] = [];
    const yes = await cli(['rollout', 'rollback', '--execute'], { interactive: true, confirm: async (m) => (asked.push(m), true) });
    expect(yes.code, yes.stderr).toBe(0);
    expect(asked[0]).toContain('from version 2 to version 1');
    expect(await current()).toEqual({ version: '1', desired: 0 });

    // again: the alias is on the first version and the worker at 0 — nothing left to run
    const again = await cli(['rollout', 'rollback', '--execute', '--yes', '--json']);
    expect(again.code).toBe(5);
    const doc = again.json();
    expect(doc.error.code).toBe('ROLLBACK_BLOCKED');
    expect(doc.steps.map((s: any) => s.kind)).toEqual(['blocked', 'noop']);
  });

  it('--execute --yes reports each step; a missing worker service is reported, the alias still moves', async () => {
    await createLambda(moto);
    const r = await cli(['rollout', 'rollback', '--execute', '--yes', '--json']);
    expect(r.code).toBe(5);
    const doc = r.json();
    expect(doc.error.code).toBe('ROLLBACK_INCOMPLETE');
    expect(doc.steps).toMatchObject([
      { id: 'lambda-alias', result: 'done', to: '1' },
      { id: 'worker-scale', kind: 'blocked' },
    ]);
    const { lambda } = clients(moto);
    expect((await lambda.send(new GetAliasCommand({ FunctionName: NAMES.fn, Name: 'live' }))).FunctionVersion).toBe('1');
  });

  it('with a scalable target: the range goes to 0-0 first, then the count; run again it is a no-op', async () => {
    await createLambda(moto);
    await createWorker(moto, true);
    await createScalableTarget(moto, 1, 4);
    const plan = await cli(['rollout', 'rollback', '--json']);
    expect(plan.code, plan.stdout).toBe(0);
    const step = plan.json().steps[1];
    expect(step).toMatchObject({ id: 'worker-scale', kind: 'run', from: '2', to: '0', scaling: { min: 1, max: 4 } });
    expect(step.action).toContain('set its scaling range from 1-4 to 0-0');

    const r = await cli(['rollout', 'rollback', '--execute', '--yes', '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json().steps[1]).toMatchObject({ id: 'worker-scale', result: 'done' });
    const { scaling } = clients(moto);
    const t = (await scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [`service/${NAMES.cluster}/${NAMES.service}`] }))).ScalableTargets!;
    expect(t.map((x) => [x.MinCapacity, x.MaxCapacity])).toEqual([[0, 0]]);
    expect(await current()).toEqual({ version: '1', desired: 0 });

    const again = await cli(['rollout', 'rollback', '--json']);
    expect(again.json().steps[1]).toMatchObject({ id: 'worker-scale', kind: 'noop', scaling: { min: 0, max: 0 } });
  });
});
