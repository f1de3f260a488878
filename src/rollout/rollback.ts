/**
 * The seed's rollback ("Revert Lambda version and disable Fargate service", ~10 minutes) as a plan
 * that is printed first and executed only on request:
 *   1. the proxy's alias moves back to the published version before the one it serves now
 *      (UpdateAlias: instantaneous, the function URL on the alias follows);
 *   2. the worker ECS service is scaled to desiredCount 0 (requests then wait in SQS, where they
 *      are kept for the queue's retention period, and are processed after a roll-forward). When
 *      the service has an Application Auto Scaling target (infra/autoscaling.tf), its range is set
 *      to 0-0 first: otherwise the scaler would bring the count back to its minimum. A roll-forward
 *      is `terraform apply`, which sets the range back to worker_min_tasks-worker_max_tasks.
 * Requires the proxy to be deployed as published versions behind an alias; without one the plan
 * says so instead of guessing.
 */
import { ImaError } from '../errors.js';
import type { RolloutProbe } from './probe.js';
import type { Resources } from './resources.js';

export interface RollbackStep {
  id: 'lambda-alias' | 'worker-scale';
  /** what will be done, or why not */
  action: string;
  /** run = will change something; noop = already in the target state; blocked = cannot be done */
  kind: 'run' | 'noop' | 'blocked';
  from?: string;
  to?: string;
  /** worker-scale: the scalable target's range before, when the service has one */
  scaling?: { min: number; max: number };
  result?: 'done' | 'failed';
  error?: { code: string; message: string };
}

export async function planRollback(probe: RolloutProbe, res: Resources): Promise<RollbackStep[]> {
  const steps: RollbackStep[] = [];
  const f = await probe.lambda(res.lambdaFunction, res.lambdaAlias);
  if (!f) {
    steps.push({ id: 'lambda-alias', kind: 'blocked', action: `Lambda function ${res.lambdaFunction} not found` });
  } else if (!f.alias) {
    steps.push({
      id: 'lambda-alias',
      kind: 'blocked',
      action: `${res.lambdaFunction} has no alias ${res.lambdaAlias}: publish versions behind an alias to make the proxy revertible (or redeploy the previous zip)`,
    });
  } else {
    const current = f.alias.version;
    const previous = f.versions.filter((v) => /^\d+$/.test(v) && Number(v) < Number(current)).pop();
    if (current === '$LATEST') {
      steps.push({ id: 'lambda-alias', kind: 'blocked', action: `alias ${res.lambdaAlias} points to $LATEST, which has no previous version`, from: current });
    } else if (!previous) {
      steps.push({ id: 'lambda-alias', kind: 'blocked', action: `alias ${res.lambdaAlias} is on version ${current}, the first published one: nothing earlier to go back to`, from: current });
    } else {
      steps.push({
        id: 'lambda-alias',
        kind: 'run',
        action: `point alias ${res.lambdaFunction}:${res.lambdaAlias} from version ${current} to version ${previous}`,
        from: current,
        to: previous,
      });
    }
  }
  const s = await probe.service(res.ecsCluster, res.ecsService);
  if (!s) {
    steps.push({ id: 'worker-scale', kind: 'blocked', action: `ECS service ${res.ecsService} not found in cluster ${res.ecsCluster}` });
  } else {
    const t = await probe.scalableTarget(res.ecsCluster, res.ecsService);
    const scaling = t ? { min: t.min, max: t.max } : undefined;
    if (s.desired === 0 && (!t || t.max === 0)) {
      steps.push({ id: 'worker-scale', kind: 'noop', action: `${res.ecsCluster}/${res.ecsService} is already at desiredCount 0${t ? ' with scaling range 0-0' : ''}`, from: '0', to: '0', scaling });
    } else {
      const range = t ? `set its scaling range from ${t.min}-${t.max} to 0-0 (else Application Auto Scaling restores ${t.min}) and ` : '';
      steps.push({
        id: 'worker-scale',
        kind: 'run',
        action: `${range}scale ${res.ecsCluster}/${res.ecsService} from desiredCount ${s.desired} to 0 (requests wait in SQS; terraform apply restores the range)`,
        from: String(s.desired),
        to: '0',
        scaling,
      });
    }
  }
  return steps;
}

/** Runs every `run` step, each independently: one failing does not stop the other. */
export async function executeRollback(probe: RolloutProbe, res: Resources, steps: RollbackStep[]): Promise<RollbackStep[]> {
  const out: RollbackStep[] = [];
  for (const step of steps) {
    if (step.kind !== 'run') {
      out.push(step);
      continue;
    }
    try {
      if (step.id === 'lambda-alias') await probe.updateAlias(res.lambdaFunction, res.lambdaAlias, step.to!);
      else {
        // the range first: with 0-0 the scaler cannot undo the scale-in (it also sets the count itself)
        if (step.scaling) await probe.setScalingRange(res.ecsCluster, res.ecsService, 0, 0);
        await probe.scaleService(res.ecsCluster, res.ecsService, 0);
      }
      out.push({ ...step, result: 'done' });
    } catch (err) {
      if (!(err instanceof ImaError)) throw err;
      out.push({ ...step, result: 'failed', error: { code: err.code, message: err.message } });
    }
  }
  return out;
}
