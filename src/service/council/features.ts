/**
 * Text features the rule personas read (SPEC §8.3). Pure and deterministic: the same content
 * always gives the same features, whatever the machine or the time.
 */
export interface TextFeatures {
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
  /** mean words per sentence (sentences end in . ! ?) */
  wordsPerSentence: number;
}

export function textFeatures(content: string): TextFeatures {
  const lines = content.length === 0 ? [] : content.split(/\r?\n/);
  let maxLineLength = 0;
  let maxIndentLevel = 0;
  let nonBlank = 0;
  let comments = 0;
  for (const line of lines) {
    if (line.length > maxLineLength) maxLineLength = line.length;
    if (line.trim() === '') continue;
    nonBlank++;
    const indent = /^[ \t]*/.exec(line)![0];
    const level = [...indent].reduce((n, c) => n + (c === '\t' ? 2 : 1), 0) / 2;
    if (level > maxIndentLevel) maxIndentLevel = Math.floor(level);
    if (/^\s*(\/\/|#|\/\*|\*|--)/.test(line)) comments++;
  }
  const words = content.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  const sentences = Math.max(1, (content.match(/[.!?](\s|$)/g) ?? []).length);
  return {
    bytes: new TextEncoder().encode(content).length,
    lines: lines.length,
    words: words.length,
    maxLineLength,
    maxIndentLevel,
    commentPerMille: nonBlank === 0 ? 0 : Math.round((comments * 1000) / nonBlank),
    uniqueWordPerMille: words.length === 0 ? 0 : Math.round((new Set(words).size * 1000) / words.length),
    wordsPerSentence: Math.round(words.length / sentences),
  };
}

/** Number of matches of a global regex (a fresh copy, so no lastIndex state leaks between calls). */
export function count(content: string, re: RegExp): number {
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  return (content.match(g) ?? []).length;
}

/** Distinct matched strings, sorted, at most `max` (for rationales). */
export function distinctMatches(content: string, re: RegExp, max = 3): string[] {
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  return [...new Set((content.match(g) ?? []).map((m) => m.trim().slice(0, 30)))].sort().slice(0, max);
}

/** Confidence grows with evidence: base + step per hit, capped (per-mille). */
export function confidence(hits: number, base = 600, step = 100, cap = 980): number {
  return Math.min(cap, base + step * Math.max(0, hits));
}
