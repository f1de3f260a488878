/**
 * Rule personas as data (SPEC §8.3 "rule definitions"): a rule is a persona plus a `definition`
 * whose kind names one of a few documented judges and whose parameters (thresholds, confidences,
 * patterns) are plain data. Every pattern is a `Matcher` (./matcher.ts, RE2 semantics); judges scan
 * lines by hand. This file holds the kinds shared by both councils; the patent-structure kinds are
 * in ./patent.ts.
 */
import type { Text, TextFeatures } from './features.js';
import type { LineHits, Matcher } from './matcher.js';
import { MAX_RATIONALE_CHARS, type Persona, type PersonaVote } from '../../protocol/council/types.js';

export type Verdict = Omit<PersonaVote, 'persona'>;

const clip = (s: string) => (s.length <= MAX_RATIONALE_CHARS ? s : `${s.slice(0, MAX_RATIONALE_CHARS - 1)}…`);
export const approve = (rationale: string, confidence: number): Verdict => ({ vote: 'approve', confidence, rationale: clip(rationale) });
export const reject = (rationale: string, confidence: number): Verdict => ({ vote: 'reject', confidence, rationale: clip(rationale) });
export const abstain = (rationale: string): Verdict => ({ vote: 'abstain', confidence: 0, rationale: clip(rationale) });

/**
 * One thing a `detect` rule looks for. A line counts when it is in scope (`code`: not a comment
 * line; `all`: every line), matches at least one of `any` and none of `unless`. The finding stands
 * when at least one line counts, every `fileAll` pattern matches some line of the text (any line,
 * comments included) and no `fileNone` pattern matches any line; then the rule rejects with
 * `confidence`.
 */
export interface Finding {
  readonly what: string;
  readonly lines: 'code' | 'all';
  readonly any: readonly Matcher[];
  readonly unless?: readonly Matcher[];
  readonly fileAll?: readonly Matcher[];
  readonly fileNone?: readonly Matcher[];
  readonly confidence: number;
}

export type GenericDefinition =
  /** rejects with the highest confidence of the findings that stand; approves with `clean` if none does */
  | { readonly kind: 'detect'; readonly findings: readonly Finding[]; readonly clean: number }
  /** rejects when a feature exceeds `max` */
  | { readonly kind: 'limit'; readonly feature: keyof TextFeatures; readonly max: number; readonly what: string }
  /** files of at least `minLines` lines need `minPerMille` comment lines */
  | { readonly kind: 'comments'; readonly minLines: number; readonly minPerMille: number }
  /** approves when some line matches (positive evidence), abstains otherwise */
  | { readonly kind: 'evidence'; readonly any: readonly Matcher[]; readonly what: string }
  /** rejects when more than `max` lines match */
  | { readonly kind: 'count'; readonly any: readonly Matcher[]; readonly max: number; readonly what: string };

export type PatentDefinition =
  /** a title: a `Title:` line, or a first non-blank line of 3..200 characters that is not a heading */
  | { readonly kind: 'title' }
  /** a section (SPEC §8.3 headings); optional → abstain when absent; `maxWords` bounds its length */
  | { readonly kind: 'section'; readonly section: SectionName; readonly optional: boolean; readonly maxWords?: number; readonly absent: number }
  /** numbered claims 1..n in order; a dependent claim refers to an earlier claim */
  | { readonly kind: 'claims' }
  /** rejects when there are more than `max` claims (`independent`: only the independent ones) */
  | { readonly kind: 'claim-count'; readonly max: number; readonly independent: boolean }
  /** every "the X" / "said X" of the claims has an earlier mention of X in the claims */
  | { readonly kind: 'antecedent'; readonly skip: readonly string[] }
  /** every "means for X" of the claims has a sentence of the description linking it to a structure (cue word, then an article) */
  | { readonly kind: 'means'; readonly cues: readonly string[] }
  /** lines of `region` matching `any`: approve when ≥ 1, else abstain (optional) or reject */
  | { readonly kind: 'presence'; readonly region: 'all' | 'claims' | 'description'; readonly any: readonly Matcher[]; readonly what: string; readonly optional: boolean }
  /** lines of `region` matching `any`: reject when more than `max` */
  | { readonly kind: 'at-most'; readonly region: 'all' | 'claims'; readonly any: readonly Matcher[]; readonly max: number; readonly what: string; readonly confidence: number }
  /** lines with abstract-idea terms but no line with a technical element */
  | { readonly kind: 'anchored'; readonly abstract: readonly Matcher[]; readonly technical: readonly Matcher[] }
  /** a feature within `min..max` */
  | { readonly kind: 'range'; readonly feature: keyof TextFeatures; readonly min: number; readonly max: number; readonly what: string };

export type SectionName = 'abstract' | 'background' | 'summary' | 'drawings' | 'description' | 'claims';

export type RuleDefinition = GenericDefinition | PatentDefinition;

export interface Rule extends Persona {
  readonly definition: RuleDefinition;
}

