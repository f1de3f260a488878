/**
 * The one matcher of the council rules (SPEC §8.3): every pattern a rule uses is a `Matcher` built
 * here, on re2js (a pure-JS port of RE2: automata, no backtracking, so one search costs time linear
 * in the text whatever the pattern and the input). No rule, and no text feature, touches a JS
 * `RegExp` (a test walks the rule tables and scans the council sources for that).
 *
 * Two searches exist, both "does this text contain a match": `Matcher.test` over a whole text, and
 * `MatcherSet.scan`, which runs ALL the line patterns of a council over each line in one pass (an
 * RE2 set: one automaton for all the patterns) and records which patterns match which lines. There
 * is no find-all loop: repeated unanchored searches from successive positions can cost quadratic
 * time even on an automaton (each search may scan far past its own match), so rules count
 * matching LINES.
 *
 * The engine work is metered (characters handed to the engine, plus one per search) so a test can
 * bound the work of a consultation on adversarial inputs without timing anything.
 */
import { RE2JS, RE2Set } from 're2js';

let work = 0;

/** Characters handed to the engine since the process started (plus one per search). */
export function matcherWork(): number {
  return work;
}

export class Matcher {
  /** the pattern in RE2 syntax, exactly as written in SPEC §8.3 */
  readonly source: string;
  /** case-insensitive (RE2 flag `i`) */
  readonly ignoreCase: boolean;
  readonly #re: RE2JS;
  /** whether the pattern matches the empty string (line patterns must not: empty lines are skipped) */
  readonly matchesEmpty: boolean;

  private constructor(source: string, ignoreCase: boolean) {
    this.source = source;
    this.ignoreCase = ignoreCase;
    this.#re = RE2JS.compile(source, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
    this.matchesEmpty = this.#re.test('');
    Object.freeze(this);
  }

  /** Compiles an RE2 pattern (throws on syntax RE2 refuses, e.g. lookahead or backreferences). */
  static of(source: string, ignoreCase = false): Matcher {
    return new Matcher(source, ignoreCase);
  }

  /** True only for objects built by `Matcher.of` (a brand check, not a shape check). */
  static is(x: unknown): x is Matcher {
    return typeof x === 'object' && x !== null && #re in x;
  }

  /** Whether `text` contains a match anywhere (one linear pass). */
  test(text: string): boolean {
    if (text.length === 0 && !this.matchesEmpty) return false;
    work += text.length + 1;
    return this.#re.test(text);
  }

  /** `/source/i` style, for rationales and SPEC. */
  toString(): string {
    return this.ignoreCase ? `(?i)${this.source}` : this.source;
  }
}

/**
 * Shorthands of the rule tables, as template tags over the raw text (so a pattern reads as in SPEC
 * §8.3, without doubled backslashes): re`…` case-sensitive, rei`…` case-insensitive.
 */
export const re = (s: TemplateStringsArray): Matcher => Matcher.of(s.raw.join(''), false);
export const rei = (s: TemplateStringsArray): Matcher => Matcher.of(s.raw.join(''), true);

/** Whether any of `ms` matches `text`. */
export function anyMatch(ms: readonly Matcher[], text: string): boolean {
  for (const m of ms) if (m.test(text)) return true;
  return false;
}

/** Which patterns of a `MatcherSet` match which lines (0-based line indexes, ascending). */
export class LineHits {
  readonly #index: ReadonlyMap<Matcher, number>;
  readonly #perPattern: readonly (readonly number[])[];

  constructor(index: ReadonlyMap<Matcher, number>, perPattern: (readonly number[])[]) {
    this.#index = index;
    this.#perPattern = perPattern;
  }

  #of(m: Matcher): readonly number[] {
    const k = this.#index.get(m);
    if (k === undefined) throw new Error(`pattern ${m} is not in the council's matcher set`);
    return this.#perPattern[k];
  }

  /** the lines `m` matches */
  lines(m: Matcher): readonly number[] {
    return this.#of(m);
  }

  /** whether `m` matches line `i` (binary search in its ascending line list) */
  has(i: number, m: Matcher): boolean {
    const l = this.#of(m);
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid] < i) lo = mid + 1;
      else hi = mid;
    }
    return lo < l.length && l[lo] === i;
  }
}

/** Lines per block of the prefilter pass. */
const BLOCK_LINES = 32;
/** Up to this many patterns matching a block, its lines are tested with those patterns alone. */
const FEW = 4;

/**
 * All the line patterns of a council, compiled into one RE2 set. `scan` first runs the set, in
 * multi-line mode, over blocks of 32 lines joined by LF: a block where no pattern matches cannot
 * hold a line where one does (a match within a line is a match within the block: `^` matches after
 * each LF in that mode, and every other construct matches at least what it matches within the
 * line), so its lines are skipped; the lines of the other blocks are searched one by one, with the
 * whole set, or with each pattern that matched the block when there are at most 4 (a single
 * pattern's search costs far less per call than a set's). Work: at most five passes over the text.
 */
export class MatcherSet {
  readonly matchers: readonly Matcher[];
  readonly #index: ReadonlyMap<Matcher, number>;
  readonly #set: RE2Set;
  readonly #blocks: RE2Set;

  private constructor(ms: readonly Matcher[]) {
    this.matchers = Object.freeze([...new Set(ms)]);
    this.#index = new Map(this.matchers.map((m, i) => [m, i]));
    this.#set = new RE2Set(RE2Set.UNANCHORED, 0);
    this.#blocks = new RE2Set(RE2Set.UNANCHORED, RE2JS.MULTILINE);
    // per-pattern flags as an RE2 flag group, so one set holds case-sensitive and -insensitive patterns
    for (const m of this.matchers) {
      const source = m.ignoreCase ? `(?i:${m.source})` : `(?:${m.source})`;
      this.#set.add(source);
      this.#blocks.add(source);
    }
    this.#set.compile();
    this.#blocks.compile();
    Object.freeze(this);
  }

  static of(ms: readonly Matcher[]): MatcherSet {
    if (!ms.every((m) => Matcher.is(m))) throw new TypeError('a MatcherSet holds Matcher objects only');
    const empty = ms.find((m) => m.matchesEmpty);
    if (empty) throw new TypeError(`line pattern ${empty} matches the empty line`);
    return new MatcherSet(ms);
  }

  /** Which patterns match which lines: linear in the total length of the lines. */
  scan(lines: readonly string[]): LineHits {
    const perPattern: number[][] = this.matchers.map(() => []);
    if (this.matchers.length > 0) {
      for (let b = 0; b < lines.length; b += BLOCK_LINES) {
        const end = Math.min(lines.length, b + BLOCK_LINES);
        const block = lines.slice(b, end).join('\n');
        work += block.length + 1;
        const inBlock = this.#blocks.match(block);
        if (inBlock.length === 0) continue;
        for (let i = b; i < end; i++) {
          const line = lines[i];
          if (line.length === 0) continue;
          if (inBlock.length <= FEW) {
            // only the patterns that matched the block can match its lines: test just those
            for (const k of inBlock) if (this.matchers[k].test(line)) perPattern[k].push(i);
          } else {
            work += line.length + 1;
            for (const k of this.#set.match(line)) perPattern[k].push(i);
          }
        }
      }
    }
    return new LineHits(this.#index, perPattern);
  }
}
