// The operational properties of issue 13 (items 3 and 4) over the parsed model, in the style of
// infra-checks.ts: the worker scales on backlog per task (metric math), Terraform leaves the
// running count to the scaler, the container's stopTimeout outlasts the worker's
// STOP_GRACE_SECONDS, and the alarms watch what they say on the right metrics, notify the
// configured topic and state what missing data means. infra-mutation.test.ts proves each can fail.
import { block, blocks, resourcesOf, stringList, type Block, type InfraModel, type TfBlock } from './infra-model.js';
import type { Finding } from './infra-checks-access.js';

const at = (r: TfBlock) => `${r.file}: ${r.type}.${r.name}`;
const ref = (s: string) => new RegExp(`^\\$\\{${s.replace(/[.[\]]/g, (c) => `\\${c}`)}\\}$`);

/** The metrics the service emits in Embedded Metric Format (the runtime's contract, issue 13 item 4). */
export const SERVICE_METRICS = {
  namespace: 'ima-qs',
  worker: ['Decisions', 'Refusals', 'StageLatency', 'QueueAgeAtPickup', 'UnanchoredEntries', 'Retries'],
  proxy: ['Requests', 'ServerErrors', 'Refused'],
} as const;

interface AlarmSpec {
  what: string;
  namespace: string;
  metric: string;
  dims: Record<string, RegExp>;
  op: string;
  /** the threshold, literally or as the expression it must be */
  threshold: number | RegExp;
}

