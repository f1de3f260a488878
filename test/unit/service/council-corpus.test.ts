/**
 * Issue 18: the labelled corpus (test/corpus/labels.json) through the default council (rules/v2,
 * aggregation rule v2), the README table it produces, and the SPEC §8.3 rosters generated from
 * the rule tables. Nothing here is typed by hand twice: README.md and SPEC.md must contain exactly
 * what test/helpers/council-docs.ts generates (`npx tsx scripts/council-docs.ts corpus|spec`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { between, CORPUS_DIR, corpusLabels, corpusTable, kindPersonas, runCorpus, score, specRosters } from '../../helpers/council-docs.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('the labelled corpus', () => {
  const labels = corpusLabels();
  const rows = runCorpus();

  it('has at least 60 code files (half with weaknesses, four languages) and 30 patent texts, all labelled', () => {
    const files = [...readdirSync(`${CORPUS_DIR}code`).map((f) => `code/${f}`), ...readdirSync(`${CORPUS_DIR}patents`).map((f) => `patents/${f}`)].sort();
    expect(Object.keys(labels).sort()).toEqual(files);
    const code = Object.values(labels).filter((l) => l.council === 'code-analysis');
    const patents = Object.values(labels).filter((l) => l.council === 'legal-documents');
    expect(code.length).toBeGreaterThanOrEqual(60);
    expect(code.filter((l) => l.expected === 'reject').length).toBe(code.length / 2);
    expect(code.filter((l) => l.expected === 'reject').every((l) => l.kinds.length > 0)).toBe(true);
    expect(new Set(code.map((l) => l.language))).toEqual(new Set(['python', 'javascript', 'typescript', 'go', 'java']));
    for (const kind of ['code-execution', 'shell-injection', 'unsafe-deserialization', 'hard-coded-credentials', 'string-built-sql', 'path-traversal', 'weak-password-hash', 'tls-verification-disabled', 'xxe']) {
      expect(code.some((l) => l.kinds.includes(kind)), kind).toBe(true);
    }
    expect(patents.length).toBeGreaterThanOrEqual(30);
    for (const kind of ['missing-claims', 'abstract-over-150-words', 'undefined-claim-terms', 'means-plus-function-without-structure']) {
      expect(patents.some((l) => l.kinds.includes(kind)), kind).toBe(true);
    }
  });

  it('approves no file with a high-severity weakness', () => {
    const high = rows.filter((r) => r.high_severity);
    expect(high.length).toBeGreaterThanOrEqual(15);
    expect(high.filter((r) => r.actual !== 'reject').map((r) => r.file)).toEqual([]);
  });

  it('rejects for the labelled reasons: every kind of a file is vetoed by the persona of its domain', () => {
    const domain = kindPersonas();
    const wrong: string[] = [];
    for (const r of rows.filter((x) => x.expected === 'reject' && x.actual === 'reject')) {
      for (const k of r.kinds) if (!r.vetoes.includes(domain[k])) wrong.push(`${r.file}: ${k} not vetoed by ${domain[k]} (vetoes: ${r.vetoes.join(', ')})`);
    }
    expect(wrong).toEqual([]);
  });

  it('gives the numbers of the README table (generated, not typed)', () => {
    const readme = between(readFileSync(`${ROOT}README.md`, 'utf8'), 'council-corpus');
    expect(readme, 'README.md lacks the council-corpus markers').toBeDefined();
    expect(readme).toBe(corpusTable(score(rows)));
  });

  it('the score counts what it says (it can fail)', () => {
    const flipped = rows.map((r) => (r.file === 'code/weak-py-seven-lines.py' ? { ...r, actual: 'approve' as const } : r));
    const code = score(flipped).find((s) => s.council === 'code-analysis')!;
    const before = score(rows).find((s) => s.council === 'code-analysis')!;
    expect(code.falseApprovals).toBe(before.falseApprovals + 1);
    expect(code.highSeverityFalseApprovals).toBe(before.highSeverityFalseApprovals + 1);
    expect(code.correct).toBe(before.correct - 1);
  });
});

describe('SPEC §8.3', () => {
  it('holds the rosters and rule definitions exactly as the rule tables define them', () => {
    const spec = between(readFileSync(`${ROOT}SPEC.md`, 'utf8'), 'council-rosters');
    expect(spec, 'SPEC.md lacks the council-rosters markers').toBeDefined();
    expect(spec).toBe(specRosters());
  });
});
