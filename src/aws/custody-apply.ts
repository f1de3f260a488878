/**
 * Applying a custody plan (SPEC §7.2) and checking it afterwards, on metadata only: the steps of
 * key-custody.ts's plan run in order, a failure stops at once with what was done
 * (CUSTODY_INCOMPLETE: the same command continues), and one DescribeSecret per secret checks that
 * custody shows what was written. No GetSecretValue: the custody rule.
 */
import { RemoteError } from '../errors.js';
import type { CustodyPlan, CustodyRole, PlanStep } from './key-custody.js';
import type { SecretDescription, SecretStore } from './secret-store.js';

export type StepOutcome = 'done' | 'not-done';

/**
 * Runs the plan's steps in order (the key set before the document: /api/keys never names a
 * generation workers cannot hold). A failure stops at once: CUSTODY_INCOMPLETE lists what was
 * done; running the same command again finishes the work (each phase is re-planned from metadata).
 */
export async function applyPlan(
  store: SecretStore,
  plan: CustodyPlan,
  values: { keyset: () => string; document?: string },
  onProgress?: (done: number, total: number) => void,
): Promise<PlanStep[]> {
  if (plan.refused) throw new Error('applyPlan: the plan is refused'); // precondition, a bug if hit
  const done: PlanStep[] = [];
  const value = (role: CustodyRole) => {
    if (role === 'keyset') return values.keyset();
    if (values.document === undefined) throw new Error('applyPlan: no document text');
    return values.document;
  };
  for (const [i, s] of plan.steps.entries()) {
    try {
      switch (s.kind) {
        case 'create':
          await store.create(s.secret, {
            value: value(s.role),
            kmsKeyId: plan.kmsKeyArn,
            versionId: s.versionId,
            tags: { project: 'ima-qs', kind: s.role },
            description: s.role === 'keyset' ? 'ima-qs key set, one version per generation (SPEC 7.1)' : 'ima-qs public-keys document served at /api/keys (SPEC 7.3)',
          });
          break;
        case 'put':
          await store.putVersion(s.secret, value(s.role), s.stages, s.versionId);
          break;
        case 'move':
          await store.moveStage(s.secret, s.stage, s.to, s.from);
          break;
        case 'unstage':
          await store.removeStage(s.secret, s.stage, s.from);
          break;
        case 'set-kms':
          await store.setKmsKey(s.secret, plan.kmsKeyArn);
          break;
        case 'tag':
          await store.tag(s.secret, s.tags);
          break;
      }
    } catch (err) {
      throw incomplete(plan, s, done, err);
    }
    done.push(s);
    onProgress?.(i + 1, plan.steps.length);
  }
  return done;
}

export function stepText(s: PlanStep): string {
  switch (s.kind) {
    case 'create':
      return `create ${s.secret} (version ${s.versionId.slice(0, 20)}…)`;
    case 'put':
      return `put ${s.secret} version ${s.versionId.slice(0, 20)}…${s.stages ? ` as ${s.stages.join(', ')}` : ''}`;
    case 'move':
      return `move ${s.stage} of ${s.secret} to ${s.to.slice(0, 20)}…`;
    case 'unstage':
      return `remove ${s.stage} from ${s.secret} version ${s.from.slice(0, 20)}…`;
    case 'set-kms':
      return `move ${s.secret} to the KMS key`;
    case 'tag':
      return `tag ${s.secret}`;
  }
}

function incomplete(plan: CustodyPlan, failed: PlanStep, done: PlanStep[], cause: unknown): RemoteError {
  const causeCode = (cause as { code?: string })?.code ?? 'AWS_ERROR';
  const rest = plan.steps.slice(done.length).map(stepText);
  return new RemoteError('CUSTODY_INCOMPLETE', `${stepText(failed)} failed (${causeCode}); done: ${done.length ? done.map(stepText).join('; ') : 'nothing'}`, {
    hint: 'run ima-qs keys status to see the state, then run the same command again: it continues from what custody holds',
    cause,
    details: { failed: stepText(failed), causeCode, done: done.map(stepText), notDone: rest, phase: plan.phase },
  });
}

export interface ReadBack {
  name: string;
  ok: boolean;
  detail: string;
}

/** After writing: one DescribeSecret per secret; each expectation holds, or says what custody shows. */
export async function checkAfterWrite(store: Pick<SecretStore, 'describe'>, plan: CustodyPlan): Promise<ReadBack[]> {
  const names = [...new Set(plan.expect.map((e) => e.secret))];
  const described = new Map<string, SecretDescription | undefined>();
  for (const n of names) described.set(n, await store.describe(n));
  return plan.expect.map((e) => {
    const v = described.get(e.secret)?.versions.find((x) => x.versionId === e.versionId);
    const has = v?.stages.includes(e.stage) === true;
    const ok = e.absent ? !has : has;
    const what = `version ${e.versionId.slice(0, 20)}… ${e.absent ? 'without' : 'holds'} ${e.stage}`;
    return { name: e.secret, ok, detail: ok ? what : `expected ${what}; it holds ${v ? v.stages.join(', ') || 'no label' : 'nothing (no such version)'}` };
  });
}
