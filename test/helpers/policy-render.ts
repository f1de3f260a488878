/**
 * Renders a Terraform `aws_iam_policy_document` (as parsed by @cdktn/hcl2json, test/unit/infra/
 * infra-model.ts) into the IAM JSON policy AWS would receive, with every `${…}` expression taken
 * from a resolver the caller supplies (the ARNs of the emulator's resources, the variables of the
 * scenario). An expression the resolver does not know throws: a policy document the tests cannot
 * follow fails loudly instead of being tested in a simplified form.
 *
 * What it renders: sid, effect (default Allow), actions / not_actions, resources / not_resources,
 * principals, condition blocks (same test + variable merged, as the provider does), and
 * `dynamic "statement"` blocks whose for_each the resolver evaluates (`statement.value` bound to
 * each item).
 */
import { blocks, dynamicBlocks, type Block, type TfBlock } from '../unit/infra/infra-model.js';

export type Resolved = string | number | boolean | unknown[] | Record<string, unknown> | null;
/** Returns the value of the expression inside `${…}`; `undefined` = unknown (the render throws). */
export type Resolver = (expr: string, scope: Record<string, unknown>) => Resolved | undefined;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Principal?: Record<string, string[]>;
  Condition?: Record<string, Record<string, string[]>>;
}

export interface PolicyJson {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** The `${…}` parts of a string (not nested: Terraform templates in these files never nest). */
const INTERPOLATION = /\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g;

function lookup(expr: string, resolve: Resolver, scope: Record<string, unknown>): Resolved {
  const bound = /^(\w+)\.value\.(\w+)$/.exec(expr.trim());
  if (bound && scope[bound[1]] && typeof scope[bound[1]] === 'object') {
    const v = (scope[bound[1]] as Record<string, unknown>)[bound[2]];
    if (v !== undefined) return v as Resolved;
  }
  const v = resolve(expr.trim(), scope);
  if (v === undefined) throw new Error(`policy-render: no value for \${${expr}}`);
  return v;
}

/**
 * The expression of a string that is exactly one `${…}` (nested templates and quoted braces
 * allowed inside), else undefined.
 */
export function wholeExpression(v: string): string | undefined {
  if (!v.startsWith('${')) return undefined;
  let depth = 0;
  let quoted = false;
  for (let i = 1; i < v.length; i++) {
    const ch = v[i];
    if (ch === '"' && v[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (ch === '{') depth++;
    if (ch === '}' && --depth === 0) return i === v.length - 1 ? v.slice(2, -1) : undefined;
  }
  return undefined;
}

/** A string with interpolations: a whole `${x}` keeps x's type (a list splices), else text. */
function renderValue(v: unknown, resolve: Resolver, scope: Record<string, unknown>): unknown {
  if (typeof v !== 'string') return v;
  const whole = wholeExpression(v);
  if (whole !== undefined) return lookup(whole, resolve, scope);
  return v.replace(INTERPOLATION, (_, e: string) => {
    const r = lookup(e, resolve, scope);
    if (typeof r !== 'string' && typeof r !== 'number') throw new Error(`policy-render: \${${e}} is not a string inside "${v}"`);
    return String(r);
  });
}

function renderList(v: unknown, resolve: Resolver, scope: Record<string, unknown>): string[] {
  const items = Array.isArray(v) ? v : v === undefined ? [] : [v];
  const out: string[] = [];
  for (const it of items) {
    const r = renderValue(it, resolve, scope);
    if (Array.isArray(r)) out.push(...r.map(String));
    else if (r !== null && r !== undefined) out.push(String(r));
  }
  return out;
}

function renderStatement(s: Block, resolve: Resolver, scope: Record<string, unknown>): PolicyStatement {
  const out: PolicyStatement = { Effect: (renderValue(s.effect ?? 'Allow', resolve, scope) as 'Allow' | 'Deny') ?? 'Allow' };
  if (s.sid !== undefined) out.Sid = String(renderValue(s.sid, resolve, scope));
  if (s.actions !== undefined) out.Action = renderList(s.actions, resolve, scope);
  if (s.not_actions !== undefined) out.NotAction = renderList(s.not_actions, resolve, scope);
  if (s.resources !== undefined) out.Resource = renderList(s.resources, resolve, scope);
  if (s.not_resources !== undefined) out.NotResource = renderList(s.not_resources, resolve, scope);
  const principals = blocks(s, 'principals');
  if (principals.length) {
    out.Principal = {};
    for (const p of principals) (out.Principal[String(p.type)] ??= []).push(...renderList(p.identifiers, resolve, scope));
  }
  const conditions = blocks(s, 'condition');
  if (conditions.length) {
    out.Condition = {};
    for (const c of conditions) {
      const byKey = (out.Condition[String(c.test)] ??= {});
      (byKey[String(c.variable)] ??= []).push(...renderList(c.values, resolve, scope));
    }
  }
  return out;
}

/** The IAM JSON of a policy document block. */
export function renderPolicy(doc: TfBlock, resolve: Resolver): PolicyJson {
  const Statement = blocks(doc.body, 'statement').map((s) => renderStatement(s, resolve, {}));
  for (const d of dynamicBlocks(doc.body, 'statement')) {
    const each = renderValue(d.for_each, resolve, {});
    const items = Array.isArray(each) ? each : each && typeof each === 'object' ? Object.values(each) : [];
    for (const item of items) for (const c of blocks(d, 'content')) Statement.push(renderStatement(c, resolve, { statement: item }));
  }
  return { Version: '2012-10-17', Statement };
}

