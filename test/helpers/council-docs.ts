/**
 * Generated documentation of the councils, so nothing in SPEC.md or README.md about them is typed
 * by hand: the §8.3 rosters and rule definitions (from the rule tables) and the README table of
 * the labelled corpus (test/corpus, run through the council). `npx tsx scripts/council-docs.ts`
 * prints both; tests check that SPEC.md and README.md contain exactly what is generated.
 */
import { readFileSync } from 'node:fs';
import { aggregateV2, VETO_CONFIDENCE } from '../../src/protocol/council/aggregate-v2.js';
import { COUNCILS, RULES, ruleVotes } from '../../src/service/council/councils.js';
import { Matcher } from '../../src/service/council/matcher.js';
import type { Outcome } from '../../src/protocol/council/aggregate.js';
import type { Council, CouncilId } from '../../src/protocol/council/types.js';

const ROOT = new URL('../../', import.meta.url).pathname;
export const CORPUS_DIR = `${ROOT}test/corpus/`;

/** A rule definition as JSON, each Matcher as its RE2 pattern (`(?i)` prefixed when case-insensitive). */
export function definitionJson(def: unknown): string {
  return JSON.stringify(def, (_k, v) => (Matcher.is(v) ? v.toString() : v));
}

export function rosterMarkdown(c: Council): string {
  const rules = RULES[c.id];
  const rows = rules.map((r, i) => `| ${i + 1} | \`${r.id}\` | ${r.name} | ${r.severity} | ${r.role} | \`${r.definition.kind}\` |`);
  const defs = rules.map((r) => definitionJson({ persona: r.id, ...r.definition }));
  return [
    `Roster \`${c.id}\` (route \`${c.route}\`), in vote order:`,
    '',
    '| # | persona | name | class | role | kind |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Rule definitions of \`${c.id}\` (one JSON object per persona, in roster order; patterns are RE2 syntax):`,
    '',
    '```json',
    ...defs,
    '```',
  ].join('\n');
}

/** The generated part of SPEC §8.3, between its markers. */
export function specRosters(): string {
  return COUNCILS.map(rosterMarkdown).join('\n\n');
}

export interface Label {
  council: CouncilId;
  expected: Outcome;
  kinds: string[];
  high_severity?: boolean;
  language?: string;
}

export interface CorpusRow extends Label {
  file: string;
  actual: Outcome;
  /** personas whose vote was a veto (blocking, reject, confidence ≥ 700) */
  vetoes: string[];
}

export function corpusLabels(): Record<string, Label> {
  return JSON.parse(readFileSync(`${CORPUS_DIR}labels.json`, 'utf8')).files;
}

/** Which persona's domain each weakness or defect kind is. */
export function kindPersonas(): Record<string, string> {
  return JSON.parse(readFileSync(`${CORPUS_DIR}labels.json`, 'utf8')).kind_personas;
}

export function runCorpus(): CorpusRow[] {
  return Object.entries(corpusLabels()).map(([file, label]) => {
    const council = COUNCILS.find((c) => c.id === label.council)!;
    const votes = ruleVotes(council, readFileSync(`${CORPUS_DIR}${file}`, 'utf8'));
    const blocking = new Set(council.personas.filter((p) => p.severity === 'blocking').map((p) => p.id));
    const vetoes = votes.filter((v) => v.vote === 'reject' && v.confidence >= VETO_CONFIDENCE && blocking.has(v.persona)).map((v) => v.persona);
    return { file, ...label, actual: aggregateV2(council, votes).outcome, vetoes };
  });
}

export interface Score {
  council: CouncilId;
  correct: number;
  total: number;
  falseApprovals: number;
  falseRejections: number;
  inconclusive: number;
  highSeverityFalseApprovals: number;
}

export function score(rows: readonly CorpusRow[]): Score[] {
  return COUNCILS.map((c) => {
    const mine = rows.filter((r) => r.council === c.id);
    return {
      council: c.id,
      correct: mine.filter((r) => r.actual === r.expected).length,
      total: mine.length,
      falseApprovals: mine.filter((r) => r.expected === 'reject' && r.actual === 'approve').length,
      falseRejections: mine.filter((r) => r.expected === 'approve' && r.actual === 'reject').length,
      inconclusive: mine.filter((r) => r.actual === 'inconclusive').length,
      highSeverityFalseApprovals: mine.filter((r) => r.high_severity && r.actual !== 'reject').length,
    };
  });
}

/** The README table (between its markers). */
export function corpusTable(scores: readonly Score[]): string {
  return [
    '| council | correct / total | false approvals | false rejections | inconclusive | high-severity files approved |',
    '|---|---|---|---|---|---|',
    ...scores.map((s) => `| \`${s.council}\` | ${s.correct} / ${s.total} | ${s.falseApprovals} | ${s.falseRejections} | ${s.inconclusive} | ${s.highSeverityFalseApprovals} |`),
  ].join('\n');
}

/** The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` of a file, or undefined. */
export function between(text: string, name: string): string | undefined {
  const a = text.indexOf(`<!-- ${name}:begin -->\n`);
  const b = text.indexOf(`\n<!-- ${name}:end -->`);
  return a < 0 || b < a ? undefined : text.slice(a + `<!-- ${name}:begin -->\n`.length, b);
}
