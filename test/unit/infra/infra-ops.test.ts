// The operational part of infra/ against the code that depends on it: the alarm names the rollout
// reads by default (src/rollout/resources.ts) are the ones alarms.tf creates; the alarm_names
// output carries each of them (for --tf-outputs); and every ima-qs metric an alarm watches is one
// of the service's EMF metrics (the contract in infra-checks-ops.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultResources } from '../../../src/rollout/resources.js';
import { INFRA_DIR } from '../../helpers/terraform.js';
import { ALARM_SPECS, SERVICE_METRICS } from './infra-checks-ops.js';
import { loadInfra, resolvedNames, resourcesOf, type InfraModel } from './infra-model.js';

let model: InfraModel;
beforeAll(async () => {
  model = await loadInfra(INFRA_DIR);
});

describe('infra/alarms.tf and ima-qs rollout day 5', () => {
  it('creates exactly the alarms the rollout reads by default', () => {
    const names = resourcesOf(model, 'aws_cloudwatch_metric_alarm').flatMap((r) => resolvedNames(model, r, 'alarm_name'));
    expect(names.sort()).toEqual([...defaultResources().alarms].sort());
  });

  it('outputs every alarm in alarm_names (read by --tf-outputs)', () => {
    const out = String(model.outputs.alarm_names?.value ?? '');
    for (const r of resourcesOf(model, 'aws_cloudwatch_metric_alarm')) expect(out).toContain(`aws_cloudwatch_metric_alarm.${r.name}[0].alarm_name`);
  });

  it('has one alarm per watched property, and watches the service only through its own metrics', () => {
    expect(resourcesOf(model, 'aws_cloudwatch_metric_alarm')).toHaveLength(ALARM_SPECS.length);
    const own = ALARM_SPECS.filter((s) => s.namespace === SERVICE_METRICS.namespace);
    expect(own.map((s) => s.metric)).toEqual(['UnanchoredEntries']);
    expect(SERVICE_METRICS.worker).toContain('UnanchoredEntries');
  });
});
