// A parsed view of infra/*.tf for the static checks: every file parsed on its own with
// @cdktn/hcl2json (HCL2 -> JSON; expressions stay "${...}" strings, blocks become 1-element
// arrays), then merged by address. Parsing file by file keeps duplicate names visible
// (convertFiles would merge them away) and lets findings name the file.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from '@cdktn/hcl2json';

export type Block = Record<string, unknown>;

export interface TfBlock {
  kind: 'resource' | 'data';
  type: string;
  name: string;
  file: string;
  body: Block;
}

export interface InfraModel {
  dir: string;
  files: string[];
  resources: TfBlock[];
  data: TfBlock[];
  locals: Record<string, unknown>;
  variables: Record<string, Block>;
  outputs: Record<string, Block>;
  terraform: Block[];
}

/** Parses every .tf file of `dir` (not recursive: infra/tests holds .tftest.hcl only). */
export async function loadInfra(dir: string): Promise<InfraModel> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.tf')).sort();
  const model: InfraModel = { dir, files, resources: [], data: [], locals: {}, variables: {}, outputs: {}, terraform: [] };
  for (const file of files) {
    const json = await parse(file, await readFile(join(dir, file), 'utf8'));
    for (const kind of ['resource', 'data'] as const) {
      const byType = (json[kind] ?? {}) as Record<string, Record<string, Block[]>>;
      for (const [type, byName] of Object.entries(byType)) {
        for (const [name, bodies] of Object.entries(byName)) {
          for (const body of bodies) (kind === 'resource' ? model.resources : model.data).push({ kind, type, name, file, body });
        }
      }
    }
    for (const l of (json.locals ?? []) as Block[]) Object.assign(model.locals, l);
    for (const [name, bodies] of Object.entries((json.variable ?? {}) as Record<string, Block[]>)) model.variables[name] = bodies[0];
    for (const [name, bodies] of Object.entries((json.output ?? {}) as Record<string, Block[]>)) model.outputs[name] = bodies[0];
    model.terraform.push(...((json.terraform ?? []) as Block[]));
  }
  return model;
}

export function resourcesOf(model: InfraModel, type: string): TfBlock[] {
  return model.resources.filter((r) => r.type === type);
}

export function dataOf(model: InfraModel, type: string): TfBlock[] {
  return model.data.filter((d) => d.type === type);
}

/** First element of a nested block (hcl2json renders `ttl { … }` as [{…}]). */
export function block(body: Block | undefined, key: string): Block | undefined {
  const v = body?.[key];
  return Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' ? (v[0] as Block) : undefined;
}

export function blocks(body: Block | undefined, key: string): Block[] {
  const v = body?.[key];
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Block[]) : [];
}

/**
 * Resolves `${var.X}` (to its default) and `${local.X}` / `${local.X.Y}` inside a string, as
 * far as they are plain strings; anything else is left as written. Enough to recover the
 * resource names, which are built from name_prefix / secret_prefix only.
 */
export function resolveString(model: InfraModel, value: unknown, depth = 0): unknown {
  if (typeof value !== 'string' || depth > 8) return value;
  const out = value.replace(/\$\{(var|local)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}/g, (whole, kind, name, member) => {
    let v: unknown = kind === 'var' ? model.variables[name]?.default : model.locals[name];
    if (member !== undefined) v = v && typeof v === 'object' ? (v as Block)[member] : undefined;
    const r = resolveString(model, v, depth + 1);
    return typeof r === 'string' && !r.includes('${') ? r : whole;
  });
  return out;
}

/** The names a resource gets: its `name`, or one per value of the local map it iterates. */
export function resolvedNames(model: InfraModel, r: TfBlock, attr = 'name'): string[] {
  const raw = r.body[attr];
  if (raw === '${each.value}' && typeof r.body.for_each === 'string') {
    for (const m of r.body.for_each.matchAll(/local\.([A-Za-z0-9_]+)/g)) {
      const v = model.locals[m[1]];
      if (v && typeof v === 'object') return Object.values(v as Block).map((x) => String(resolveString(model, x)));
    }
  }
  const s = resolveString(model, raw);
  return typeof s === 'string' ? [s] : [];
}

/** Every statement of a policy document, including `dynamic "statement"` contents. */
export function statementsOf(doc: TfBlock): Block[] {
  const out = [...blocks(doc.body, 'statement')];
  // hcl2json renders `dynamic "statement" { … }` blocks as {dynamic: {statement: [{content: [{…}], for_each}]}}
  for (const d of dynamicBlocks(doc.body, 'statement')) out.push(...blocks(d, 'content'));
  return out;
}

/** The `dynamic "NAME"` blocks of a body (an object or a 1-element array of one, as hcl2json gives it). */
export function dynamicBlocks(body: Block | undefined, name: string): Block[] {
  const dyn = body?.dynamic;
  const holders = (Array.isArray(dyn) ? dyn : dyn ? [dyn] : []) as Block[];
  return holders.flatMap((h) => blocks(h, name));
}

export function stringList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  return [String(v)];
}

/** `${data.aws_iam_policy_document.NAME[0].json}` -> NAME, else undefined. */
export function policyDocumentName(expr: unknown): string | undefined {
  const m = typeof expr === 'string' ? /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_]+)(?:\[0\])?\.json\}$/.exec(expr) : null;
  return m?.[1];
}

/** All string leaves of a JSON tree, with their path. */
export function* stringLeaves(v: unknown, path = ''): Generator<[string, string]> {
  if (typeof v === 'string') yield [path, v];
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* stringLeaves(v[i], `${path}[${i}]`);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) yield* stringLeaves(x, path ? `${path}.${k}` : k);
}