/** The alarms issue 13 asks for, by what they watch (names are checked against the rollout's list in infra-ops.test.ts). */
export const ALARM_SPECS: AlarmSpec[] = [
  { what: 'DLQ depth > 0', namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', dims: { QueueName: ref('aws_sqs_queue.requests_dlq[0].name') }, op: 'GreaterThanThreshold', threshold: 0 },
  { what: 'oldest message age', namespace: 'AWS/SQS', metric: 'ApproximateAgeOfOldestMessage', dims: { QueueName: ref('aws_sqs_queue.requests[0].name') }, op: 'GreaterThanThreshold', threshold: ref('var.alarm_oldest_message_seconds') },
  { what: 'unanchored audit entries', namespace: 'ima-qs', metric: 'UnanchoredEntries', dims: { service: /^worker$/ }, op: 'GreaterThanThreshold', threshold: 0 },
  { what: 'proxy 5xx (HTTP API)', namespace: 'AWS/ApiGateway', metric: '5xx', dims: { ApiId: ref('aws_apigatewayv2_api.proxy[0].id') }, op: 'GreaterThanThreshold', threshold: ref('var.alarm_api_5xx_threshold') },
  { what: 'proxy function errors', namespace: 'AWS/Lambda', metric: 'Errors', dims: { FunctionName: ref('aws_lambda_function.proxy[0].function_name') }, op: 'GreaterThanThreshold', threshold: 0 },
  { what: 'proxy throttles', namespace: 'AWS/Lambda', metric: 'Throttles', dims: { FunctionName: ref('aws_lambda_function.proxy[0].function_name') }, op: 'GreaterThanThreshold', threshold: 0 },
  {
    what: 'worker tasks at max',
    namespace: 'ECS/ContainerInsights',
    metric: 'RunningTaskCount',
    dims: { ClusterName: ref('aws_ecs_cluster.main[0].name'), ServiceName: ref('aws_ecs_service.worker[0].name') },
    op: 'GreaterThanOrEqualToThreshold',
    threshold: /^\$\{max\(var\.worker_max_tasks, 1\)\}$/,
  },
];

const MISSING_DATA = new Set(['notBreaching', 'breaching', 'ignore', 'missing']);

function autoscaling(m: InfraModel, f: Finding[]): void {
  const targets = resourcesOf(m, 'aws_appautoscaling_target');
  const target = targets.find((t) => t.body.service_namespace === 'ecs' && t.body.scalable_dimension === 'ecs:service:DesiredCount');
  if (!target) {
    f.push({ check: 'autoscaling.target', where: 'autoscaling.tf', message: 'no aws_appautoscaling_target on the ECS service desired count' });
  } else {
    const id = String(target.body.resource_id ?? '');
    if (!/^service\/\$\{aws_ecs_cluster\.main\[0\]\.name\}\/\$\{aws_ecs_service\.worker\[0\]\.name\}$/.test(id)) f.push({ check: 'autoscaling.target', where: at(target), message: `resource_id ${id} is not service/<cluster>/<worker service>` });
    if (target.body.min_capacity !== '${var.worker_min_tasks}' || target.body.max_capacity !== '${var.worker_max_tasks}') {
      f.push({ check: 'autoscaling.target', where: at(target), message: 'min/max capacity are not var.worker_min_tasks / var.worker_max_tasks' });
    }
  }
  const policies = resourcesOf(m, 'aws_appautoscaling_policy').filter((p) => target && String(p.body.resource_id).includes(`aws_appautoscaling_target.${target.name}[0]`));
  const tracking = policies.filter((p) => p.body.policy_type === 'TargetTrackingScaling');
  if (tracking.length !== 1) {
    f.push({ check: 'autoscaling.policy', where: 'autoscaling.tf', message: `${tracking.length} target-tracking policies on the worker (want 1)` });
  }
  for (const p of tracking) backlogPolicy(p, f);
  const cluster = resourcesOf(m, 'aws_ecs_cluster')[0];
  if (cluster && !blocks(cluster.body, 'setting').some((s) => s.name === 'containerInsights' && s.value === 'enabled')) {
    f.push({ check: 'autoscaling.container-insights', where: at(cluster), message: 'Container Insights is off: ECS/ContainerInsights RunningTaskCount (the divisor) does not exist' });
  }
  for (const s of resourcesOf(m, 'aws_ecs_service')) {
    const ignored = stringList(block(s.body, 'lifecycle')?.ignore_changes);
    if (!ignored.includes('${desired_count}')) f.push({ check: 'autoscaling.desired-count', where: at(s), message: 'desired_count is not in lifecycle.ignore_changes: every apply would reset the scaler' });
    if (s.body.desired_count !== '${var.worker_min_tasks}') f.push({ check: 'autoscaling.desired-count', where: at(s), message: 'the service does not start at var.worker_min_tasks' });
  }
}

/** backlog per task = ApproximateNumberOfMessagesVisible(request queue) / RunningTaskCount(service). */
function backlogPolicy(p: TfBlock, f: Finding[]): void {
  const bad = (message: string): void => void f.push({ check: 'autoscaling.policy', where: at(p), message });
  const cfg = block(p.body, 'target_tracking_scaling_policy_configuration');
  if (!cfg) return bad('no target_tracking_scaling_policy_configuration');
  if (block(cfg, 'predefined_metric_specification')) bad('a predefined metric (CPU/memory) instead of the queue backlog');
  if (cfg.target_value !== '${var.backlog_per_task_target}') bad('target_value is not var.backlog_per_task_target');
  if (cfg.disable_scale_in === true) bad('scale-in disabled');
  if (cfg.scale_in_cooldown === undefined) bad('no scale_in_cooldown');
  const metrics = blocks(block(cfg, 'customized_metric_specification'), 'metrics');
  const metricOf = (x: Block) => block(block(x, 'metric_stat'), 'metric');
  const dims = (x: Block) => Object.fromEntries(blocks(metricOf(x), 'dimensions').map((d) => [String(d.name), String(d.value)]));
  const visible = metrics.find((x) => metricOf(x)?.namespace === 'AWS/SQS' && metricOf(x)?.metric_name === 'ApproximateNumberOfMessagesVisible');
  const running = metrics.find((x) => metricOf(x)?.namespace === 'ECS/ContainerInsights' && metricOf(x)?.metric_name === 'RunningTaskCount');
  if (!visible || JSON.stringify(dims(visible)) !== JSON.stringify({ QueueName: '${aws_sqs_queue.requests[0].name}' })) bad('no ApproximateNumberOfMessagesVisible of the request queue');
  if (!running || JSON.stringify(dims(running)) !== JSON.stringify({ ClusterName: '${aws_ecs_cluster.main[0].name}', ServiceName: '${aws_ecs_service.worker[0].name}' })) bad('no RunningTaskCount of the worker service');
  const returned = metrics.filter((x) => x.return_data === true);
  const want = visible && running ? `${String(visible.id)} / ${String(running.id)}` : '?';
  if (returned.length !== 1 || String(returned[0].expression ?? '').replace(/\s+/g, ' ').trim() !== want) bad(`the tracked series is not exactly "${want}"`);
}

/** A sum of `var.X`, `local.X` and integer literals, as written: its variables and its constant part. */
function linear(m: InfraModel, expr: unknown, depth = 0): { vars: string[]; constant: number } | undefined {
  const text = String(expr ?? '').replace(/^\$\{([\s\S]*)\}$/, '$1').replace(/^tostring\(([\s\S]*)\)$/, '$1').trim();
  if (depth > 4 || !text) return undefined;
  const out = { vars: [] as string[], constant: 0 };
  for (const term of text.split('+').map((t) => t.trim())) {
    if (/^\d+$/.test(term)) out.constant += Number(term);
    else if (/^var\.\w+$/.test(term)) out.vars.push(term.slice(4));
    else if (/^local\.\w+$/.test(term)) {
      const inner = linear(m, m.locals[term.slice(6)], depth + 1);
      if (!inner) return undefined;
      out.vars.push(...inner.vars);
      out.constant += inner.constant;
    } else return undefined;
  }
  return out;
}

/** ECS: SIGTERM, stopTimeout, SIGKILL. The worker's STOP_GRACE_SECONDS must end first, by a margin. */
function stopTimeout(m: InfraModel, f: Finding[]): void {
  const bad = (where: string, message: string): void => void f.push({ check: 'ecs.stop-timeout', where, message });
  const grace = linear(m, (m.locals.worker_env as Block | undefined)?.STOP_GRACE_SECONDS);
  if (!grace || grace.vars.length !== 1 || grace.constant !== 0) return bad('ecs.tf', 'the worker environment does not set STOP_GRACE_SECONDS from one variable');
  const graceVar = grace.vars[0];
  for (const td of resourcesOf(m, 'aws_ecs_task_definition')) {
    const expr = /\bstopTimeout\s*=\s*([^\n]+)/.exec(String(td.body.container_definitions ?? ''))?.[1]?.trim();
    const stop = expr ? linear(m, expr) : undefined;
    if (!stop || stop.vars.length !== 1 || stop.vars[0] !== graceVar) {
      bad(at(td), `stopTimeout (${expr ?? 'unset'}) does not follow var.${graceVar} (STOP_GRACE_SECONDS)`);
      continue;
    }
    if (stop.constant < 5) bad(at(td), `stopTimeout leaves the worker ${stop.constant} s beyond STOP_GRACE_SECONDS to release its messages and exit (want >= 5)`);
    // Fargate caps stopTimeout at 120 s: the variable's validation must keep grace + margin within it
    const conds = blocks(m.variables[graceVar], 'validation').map((v) => String(v.condition));
    const max = conds.map((c) => new RegExp(`var\\.${graceVar}\\s*<=\\s*(\\d+)`).exec(c)?.[1]).find((x) => x !== undefined);
    if (max === undefined || Number(max) + stop.constant > 120) bad('variables.tf', `var.${graceVar} is not bounded so that stopTimeout stays <= 120 s (Fargate's maximum)`);
  }
}

function alarms(m: InfraModel, f: Finding[]): void {
  const all = resourcesOf(m, 'aws_cloudwatch_metric_alarm');
  for (const spec of ALARM_SPECS) {
    const found = all.filter((a) => a.body.namespace === spec.namespace && a.body.metric_name === spec.metric);
    const where = `alarm "${spec.what}"`;
    if (found.length !== 1) {
      f.push({ check: 'alarms.inventory', where, message: `${found.length} alarms on ${spec.namespace} ${spec.metric} (want 1)` });
      continue;
    }
    const a = found[0].body;
    const dims = (a.dimensions ?? {}) as Record<string, unknown>;
    const dimsOk = Object.keys(dims).sort().join() === Object.keys(spec.dims).sort().join() && Object.entries(spec.dims).every(([k, re]) => re.test(String(dims[k])));
    if (!dimsOk) f.push({ check: 'alarms.inventory', where, message: `dimensions ${JSON.stringify(dims)} are not those of the watched resource` });
    if (a.comparison_operator !== spec.op) f.push({ check: 'alarms.inventory', where, message: `comparison ${String(a.comparison_operator)}, want ${spec.op}` });
    const thresholdOk = typeof spec.threshold === 'number' ? a.threshold === spec.threshold : spec.threshold.test(String(a.threshold));
    if (!thresholdOk) f.push({ check: 'alarms.inventory', where, message: `threshold ${String(a.threshold)} is not ${String(spec.threshold)}` });
  }
  for (const r of all) {
    const a = r.body;
    // the service's own metrics: only the contract's names, with the service dimension
    if (a.namespace === SERVICE_METRICS.namespace) {
      const service = String((a.dimensions as Block | undefined)?.service ?? '');
      const names: readonly string[] = service === 'worker' ? SERVICE_METRICS.worker : service === 'proxy' ? SERVICE_METRICS.proxy : [];
      if (!names.includes(String(a.metric_name))) f.push({ check: 'alarms.inventory', where: at(r), message: `${String(a.metric_name)} (service=${service}) is not a metric the service emits` });
    } else if (a.namespace !== undefined && !/^(AWS\/|ECS\/ContainerInsights$)/.test(String(a.namespace))) {
      f.push({ check: 'alarms.inventory', where: at(r), message: `namespace ${String(a.namespace)} is neither AWS's nor the service's (${SERVICE_METRICS.namespace})` });
    }
    for (const k of ['alarm_actions', 'ok_actions']) {
      if (a[k] !== '${local.alarm_actions}') f.push({ check: 'alarms.actions', where: at(r), message: `${k} is not local.alarm_actions (the alarm_sns_topic_arn topic)` });
    }
    if (!MISSING_DATA.has(String(a.treat_missing_data))) f.push({ check: 'alarms.missing-data', where: at(r), message: 'treat_missing_data is not chosen explicitly' });
  }
  if (String(m.locals.alarm_actions) !== '${var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]}') {
    f.push({ check: 'alarms.actions', where: 'alarms.tf', message: 'local.alarm_actions is not [alarm_sns_topic_arn] (or none when it is null)' });
  }
  const topic = m.variables.alarm_sns_topic_arn;
  if (!topic || !('default' in topic) || topic.default !== null) f.push({ check: 'alarms.actions', where: 'variables.tf', message: 'alarm_sns_topic_arn missing or with a default topic' });
}

export function checkOperations(m: InfraModel, f: Finding[]): void {
  autoscaling(m, f);
  stopTimeout(m, f);
  alarms(m, f);
}
