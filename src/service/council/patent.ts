/**
 * The structure of a patent text as the legal-documents council reads it (SPEC §8.3 "patent
 * structure"): sections by their headings, numbered claims and their dependencies, and the judges
 * of the patent rule kinds. Hand-written line and word scans (linear), no regular expression.
 */
import { indentEnd, words, type Text } from './features.js';
import { abstain, approve, linesOf, reject, showLines, type Ctx, type PatentDefinition, type SectionName, type Verdict } from './rule.js';

/** Heading phrases per section (compared lowercased, white space collapsed, `#` and `N.` prefixes and a final `:` removed). */
export const SECTION_HEADINGS: Readonly<Record<SectionName | 'other', readonly string[]>> = Object.freeze({
  abstract: ['abstract', 'abstract of the disclosure', 'abstract of the invention'],
  background: ['background', 'background of the invention', 'background of the disclosure', 'background art', 'field', 'technical field', 'field of the invention', 'description of the related art', 'related art'],
  summary: ['summary', 'summary of the invention', 'summary of the disclosure', 'brief summary', 'disclosure of the invention'],
  drawings: ['brief description of the drawings', 'brief description of drawings', 'description of the drawings', 'drawings'],
  description: ['detailed description', 'detailed description of the invention', 'detailed description of the embodiments', 'detailed description of the preferred embodiments', 'description of embodiments', 'description of the embodiments', 'description', 'best mode', 'modes for carrying out the invention'],
  claims: ['claims', 'what is claimed is', 'we claim', 'i claim', 'the invention claimed is'],
  other: ['title', 'inventor', 'inventors', 'applicant', 'cross-reference to related applications', 'cross reference to related applications', 'related applications', 'references cited'],
});

const HEADINGS: ReadonlyMap<string, SectionName | 'other'> = new Map(Object.entries(SECTION_HEADINGS).flatMap(([name, ps]) => ps.map((p) => [p, name as SectionName | 'other'] as const)));

export interface Section {
  readonly name: SectionName | 'other';
  /** the heading phrase as listed in SECTION_HEADINGS */
  readonly phrase: string;
  /** index of the heading line */
  readonly heading: number;
  /** [start, end) line indexes of its body; text after `Heading:` on the heading line is in `inline` */
  readonly start: number;
  readonly end: number;
  readonly inline: string;
}

export interface Claim {
  readonly number: number;
  readonly line: number;
  readonly text: string;
  /** its words, lowercased */
  readonly words: readonly string[];
  /** claim numbers it refers to ("of claim 2", "according to claims 1 or 3") */
  readonly refs: readonly number[];
}

export interface Patent {
  readonly sections: readonly Section[];
  readonly claims: readonly Claim[];
  /** [start, end) of the claims region: the claims section, or the whole text without one */
  readonly claimsRegion: readonly [number, number];
}

/** Lowercased, white space collapsed, without leading `#`s or a `N.` / `N)` number. */
function normalizeHeading(text: string): string {
  let s = text.trim().toLowerCase();
  while (s.startsWith('#')) s = s.slice(1);
  s = s.trim();
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i > 0 && (s[i] === '.' || s[i] === ')') && s[i + 1] === ' ') s = s.slice(i + 2).trim();
  // collapse runs of white space only when there are some (most lines have none)
  return s.includes('  ') || s.includes('\t') ? s.split('\t').join(' ').split(' ').filter((w) => w !== '').join(' ') : s;
}

/** Longest heading phrase, with room for `#`s, a number and extra spaces. */
const MAX_HEADING = 80;

/**
 * The section a line heads: the line, or its part before its first `:` (≤ 80 characters),
 * normalized, is a heading phrase; text after the `:` is the section's first content.
 */
export function headingOf(line: string): { name: SectionName | 'other'; phrase: string; inline: string } | undefined {
  const colon = line.indexOf(':');
  const head = colon < 0 ? line : line.slice(0, colon);
  if (head.length > MAX_HEADING || indentEnd(head) === head.length) return undefined;
  const phrase = normalizeHeading(head);
  const name = HEADINGS.get(phrase);
  if (name === undefined) return undefined;
  return { name, phrase, inline: colon < 0 ? '' : line.slice(colon + 1).trim() };
}

