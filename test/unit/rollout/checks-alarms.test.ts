/**
 * d5.alarms-ok over the RolloutProbe port (the moto-backed test in
 * test/integration/rollout/rollout-alarms.test.ts covers DescribeAlarms itself): ALARM or a missing
 * alarm fails, INSUFFICIENT_DATA or an alarm that notifies nobody warns, all OK and notifying passes.
 */
import { describe, expect, it } from 'vitest';
import { checkAlarms } from '../../../src/rollout/checks-alarms.js';
import type { CheckContext } from '../../../src/rollout/checks.js';
import type { AlarmFacts, RolloutProbe } from '../../../src/rollout/probe.js';
import { ALARM_SUFFIXES, defaultResources } from '../../../src/rollout/resources.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ima-oncall';
const res = defaultResources();

function ctx(alarms: AlarmFacts[], names = res.alarms): CheckContext {
  const asked: string[][] = [];
  const probe: Partial<RolloutProbe> = { alarms: async (n) => (asked.push(n), alarms.filter((a) => n.includes(a.name))) };
  return { probe: probe as RolloutProbe, res: { ...res, alarms: names }, verifiers: {}, now: new Date(), httpTimeoutMs: 1000, logWindowHours: 1, logEventCap: 10, sampleSize: 1 };
}
const alarm = (name: string, over: Partial<AlarmFacts> = {}): AlarmFacts => ({ name, state: 'OK', actionsEnabled: true, alarmActions: [TOPIC], ...over });
const healthy = () => res.alarms.map((n) => alarm(n));

describe('d5.alarms-ok', () => {
  it('reads the seven alarms of infra/alarms.tf by name', () => {
    expect(res.alarms).toEqual(ALARM_SUFFIXES.map((s) => `ima-quantum-${s}`));
    expect(res.alarms).toHaveLength(7);
    expect(defaultResources('prod').alarms[0]).toBe('prod-quantum-dlq-not-empty');
  });

  it('passes when every alarm is OK and notifies the topic', async () => {
    const out = await checkAlarms(ctx(healthy()));
    expect(out).toEqual({ status: 'pass', detail: `7 alarm(s) OK, notifying ${TOPIC}` });
  });

  it('fails on an alarm in ALARM, naming it and its reason', async () => {
    const list = healthy();
    list[0] = alarm(list[0].name, { state: 'ALARM', reason: 'Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).' });
    const out = await checkAlarms(ctx(list));
    expect(out.status).toBe('fail');
    expect(out.detail).toContain('in ALARM: ima-quantum-dlq-not-empty (Threshold Crossed');
  });

  it('fails when an expected alarm does not exist, and when none is configured', async () => {
    const out = await checkAlarms(ctx(healthy().slice(1)));
    expect(out.status).toBe('fail');
    expect(out.detail).toContain('not found: ima-quantum-dlq-not-empty');
    expect((await checkAlarms(ctx([], []))).status).toBe('fail');
  });

  it('fails on a state it does not know (never reads it as OK)', async () => {
    const list = healthy();
    list[3] = alarm(list[3].name, { state: 'SOMETHING_NEW' });
    expect((await checkAlarms(ctx(list))).status).toBe('fail');
  });

  it('warns on INSUFFICIENT_DATA: not failed, not done', async () => {
    const list = healthy();
    list[2] = alarm(list[2].name, { state: 'INSUFFICIENT_DATA' });
    const out = await checkAlarms(ctx(list));
    expect(out.status).toBe('warn');
    expect(out.detail).toContain('INSUFFICIENT_DATA (not evaluated yet, or no data): ima-quantum-unanchored-entries');
  });

  it('warns when alarms notify nobody (alarm_sns_topic_arn = null, or actions disabled)', async () => {
    const none = await checkAlarms(ctx(res.alarms.map((n) => alarm(n, { alarmActions: [] }))));
    expect(none.status).toBe('warn');
    expect(none.detail).toContain('notify nobody');
    const disabled = healthy();
    disabled[6] = alarm(disabled[6].name, { actionsEnabled: false });
    const out = await checkAlarms(ctx(disabled));
    expect(out.status).toBe('warn');
    expect(out.detail).toContain('ima-quantum-worker-at-max');
  });

  it('ALARM wins over the warnings', async () => {
    const list = res.alarms.map((n) => alarm(n, { alarmActions: [], state: 'INSUFFICIENT_DATA' }));
    list[1] = alarm(list[1].name, { state: 'ALARM' });
    expect((await checkAlarms(ctx(list))).status).toBe('fail');
  });
});
