/**
 * A small IAM policy evaluator for the conditions moto does not evaluate (see
 * test/integration/iam/iam-enforcement.test.ts): identity policies against the requests the code
 * really sent, and resource policies (KMS key policy, Secrets Manager secret policy) against named
 * principals. It follows the AWS IAM policy evaluation logic as documented (explicit Deny wins, then
 * any Allow, else an implicit deny) for exactly the parts the ima-qs policies use, and throws on
 * anything else — a condition operator it does not know is an error, never a silent "true".
 *
 * Supported: Action / NotAction and Resource / NotResource with `*` and `?`; Principal (AWS ARNs,
 * "*", Service); condition operators StringEquals, StringNotEquals, StringLike, StringNotLike,
 * ArnEquals, ArnNotEquals, ArnLike, ArnNotLike, Bool, each with IfExists, and the ForAllValues: /
 * ForAnyValue: set prefixes. A missing key makes a positive operator false and a negated one true;
 * IfExists makes it true; ForAllValues over a missing or empty key is true, ForAnyValue false
 * (IAM User Guide, "Condition operators" and "Multivalued context keys").
 */
import type { PolicyJson, PolicyStatement } from './policy-render.js';

export type ContextValue = string | string[] | boolean;

export interface EvalRequest {
  action: string;
  resource: string;
  /** the calling principal (for resource policies): an IAM role or user ARN, or a service */
  principal?: { aws?: string; service?: string };
  /** condition keys of the request (aws:PrincipalArn, kms:ViaService, dynamodb:Attributes, …) */
  context?: Record<string, ContextValue>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

function wildcard(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', caseInsensitive ? 'is' : 's');
  return re.test(value);
}

function principalMatches(p: Record<string, string[]> | undefined, who: EvalRequest['principal']): boolean {
  if (!p) return true; // identity policies have no Principal
  if (!who) return false;
  for (const [type, ids] of Object.entries(p)) {
    if (type === 'AWS' && ids.includes('*')) return true; // "everyone"
    if (type === 'AWS' && who.aws && ids.includes(who.aws)) return true;
    if (type === 'Service' && who.service && ids.includes(who.service)) return true;
  }
  return false;
}

const BASE_OPS: Record<string, { negated: boolean; match: (pattern: string, value: string) => boolean }> = {
  StringEquals: { negated: false, match: (p, v) => p === v },
  StringNotEquals: { negated: true, match: (p, v) => p === v },
  StringLike: { negated: false, match: (p, v) => wildcard(p, v) },
  StringNotLike: { negated: true, match: (p, v) => wildcard(p, v) },
  ArnEquals: { negated: false, match: (p, v) => p === v },
  ArnNotEquals: { negated: true, match: (p, v) => p === v },
  ArnLike: { negated: false, match: (p, v) => wildcard(p, v) },
  ArnNotLike: { negated: true, match: (p, v) => wildcard(p, v) },
  Bool: { negated: false, match: (p, v) => p.toLowerCase() === v.toLowerCase() },
};

function conditionHolds(operator: string, key: string, values: string[], ctx: Record<string, ContextValue>): boolean {
  const m = /^(ForAllValues:|ForAnyValue:)?([A-Za-z]+?)(IfExists)?$/.exec(operator);
  const op = m ? BASE_OPS[m[2]] : undefined;
  if (!m || !op) throw new Error(`policy-eval: condition operator ${operator} is not supported`);
  const [, set, , ifExists] = m;
  const raw = ctx[key];
  const present = raw !== undefined;
  const actual = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  // one request value against the policy's values: positive = any matches; negated = none matches
  const one = (v: string) => (op.negated ? !values.some((p) => op.match(p, v)) : values.some((p) => op.match(p, v)));
  if (set === 'ForAllValues:') return actual.every(one);
  if (set === 'ForAnyValue:') return actual.some(one);
  if (!present) return Boolean(ifExists) || op.negated;
  if (Array.isArray(raw)) throw new Error(`policy-eval: ${key} is multivalued; the policy must use ForAllValues/ForAnyValue with ${operator}`);
  return one(actual[0]);
}

function statementApplies(s: PolicyStatement, req: EvalRequest): boolean {
  const actionOk = s.Action ? s.Action.some((a) => wildcard(a, req.action, true)) : !(s.NotAction ?? []).some((a) => wildcard(a, req.action, true));
  if (!actionOk) return false;
  const resourceOk = s.Resource ? s.Resource.some((r) => wildcard(r, req.resource)) : s.NotResource ? !s.NotResource.some((r) => wildcard(r, req.resource)) : true;
  if (!resourceOk) return false;
  if (!principalMatches(s.Principal, req.principal)) return false;
  for (const [operator, byKey] of Object.entries(s.Condition ?? {})) {
    for (const [key, values] of Object.entries(byKey)) if (!conditionHolds(operator, key, values, req.context ?? {})) return false;
  }
  return true;
}

/** Evaluates one policy (identity or resource) for a request. */
export function evaluate(policy: PolicyJson, req: EvalRequest): Decision {
  let allowed = false;
  for (const s of policy.Statement) {
    if (!statementApplies(s, req)) continue;
    if (s.Effect === 'Deny') return 'explicit-deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

/** The statements of a policy that allow a request (for messages naming why). */
export function allowingStatements(policy: PolicyJson, req: EvalRequest): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && statementApplies(s, req)).map((s) => s.Sid ?? '?');
}
