/**
 * `ima-qs rollout day 5` reads the CloudWatch alarms of infra/alarms.tf from moto_server
 * (PutMetricAlarm, SetAlarmState and DescribeAlarms work there; moto creates an alarm in OK, where
 * AWS starts at INSUFFICIENT_DATA). OK passes; ALARM fails with exit 5 naming d5.alarms-ok and the
 * alarm; INSUFFICIENT_DATA or no action warns (exit 0, the day stays incomplete); the names come
 * from --tf-outputs (output alarm_names) as well as from the defaults.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { clients, createAlarms, createInfrastructure } from './account.js';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:ima-oncall';
let moto: Moto;
let dir: string;
let stateFile: string;
let n = 0;

beforeAll(async () => {
  moto = await startMoto();
  dir = await mkdtemp(join(tmpdir(), 'ima-rollout-alarms-'));
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
  await createInfrastructure(moto);
  stateFile = join(dir, `state-${++n}.json`);
});

const cli = (argv: string[]) => runCli(argv, { env: { ...process.env, ...moto.env }, cwd: dir });
const day5 = (...extra: string[]) => cli(['rollout', 'day', '5', '--yes', '--state', stateFile, '--json', ...extra]);
const item = (doc: any, id: string) => doc.items.find((i: any) => i.id === id);
const setState = (name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason: string) =>
  clients(moto).cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: reason }));

describe('rollout day 5: d5.alarms-ok', () => {
  it('passes when every alarm is OK and notifies the topic', async () => {
    await createAlarms(moto, TOPIC);
    const r = await day5();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(item(r.json(), 'd5.alarms-ok')).toMatchObject({ status: 'pass', detail: `7 alarm(s) OK, notifying ${TOPIC}` });
  });

  it('fails with exit 5 when an alarm is in ALARM, naming it and its reason', async () => {
    await createAlarms(moto, TOPIC);
    await setState('ima-quantum-dlq-not-empty', 'ALARM', 'Threshold Crossed: 1 datapoint [2.0] was greater than the threshold (0.0).');
    const r = await day5();
    expect(r.code).toBe(5);
    const doc = r.json();
    expect(doc.error.code).toBe('ROLLOUT_CHECK_FAILED');
    expect(doc.error.details.items).toEqual(['d5.alarms-ok']);
    expect(item(doc, 'd5.alarms-ok').detail).toContain('in ALARM: ima-quantum-dlq-not-empty (Threshold Crossed: 1 datapoint [2.0]');
    // back to OK: the same day passes again
    await setState('ima-quantum-dlq-not-empty', 'OK', 'recovered');
    expect((await day5()).code).toBe(0);
  });

  it('warns (exit 0, day incomplete) on INSUFFICIENT_DATA, and says so in status', async () => {
    await createAlarms(moto, TOPIC);
    await setState('ima-quantum-unanchored-entries', 'INSUFFICIENT_DATA', 'no data yet');
    const r = await day5();
    expect(r.code, r.stdout).toBe(0);
    const doc = r.json();
    expect(item(doc, 'd5.alarms-ok').status).toBe('warn');
    expect(item(doc, 'd5.alarms-ok').detail).toContain('INSUFFICIENT_DATA (not evaluated yet, or no data): ima-quantum-unanchored-entries');
    expect(doc.complete).toBe(false);
    expect(doc.summary).toContain('1 warning(s): d5.alarms-ok');
    const status = await cli(['rollout', 'status', '--state', stateFile, '--json']);
    expect(status.code).toBe(0);
    const day = status.json().days[5];
    expect(day.complete).toBe(false);
    expect(day.items.find((i: any) => i.id === 'd5.alarms-ok').status).toBe('warn');
  });

  it('warns when the alarms notify nobody (alarm_sns_topic_arn = null)', async () => {
    await createAlarms(moto);
    const r = await day5();
    expect(r.code).toBe(0);
    expect(item(r.json(), 'd5.alarms-ok')).toMatchObject({ status: 'warn' });
    expect(item(r.json(), 'd5.alarms-ok').detail).toContain('notify nobody (no alarm action; set alarm_sns_topic_arn)');
  });

  it('fails when the alarms were never created', async () => {
    const r = await day5();
    expect(r.code).toBe(5);
    expect(item(r.json(), 'd5.alarms-ok').detail).toContain('not found: ima-quantum-dlq-not-empty');
  });

  it('reads the names from --tf-outputs (output alarm_names)', async () => {
    await createAlarms(moto, TOPIC);
    const outputs = join(dir, `outputs-${n}.json`);
    // a deployment that only knows two of them: the others are not asked for
    const names = { dlq_not_empty: 'ima-quantum-dlq-not-empty', worker_at_max: 'ima-quantum-worker-at-max' };
    await writeFile(outputs, JSON.stringify({ alarm_names: { value: names, type: ['object', {}], sensitive: false } }));
    await setState('ima-quantum-proxy-5xx', 'ALARM', 'not one of the named alarms');
    const r = await day5('--tf-outputs', outputs);
    expect(r.code, r.stdout).toBe(0);
    expect(item(r.json(), 'd5.alarms-ok').detail).toBe(`2 alarm(s) OK, notifying ${TOPIC}`);
    await setState('ima-quantum-worker-at-max', 'ALARM', 'at max');
    expect((await day5('--tf-outputs', outputs)).code).toBe(5);
  });
});