/** A claim's first line: blanks, 1–3 digits, `.`, blanks, then (outside a claims section) A / An / The. */
function claimStart(line: string, inSection: boolean): number | undefined {
  let i = indentEnd(line);
  const d0 = i;
  while (i < line.length && i - d0 < 4 && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
  if (i === d0 || i - d0 > 3 || line[i] !== '.' || (line[i + 1] !== ' ' && line[i + 1] !== '\t')) return undefined;
  const rest = line.slice(i + 1).trimStart();
  if (rest === '') return undefined;
  if (!inSection && !['A', 'An', 'The'].includes(words(rest.slice(0, 4))[0] ?? '')) return undefined;
  return Number(line.slice(d0, i));
}

function claimRefs(ws: readonly string[]): number[] {
  const refs: number[] = [];
  for (let i = 0; i < ws.length - 1; i++) {
    if (ws[i] !== 'claim' && ws[i] !== 'claims') continue;
    for (let j = i + 1; j < ws.length && j < i + 8; j++) {
      if (/* digits */ ws[j].length <= 3 && [...ws[j]].every((c) => c >= '0' && c <= '9')) refs.push(Number(ws[j]));
      else if (!['or', 'and', 'to', 'any', 'one', 'of'].includes(ws[j])) break;
    }
  }
  return refs;
}

export function parsePatent(t: Text): Patent {
  const heads: { i: number; name: SectionName | 'other'; phrase: string; inline: string }[] = [];
  t.lines.forEach((line, i) => {
    const h = headingOf(line);
    if (h) heads.push({ i, ...h });
  });
  const sections = heads.map((h, k) => ({ name: h.name, phrase: h.phrase, heading: h.i, start: h.i + 1, end: k + 1 < heads.length ? heads[k + 1].i : t.lines.length, inline: h.inline }));
  const cs = sections.find((s) => s.name === 'claims');
  const claimsRegion: [number, number] = cs ? [cs.heading, cs.end] : [0, t.lines.length];
  const claims: Claim[] = [];
  let open: { number: number; line: number; parts: string[] } | undefined;
  const close = () => {
    if (!open) return;
    const text = open.parts.join(' ');
    const ws = words(text.toLowerCase());
    claims.push({ number: open.number, line: open.line, text, words: ws, refs: claimRefs(ws) });
    open = undefined;
  };
  for (let i = claimsRegion[0]; i < claimsRegion[1]; i++) {
    const line = t.lines[i];
    const n = claimStart(line, cs !== undefined);
    if (n !== undefined) {
      close();
      open = { number: n, line: i, parts: [line.trim()] };
    } else if (open && cs && line.trim() !== '') open.parts.push(line.trim());
    else if (open && !cs) close();
  }
  close();
  return { sections, claims, claimsRegion };
}

function sectionText(t: Text, s: Section): string {
  return [s.inline, ...t.lines.slice(s.start, s.end)].join('\n');
}

/** Lines of a region: all, the claims region, or everything outside the claims and abstract sections. */
function regionLines(t: Text, p: Patent, region: 'all' | 'claims' | 'description'): [number, number][] {
  if (region === 'all') return [[0, t.lines.length]];
  if (region === 'claims') return p.claims.length === 0 ? [] : [[p.claimsRegion[0], p.claimsRegion[1]]];
  const cut = p.sections.filter((s) => s.name === 'claims' || s.name === 'abstract').map((s) => [s.heading, s.end] as [number, number]);
  const out: [number, number][] = [];
  let at = 0;
  for (const [a, b] of cut.sort((x, y) => x[0] - y[0])) {
    if (a > at) out.push([at, a]);
    at = Math.max(at, b);
  }
  if (at < t.lines.length) out.push([at, t.lines.length]);
  return out;
}

/** Adds `w` and its possible singulars (…s, …es, …ies → …y) to `seen`. */
function addStems(seen: Set<string>, w: string): void {
  seen.add(w);
  if (w.length > 3 && w.endsWith('s')) seen.add(w.slice(0, -1));
  if (w.length > 4 && w.endsWith('es')) seen.add(w.slice(0, -2));
  if (w.length > 4 && w.endsWith('ies')) seen.add(`${w.slice(0, -3)}y`);
}

/** Whether `w` or one of its possible singulars is in `seen`. */
function seenStem(seen: ReadonlySet<string>, w: string): boolean {
  if (seen.has(w)) return true;
  if (w.length > 3 && w.endsWith('s') && seen.has(w.slice(0, -1))) return true;
  if (w.length > 4 && w.endsWith('es') && seen.has(w.slice(0, -2))) return true;
  return w.length > 4 && w.endsWith('ies') && seen.has(`${w.slice(0, -3)}y`);
}

const isAlpha = (w: string) => [...w].every((c) => c.toLowerCase() !== c.toUpperCase());

/** Terms used with "the" / "said" in the claims before any mention of the word (first occurrence each). */
export function undefinedTerms(p: Patent, skip: readonly string[]): string[] {
  const seen = new Set<string>();
  const out = new Set<string>();
  for (const c of p.claims) {
    const ws = c.words;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      const next = ws[i + 1];
      if ((w === 'the' || w === 'said') && next && !seenStem(seen, next) && !skip.includes(next) && isAlpha(next)) out.add(next);
      addStems(seen, w);
    }
  }
  return [...out];
}

