/**
 * The text the rule personas read, and its features (SPEC §8.3 "text and features"). Pure,
 * deterministic and linear: hand-written scans, no regular expression at all.
 */
export interface TextFeatures {
  /** UTF-8 bytes */
  bytes: number;
  lines: number;
  words: number;
  maxLineLength: number;
  /** deepest indentation, in levels of 2 spaces (a tab counts as one level) */
  maxIndentLevel: number;
  /** share of non-blank lines that are comments (//, #, /*, *, --), per-mille */
  commentPerMille: number;
  /** distinct lowercase words / words, per-mille */
  uniqueWordPerMille: number;
  /** mean words per sentence (a sentence ends in . ! ? followed by white space or the end) */
  wordsPerSentence: number;
}

/** The content split once, shared by all the rules of a consultation. */
export interface Text {
  readonly content: string;
  /** no character other than white space (the rules abstain on it) */
  readonly empty: boolean;
  /** split on LF; a CR before the LF is dropped */
  readonly lines: readonly string[];
  /** per line: whether it is a comment line (first non-blank characters //, #, /*, * or --) */
  readonly comment: readonly boolean[];
  /** the features; the word features are computed on first read */
  readonly f: TextFeatures;
}

export function splitLines(content: string): string[] {
  if (content.length === 0) return [];
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = content.indexOf('\n', start);
    const end = nl < 0 ? content.length : nl;
    out.push(content.charCodeAt(end - 1) === 13 && end > start ? content.slice(start, end - 1) : content.slice(start, end));
    if (nl < 0) return out;
    start = nl + 1;
  }
}

const isBlank = (c: number) => c === 32 || c === 9 || c === 13 || c === 11 || c === 12;

/** Index of the first non-blank (space, tab, CR, VT, FF) character, or the length. */
export function indentEnd(line: string): number {
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  return i;
}

export function isCommentLine(line: string): boolean {
  const i = indentEnd(line);
  const a = line[i];
  const b = line[i + 1];
  return a === '#' || a === '*' || (a === '/' && (b === '/' || b === '*')) || (a === '-' && b === '-');
}

/**
 * A word character: ASCII letter, digit or `_`, or any code point from U+00C0 up except
 * U+00D7, U+00F7, U+2000–U+206F (spaces and general punctuation), U+3000–U+303F and U+FEFF.
 */
export function isWordChar(cp: number): boolean {
  if (cp < 128) return (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;
  if (cp < 0xc0 || cp === 0xd7 || cp === 0xf7 || cp === 0xfeff) return false;
  return !((cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x3000 && cp <= 0x303f));
}

/** The words of a text (maximal runs of word characters), as written. */
export function words(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    let width = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      cp = text.codePointAt(i)!;
      width = cp > 0xffff ? 2 : 1;
    }
    const w = isWordChar(cp);
    if (w && start < 0) start = i;
    else if (!w && start >= 0) {
      out.push(text.slice(start, i));
      start = -1;
    }
    i += width - 1;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

/** Sentence ends: `.`, `!` or `?` followed by white space (space, tab, CR, LF) or the end. */
export function sentenceEnds(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 46 && c !== 33 && c !== 63) continue;
    const next = text.charCodeAt(i + 1);
    if (Number.isNaN(next) || next === 32 || next === 9 || next === 10 || next === 13) n++;
  }
  return n;
}

/** UTF-8 length without encoding (a lone surrogate counts 3 bytes, as U+FFFD). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Word features, computed once on first read (the code council never reads them). */
function wordFeatures(content: string): Pick<TextFeatures, 'words' | 'uniqueWordPerMille' | 'wordsPerSentence'> {
  const ws = words(content);
  const distinct = new Set<string>();
  for (const w of ws) distinct.add(w.toLowerCase());
  return {
    words: ws.length,
    uniqueWordPerMille: ws.length === 0 ? 0 : Math.round((distinct.size * 1000) / ws.length),
    wordsPerSentence: Math.round(ws.length / Math.max(1, sentenceEnds(content))),
  };
}

export function readText(content: string): Text {
  const lines = splitLines(content);
  const comment = lines.map(isCommentLine);
  let maxLineLength = 0;
  let maxIndentLevel = 0;
  let nonBlank = 0;
  let comments = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > maxLineLength) maxLineLength = line.length;
    if (indentEnd(line) === line.length) continue; // blank: only spaces, tabs, CR, VT, FF
    nonBlank++;
    let width = 0;
    for (let j = 0; j < line.length && (line[j] === ' ' || line[j] === '\t'); j++) width += line[j] === '\t' ? 2 : 1;
    maxIndentLevel = Math.max(maxIndentLevel, Math.floor(width / 2));
    if (comment[i]) comments++;
  }
  let wf: ReturnType<typeof wordFeatures> | undefined;
  const word = () => (wf ??= wordFeatures(content));
  const f: TextFeatures = Object.freeze({
    bytes: utf8Length(content),
    lines: lines.length,
    get words() {
      return word().words;
    },
    maxLineLength,
    maxIndentLevel,
    commentPerMille: nonBlank === 0 ? 0 : Math.round((comments * 1000) / nonBlank),
    get uniqueWordPerMille() {
      return word().uniqueWordPerMille;
    },
    get wordsPerSentence() {
      return word().wordsPerSentence;
    },
  });
  return Object.freeze({ content, empty: nonBlank === 0 && content.trim() === '', lines, comment, f });
}