/** A rule table's entry: the persona of `roster` with this id, and its definition. */
export function ruleOf(roster: readonly Persona[]): (id: string, definition: RuleDefinition) => Rule {
  return (id, definition) => {
    const persona = roster.find((x) => x.id === id);
    if (!persona) throw new Error(`no persona ${id} in the roster`);
    return deepFreeze({ ...persona, definition });
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** What a judge reads: the text and which line patterns match which lines. */
export interface Ctx {
  readonly t: Text;
  readonly hits: LineHits;
}

/**
 * 1-based numbers of the lines in [from, to) that match one of `any` and none of `unless`
 * (`code`: comment lines excluded), ascending.
 */
export function linesOf(c: Ctx, any: readonly Matcher[], unless: readonly Matcher[] = [], scope: 'code' | 'all' = 'all', from = 0, to = c.t.lines.length): number[] {
  const cand = any.length === 1 ? c.hits.lines(any[0]) : union(any.map((m) => c.hits.lines(m)), c.t.lines.length);
  const out: number[] = [];
  for (const i of cand) {
    if (i < from || i >= to || (scope === 'code' && c.t.comment[i])) continue;
    if (unless.some((m) => c.hits.has(i, m))) continue;
    out.push(i + 1);
  }
  return out;
}

/** Ascending union of ascending line lists (a mark per line: linear, no sort). */
function union(lists: readonly (readonly number[])[], lines: number): readonly number[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  const mark = new Uint8Array(lines);
  for (const l of nonEmpty) for (const i of l) mark[i] = 1;
  const out: number[] = [];
  for (let i = 0; i < lines; i++) if (mark[i]) out.push(i);
  return out;
}

/** The patterns of a definition (all matched per line, by the council's one RE2 set). */
export function lineMatchers(d: RuleDefinition): Matcher[] {
  switch (d.kind) {
    case 'detect':
      return d.findings.flatMap((f) => [...f.any, ...(f.unless ?? []), ...(f.fileAll ?? []), ...(f.fileNone ?? [])]);
    case 'evidence':
    case 'count':
    case 'presence':
    case 'at-most':
      return [...d.any];
    case 'anchored':
      return [...d.abstract, ...d.technical];
    default:
      return [];
  }
}

export function showLines(ns: readonly number[], max = 5): string {
  return `line${ns.length === 1 ? '' : 's'} ${ns.slice(0, max).join(', ')}${ns.length > max ? ', …' : ''}`;
}

export function judgeGeneric(d: GenericDefinition, c: Ctx, role: string): Verdict {
  const t = c.t;
  const empty = t.empty;
  switch (d.kind) {
    case 'detect': {
      if (empty) return abstain('empty content');
      const found: string[] = [];
      let conf = 0;
      for (const f of d.findings) {
        const ns = linesOf(c, f.any, f.unless, f.lines);
        if (ns.length === 0) continue;
        if (f.fileAll && !f.fileAll.every((m) => c.hits.lines(m).length > 0)) continue;
        if (f.fileNone && f.fileNone.some((m) => c.hits.lines(m).length > 0)) continue;
        found.push(`${f.what} (${showLines(ns)})`);
        conf = Math.max(conf, f.confidence);
      }
      return found.length === 0 ? approve(`nothing found (${role})`, d.clean) : reject(`found ${found.join('; ')}`, conf);
    }
    case 'limit': {
      if (empty) return abstain('empty content');
      const v = t.f[d.feature];
      if (v > d.max) return reject(`${d.what} is ${v}, above ${d.max}`, Math.min(980, 600 + 100 * Math.ceil((v - d.max) / Math.max(1, d.max / 4))));
      return approve(`${d.what} is ${v} (limit ${d.max})`, 650 + Math.round((250 * (d.max - v)) / Math.max(1, d.max)));
    }
    case 'comments': {
      if (empty) return abstain('empty content');
      if (t.f.lines < d.minLines) return approve(`short file (${t.f.lines} lines): comments optional`, 600);
      if (t.f.commentPerMille < d.minPerMille) return reject(`comments are ${t.f.commentPerMille}‰ of ${t.f.lines} lines, below ${d.minPerMille}‰`, 650);
      return approve(`comments are ${t.f.commentPerMille}‰ of lines`, 700);
    }
    case 'evidence': {
      const n = linesOf(c, d.any).length;
      return n > 0 ? approve(`found ${n} lines with ${d.what}`, Math.min(900, 550 + 50 * n)) : abstain(`no ${d.what} in this text`);
    }
    case 'count': {
      if (empty) return abstain('empty content');
      const n = linesOf(c, d.any).length;
      return n > d.max
        ? reject(`${n} ${d.what}, above ${d.max}`, Math.min(980, 600 + 100 * Math.ceil((n - d.max) / 5)))
        : approve(`${n} ${d.what} (limit ${d.max})`, 650 + Math.min(250, 10 * (d.max - n)));
    }
  }
}