/**
 * Distinct X of "means for X" in the claims, and those no sentence of the description links to a
 * structure. A sentence links "means for X" when, after the phrase, it has a cue word (`cues`)
 * followed later by an article (a, an, one) — "the means for latching comprises a spring-loaded
 * pawl" — or when the phrase follows "as" or "as the" — "a magnet serves as the means for latching".
 */
export function meansWithoutStructure(t: Text, p: Patent, cues: readonly string[]): { all: string[]; unlinked: string[] } {
  const found = new Set<string>();
  for (const c of p.claims) {
    const ws = c.words;
    for (let i = 0; i + 2 < ws.length; i++) if (ws[i] === 'means' && ws[i + 1] === 'for') found.add(ws[i + 2]);
  }
  const all = [...found];
  if (all.length === 0) return { all, unlinked: [] };
  const desc = regionLines(t, p, 'description').map(([a, b]) => t.lines.slice(a, b).join('\n')).join('\n');
  const cueSet = new Set(cues);
  const linked = new Set<string>();
  for (const sentence of sentences(desc)) {
    const ws = words(sentence.toLowerCase());
    // from the end: is there a cue followed later by an article, after position i?
    const cueThenArticleAfter: boolean[] = new Array(ws.length + 1).fill(false);
    let articleSeen = false;
    for (let i = ws.length - 1; i >= 0; i--) {
      cueThenArticleAfter[i] = cueThenArticleAfter[i + 1] || (cueSet.has(ws[i]) && articleSeen);
      if (ws[i] === 'a' || ws[i] === 'an' || ws[i] === 'one') articleSeen = true;
    }
    for (let i = 0; i + 2 < ws.length; i++) {
      if (ws[i] !== 'means' || ws[i + 1] !== 'for') continue;
      const asBefore = ws[i - 1] === 'as' || (ws[i - 1] === 'the' && ws[i - 2] === 'as');
      if (asBefore || cueThenArticleAfter[i + 3]) linked.add(ws[i + 2]);
    }
  }
  return { all, unlinked: all.filter((x) => !linked.has(x)) };
}

