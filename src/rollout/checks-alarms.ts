/**
 * d5.alarms-ok: the CloudWatch alarms of infra/alarms.tf (DLQ depth, oldest message age,
 * unanchored audit entries, proxy 5xx / errors / throttles, worker at its maximum), read with
 * DescribeAlarms through the RolloutProbe port.
 *
 *   - any alarm in ALARM, or an expected alarm that does not exist → fail;
 *   - any alarm in INSUFFICIENT_DATA (CloudWatch has not evaluated it yet, or its metric has no
 *     data and the alarm does not treat missing data as OK) → warn: the alarm cannot vouch for
 *     anything yet; run the day again once it has evaluated;
 *   - alarms that notify nobody (no actions, or actions disabled: alarm_sns_topic_arn = null) →
 *     warn: they change state, but only someone running this check learns of it;
 *   - every alarm OK and notifying → pass.
 */
import type { CheckContext, CheckOutcome } from './checks.js';
import type { AlarmFacts } from './probe.js';

const MAX_LISTED = 4;

function list(alarms: AlarmFacts[], withReason: boolean): string {
  const shown = alarms.slice(0, MAX_LISTED).map((a) => (withReason && a.reason ? `${a.name} (${a.reason.slice(0, 120)})` : a.name));
  return shown.join(', ') + (alarms.length > MAX_LISTED ? ` and ${alarms.length - MAX_LISTED} more` : '');
}

export async function checkAlarms(ctx: CheckContext): Promise<CheckOutcome> {
  const expected = ctx.res.alarms;
  if (expected.length === 0) return { status: 'fail', detail: 'no alarm names configured (alarm.names is empty)' };
  const found = await ctx.probe.alarms(expected);
  const byName = new Map(found.map((a) => [a.name, a]));
  const missing = expected.filter((n) => !byName.has(n));
  const alarming = found.filter((a) => a.state === 'ALARM');
  const noData = found.filter((a) => a.state === 'INSUFFICIENT_DATA');
  const unknown = found.filter((a) => !['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(a.state));
  const silent = found.filter((a) => !a.actionsEnabled || a.alarmActions.length === 0);

  const problems: string[] = [];
  if (alarming.length) problems.push(`in ALARM: ${list(alarming, true)}`);
  if (missing.length) problems.push(`not found: ${missing.slice(0, MAX_LISTED).join(', ')}${missing.length > MAX_LISTED ? ` and ${missing.length - MAX_LISTED} more` : ''} (terraform apply creates them; or name them with --resource alarm.names=…)`);
  if (unknown.length) problems.push(`in an unknown state: ${unknown.map((a) => `${a.name}=${a.state.slice(0, 30)}`).join(', ')}`);
  if (problems.length) return { status: 'fail', detail: problems.join('; ') };

  const warnings: string[] = [];
  if (noData.length) warnings.push(`INSUFFICIENT_DATA (not evaluated yet, or no data): ${list(noData, false)} — run day 5 again once they have evaluated`);
  if (silent.length) warnings.push(`notify nobody (no alarm action; set alarm_sns_topic_arn): ${list(silent, false)}`);
  if (warnings.length) return { status: 'warn', detail: `${found.length} alarm(s), none in ALARM; ${warnings.join('; ')}` };
  const targets = [...new Set(found.flatMap((a) => a.alarmActions))];
  return { status: 'pass', detail: `${found.length} alarm(s) OK, notifying ${targets.length === 1 ? targets[0] : `${targets.length} targets`}` };
}
