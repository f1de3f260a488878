/**
 * Issue 12: no rule of either council, and no text feature, uses a backtracking RegExp. Every
 * pattern in the rule tables is a Matcher built by src/service/council/matcher.ts (RE2 semantics),
 * and the council sources contain no regex literal, no RegExp and no String#match/matchAll/search.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { splitLines } from '../../../src/service/council/features.js';
import { corpusLabels, CORPUS_DIR } from '../../helpers/council-docs.js';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { LINE_SETS, RULES } from '../../../src/service/council/councils.js';
import { Matcher, MatcherSet, matcherWork } from '../../../src/service/council/matcher.js';
import { lineMatchers } from '../../../src/service/council/rule.js';

const COUNCIL_DIR = new URL('../../../src/service/council/', import.meta.url).pathname;
/** the council data verifiers need (rosters, aggregation rules) lives with the formats */
const PROTOCOL_COUNCIL_DIR = new URL('../../../src/protocol/council/', import.meta.url).pathname;

/** Every value reachable from `o` (own enumerable properties), with its path. */
function walk(o: unknown, path: string, visit: (v: unknown, path: string) => void): void {
  visit(o, path);
  if (o && typeof o === 'object' && !Matcher.is(o)) for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`, visit);
}

describe('the one matcher', () => {
  it('every pattern of every rule is a Matcher from matcher.ts, never a RegExp or a bare pattern string', () => {
    let matchers = 0;
    for (const [council, rules] of Object.entries(RULES)) {
      for (const r of rules) {
        walk(r.definition, `${council}/${r.id}`, (v, path) => {
          expect(v instanceof RegExp, `${path} is a RegExp`).toBe(false);
          if (Matcher.is(v)) matchers++;
          // a pattern can only hide in a field named like one: each such field holds Matchers
          const key = path.split('.').at(-2) ?? '';
          if (['any', 'unless', 'fileAll', 'fileNone', 'abstract', 'technical'].includes(key)) expect(Matcher.is(v), `${path} is not a Matcher`).toBe(true);
        });
        expect(typeof (r as unknown as { judge?: unknown }).judge, `${r.id} carries its own judge function`).toBe('undefined');
      }
    }
    expect(matchers).toBeGreaterThan(60);
  });

  it('a lookalike object is not a Matcher (brand check)', () => {
    const real = Matcher.of('a');
    const fake = { source: 'a', ignoreCase: false, test: () => true };
    expect(Matcher.is(real)).toBe(true);
    expect(Matcher.is(fake)).toBe(false);
    expect(() => MatcherSet.of([fake as unknown as Matcher])).toThrow(TypeError);
  });

  it('every line pattern of a council is in its one RE2 set', () => {
    for (const [council, rules] of Object.entries(RULES)) {
      const inSet = new Set(LINE_SETS[council].matchers);
      for (const r of rules) for (const m of lineMatchers(r.definition)) expect(inSet.has(m), `${r.id}: ${m}`).toBe(true);
    }
  });

  it('refuses what RE2 cannot do in linear time (lookahead, backreferences) and line patterns that match the empty line', () => {
    expect(() => Matcher.of('a(?!b)')).toThrow();
    expect(() => Matcher.of('(a)\\1')).toThrow();
    expect(() => MatcherSet.of([Matcher.of('x*')])).toThrow(/empty line/);
  });

  it('matches per line and meters the engine work', () => {
    const a = Matcher.of('\\beval\\s*\\(');
    const b = Matcher.of('select', true);
    const set = MatcherSet.of([a, b]);
    const before = matcherWork();
    const hits = set.scan(['x = eval (y)', '', 'SELECT 1', 'none']);
    // the prefilter block (the four lines joined: 27 characters + 1), then the three non-empty
    // lines (length + 1 each) with each of the two patterns that matched the block
    expect(matcherWork() - before).toBe(28 + 2 * (13 + 9 + 5));
    const quiet = matcherWork();
    const none = set.scan(Array.from({ length: 64 }, () => 'nothing to see'));
    expect(matcherWork() - quiet).toBe(2 * (32 * 15 - 1 + 1)); // two blocks, no line searched
    expect(none.lines(a)).toEqual([]);
    expect(hits.lines(a)).toEqual([0]);
    expect(hits.lines(b)).toEqual([2]);
    expect(hits.has(2, b) && !hits.has(2, a)).toBe(true);
    expect(() => hits.lines(Matcher.of('other'))).toThrow(/not in the council's matcher set/);
  });
});

describe('the block prefilter', () => {
  it('finds exactly the lines that searching each line with each pattern finds (corpus and edge cases)', () => {
    const edge = [
      'x\nglobal_count = 1\n  global counter\nvar cache = {}\n  except:\nfor {\n',
      'SELECT a\nFROM b WHERE c = "\n" + d\n',
      `${'y\n'.repeat(40)}  global late\n${'z\n'.repeat(30)}TODO\n`,
      'password\n=\n"abcdefgh"\n',
    ];
    for (const [council, rules] of Object.entries(RULES)) {
      const set = LINE_SETS[council];
      const texts = [...edge, ...Object.entries(corpusLabels()).filter(([, l]) => l.council === council).map(([f]) => readFileSync(`${CORPUS_DIR}${f}`, 'utf8'))];
      for (const text of texts) {
        const lines = splitLines(text);
        const hits = set.scan(lines);
        for (const m of set.matchers) {
          const truth = lines.flatMap((l, i) => (l.length > 0 && m.test(l) ? [i] : []));
          expect(hits.lines(m), `${council} ${m}`).toEqual(truth);
        }
      }
      expect(rules.length).toBe(21);
    }
  });
});

describe('the council sources', () => {
  const files = readdirSync(COUNCIL_DIR).filter((f) => f.endsWith('.ts'));
  const protocolFiles = readdirSync(PROTOCOL_COUNCIL_DIR).filter((f) => f.endsWith('.ts'));

  /** Regex literals, the RegExp global, and calls that turn a string into a RegExp. */
  function regexUses(file: string, text = readFileSync(join(files.includes(file) ? COUNCIL_DIR : PROTOCOL_COUNCIL_DIR, file), 'utf8')): string[] {
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const found: string[] = [];
    const at = (n: ts.Node) => `${file}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    const visit = (n: ts.Node) => {
      if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) found.push(`${at(n)} regex literal ${n.getText()}`);
      if (ts.isIdentifier(n) && n.text === 'RegExp') found.push(`${at(n)} RegExp`);
      // String#match/matchAll/search turn a string into a RegExp; the exceptions are RE2Set#match in matcher.ts
      const re2Set = file === 'matcher.ts' && ts.isPropertyAccessExpression(n) && ['this.#set', 'this.#blocks'].includes(n.expression.getText());
      if (ts.isPropertyAccessExpression(n) && ['match', 'matchAll', 'search'].includes(n.name.text) && !re2Set) found.push(`${at(n)} .${n.name.text}`);
      ts.forEachChild(n, visit);
    };
    visit(src);
    return found;
  }

  it('contain no regex literal, no RegExp, no String#match/matchAll/search', () => {
    expect(files).toEqual(expect.arrayContaining(['features.ts', 'matcher.ts', 'rule.ts', 'patent.ts', 'rules-code.ts', 'rules-legal.ts']));
    expect(protocolFiles).toEqual(expect.arrayContaining(['rosters.ts', 'aggregate.ts', 'aggregate-v2.ts']));
    expect([...files, ...protocolFiles].flatMap((f) => regexUses(f))).toEqual([]);
  });

  it('rosters.ts (what verifiers import) loads no rule code and no regex engine: type-only imports', () => {
    const src = ts.createSourceFile('rosters.ts', readFileSync(join(PROTOCOL_COUNCIL_DIR, 'rosters.ts'), 'utf8'), ts.ScriptTarget.ES2022, true);
    const imports = src.statements.filter(ts.isImportDeclaration);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !i.importClause?.isTypeOnly).map((i) => i.getText())).toEqual([]);
  });

  it('the scanner finds what it looks for (it can fail)', () => {
    const found = regexUses('probe.ts', 'const a = /x+/g;\nnew RegExp("y");\n"z".match("z");\nconst ok = "a/b/c".split("/");');
    expect(found).toEqual(['probe.ts:1 regex literal /x+/g', 'probe.ts:2 RegExp', 'probe.ts:3 .match']);
  });
});