/** Sentences: text split after `.`, `!` or `?` followed by white space. */
function sentences(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const n = text[i + 1];
    if ((c === '.' || c === '!' || c === '?') && (n === undefined || n === ' ' || n === '\n' || n === '\t' || n === '\r')) {
      out.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** A `Title: …` line, a `Title` heading's first line, or else the first non-blank line (3..200 characters, not a heading). */
function titleOf(t: Text, p: Patent): string | undefined {
  const th = p.sections.find((s) => s.phrase === 'title');
  if (th) return (th.inline || t.lines.slice(th.start, th.end).find((l) => l.trim() !== '')?.trim()) ?? undefined;
  const first = t.lines.find((l) => l.trim() !== '');
  if (first === undefined || headingOf(first)) return undefined;
  const s = first.trim();
  return s.length >= 3 && s.length <= 200 ? s : undefined;
}

export function judgePatent(d: PatentDefinition, c: Ctx, p: Patent): Verdict {
  const t = c.t;
  if (t.empty) return abstain('empty document');
  switch (d.kind) {
    case 'title': {
      const title = titleOf(t, p);
      return title ? approve(`title of ${words(title).length} words`, 700) : reject('no title (a "Title:" line or a first line of 3..200 characters)', 750);
    }
    case 'section': {
      const s = p.sections.find((x) => x.name === d.section);
      if (!s) return d.optional ? abstain(`no ${d.section} section`) : reject(`no ${d.section} section (heading "${SECTION_HEADINGS[d.section][0]}")`, d.absent);
      const n = words(sectionText(t, s)).length;
      if (n === 0) return reject(`the ${d.section} section is empty`, d.absent);
      if (d.maxWords !== undefined && n > d.maxWords) return reject(`the ${d.section} is ${n} words, above ${d.maxWords}`, 800);
      return approve(`${d.section} section of ${n} words${d.maxWords !== undefined ? ` (at most ${d.maxWords})` : ''}`, 700);
    }
    case 'claims': {
      const cs = p.claims;
      if (cs.length === 0) return reject('no numbered claims ("1. A …")', 900);
      const gap = cs.findIndex((c, i) => c.number !== i + 1);
      if (gap >= 0) return reject(`claims are not numbered 1..${cs.length} in order (claim ${gap + 1} is numbered ${cs[gap].number})`, 800);
      const bad = cs.find((c) => c.refs.some((r) => r >= c.number));
      if (bad) return reject(`claim ${bad.number} refers to claim ${bad.refs.find((r) => r >= bad.number)}, not an earlier one`, 800);
      return approve(`${cs.length} numbered claims, dependencies to earlier claims`, Math.min(900, 650 + 20 * cs.length));
    }
    case 'claim-count': {
      if (p.claims.length === 0) return abstain('no claims to count');
      const n = d.independent ? p.claims.filter((c) => c.refs.length === 0).length : p.claims.length;
      const what = d.independent ? 'independent claims' : 'claims';
      return n > d.max ? reject(`${n} ${what}, above ${d.max}`, 600) : approve(`${n} ${what} (at most ${d.max})`, 700);
    }
    case 'antecedent': {
      if (p.claims.length === 0) return abstain('no claims');
      const u = undefinedTerms(p, d.skip);
      return u.length > 0
        ? reject(`${u.length} claim terms without antecedent basis: ${u.slice(0, 3).map((x) => `"the ${x.slice(0, 30)}"`).join(', ')}`, 800)
        : approve('every "the"/"said" term of the claims is introduced before', 700);
    }
    case 'means': {
      if (p.claims.length === 0) return abstain('no claims');
      const m = meansWithoutStructure(t, p, d.cues);
      if (m.all.length === 0) return approve('no means-plus-function language in the claims', 650);
      return m.unlinked.length > 0
        ? reject(`"means for ${m.unlinked.slice(0, 3).map((x) => x.slice(0, 30)).join('", "means for ')}" without a structure in the description`, 850)
        : approve(`${m.all.length} means-plus-function terms, each with a structure in the description`, 700);
    }
    case 'presence': {
      const ns = regionLines(t, p, d.region).flatMap(([a, b]) => linesOf(c, d.any, [], 'all', a, b));
      if (ns.length > 0) return approve(`${d.what} (${ns.length} lines)`, Math.min(900, 650 + 50 * ns.length));
      return d.optional ? abstain(`no ${d.what}`) : reject(`no ${d.what} found`, 750);
    }
    case 'at-most': {
      if (d.region === 'claims' && p.claims.length === 0) return abstain('no claims');
      const ns = regionLines(t, p, d.region).flatMap(([a, b]) => linesOf(c, d.any, [], 'all', a, b));
      return ns.length > d.max ? reject(`${ns.length} lines with ${d.what} (at most ${d.max}): ${showLines(ns)}`, d.confidence) : approve(`${ns.length} lines with ${d.what} (at most ${d.max})`, 700);
    }
    case 'anchored': {
      const a = linesOf(c, d.abstract).length;
      const tech = linesOf(c, d.technical).length;
      if (a > 0 && tech === 0) return reject(`${a} lines with abstract-idea terms and none with a technical element`, 700);
      return approve(`${tech} lines with technical elements, ${a} with abstract-idea terms`, 700);
    }
    case 'range': {
      const v = t.f[d.feature];
      if (v < d.min) return reject(`${d.what} is ${v}, below ${d.min}`, 750);
      if (v > d.max) return reject(`${d.what} is ${v}, above ${d.max}`, 700);
      return approve(`${d.what} is ${v} (${d.min}..${d.max})`, 700);
    }
  }
}
