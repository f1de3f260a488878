/**
 * The legal-documents council (/api/patents): 21 personas, each a documented, deterministic rule
 * over the submitted document text (SPEC §8.3, table "legal-documents"). They check the form of a
 * patent application (sections, claims, definiteness, privacy), not its merit.
 */
import { confidence, count, distinctMatches, type TextFeatures } from './features.js';
import type { Rule } from './rules-code.js';
import type { PersonaVote } from './types.js';

type Verdict = Omit<PersonaVote, 'persona'>;
const approve = (rationale: string, c = 700): Verdict => ({ vote: 'approve', confidence: c, rationale });
const reject = (rationale: string, c: number): Verdict => ({ vote: 'reject', confidence: c, rationale });
const abstain = (rationale: string): Verdict => ({ vote: 'abstain', confidence: 0, rationale });

/** Approves when `re` is present (a required element), rejects (or abstains when optional) otherwise. */
function requires(id: string, name: string, role: string, re: RegExp, what: string, optional = false): Rule {
  return {
    id,
    name,
    role,
    judge(content) {
      if (content.trim() === '') return abstain('empty document');
      const n = count(content, re);
      if (n > 0) return approve(`${what} present (${n})`, confidence(n, 650, 50, 900));
      return optional ? abstain(`no ${what}`) : reject(`no ${what} found`, 750);
    },
  };
}

/** Rejects when `re` occurs more than `limit` times. */
function atMost(id: string, name: string, role: string, re: RegExp, limit: number, what: string): Rule {
  return {
    id,
    name,
    role,
    judge(content) {
      if (content.trim() === '') return abstain('empty document');
      const n = count(content, re);
      if (n > limit) return reject(`${n} ${what} (at most ${limit}): ${distinctMatches(content, re).join(', ')}`, confidence(n - limit));
      return approve(`${n} ${what} (at most ${limit})`, 700);
    },
  };
}

/** Numbered claims: lines like "1. A method …" after a "claims" heading (or anywhere). */
function claimNumbers(content: string): number[] {
  return [...content.matchAll(/^\s*(\d{1,3})\.\s+(A|An|The)\b/gm)].map((m) => Number(m[1]));
}

export const LEGAL_RULES: readonly Rule[] = Object.freeze([
  requires('title-clerk', 'Title clerk', 'a title', /^\s*(title\s*:|[^\n]{3,120}\n)/i, 'title'),
  requires('abstract-examiner', 'Abstract examiner', 'an abstract section', /^\s*abstract\b/im, 'abstract section'),
  requires('background-reviewer', 'Background reviewer', 'a background section', /^\s*(background|field of the invention)\b/im, 'background section'),
  requires('summary-reviewer', 'Summary reviewer', 'a summary section', /^\s*summary\b/im, 'summary section'),
  {
    id: 'claims-examiner',
    name: 'Claims examiner',
    role: 'numbered claims',
    judge(content) {
      if (content.trim() === '') return abstain('empty document');
      const n = claimNumbers(content).length;
      return n > 0 ? approve(`${n} numbered claims`, confidence(n, 650, 20, 900)) : reject('no numbered claims ("1. A …")', 850);
    },
  },
  {
    id: 'claim-fee-auditor',
    name: 'Claim-fee auditor',
    role: 'claim count within the basic fee (20)',
    judge(content) {
      const n = claimNumbers(content).length;
      if (n === 0) return abstain('no claims to count');
      return n > 20 ? reject(`${n} claims, above the 20 of the basic fee`, confidence(n - 20)) : approve(`${n} claims (at most 20)`, 750);
    },
  },
  {
    id: 'independent-claims',
    name: 'Independent-claims reviewer',
    role: 'at most 3 independent claims',
    judge(content) {
      const claims = [...content.matchAll(/^\s*\d{1,3}\.\s+([^\n]*)/gm)].map((m) => m[1]);
      if (claims.length === 0) return abstain('no claims');
      const independent = claims.filter((c) => !/\b(of|according to|as claimed in) claim \d+/i.test(c)).length;
      return independent > 3
        ? reject(`${independent} independent claims, above 3`, confidence(independent - 3))
        : approve(`${independent} independent claims`, 700);
    },
  },
  atMost('definiteness-examiner', 'Definiteness examiner', 'vague terms (35 USC 112(b))',
    /\b(about|approximately|substantially|relatively|generally|etc\.|and the like)\b/i, 5, 'vague terms'),
  requires('enablement-examiner', 'Enablement examiner', 'embodiments or examples', /\b(embodiment|example)s?\b/i, 'embodiments or examples'),
  requires('drawings-clerk', 'Drawings clerk', 'references to figures', /\bFIG(URE)?\.?\s*\d+/i, 'figure references', true),
  requires('prior-art-searcher', 'Prior-art searcher', 'cited prior art', /\bprior art\b|\b(US|EP|WO)\s?\d{4,}/i, 'prior-art citations', true),
  atMost('privacy-officer', 'Privacy officer', 'personal data in the text',
    /[\w.+-]+@[\w-]+\.[\w.]+|\+?\d[\d ()-]{8,}\d/, 0, 'e-mail addresses or phone numbers'),
  atMost('means-plus-function', 'Means-plus-function reviewer', '"means for" claim language', /\bmeans for\b/i, 3, '"means for" phrases'),
  {
    id: 'eligibility-examiner',
    name: 'Subject-matter eligibility examiner',
    role: 'abstract ideas without a technical anchor (35 USC 101)',
    judge(content) {
      if (content.trim() === '') return abstain('empty document');
      const abstract = count(content, /\b(algorithm|business method|mathematical|abstract idea)\b/i);
      const technical = count(content, /\b(processor|circuit|device|apparatus|memory|sensor|hardware)\b/i);
      if (abstract > 0 && technical === 0) return reject(`${abstract} abstract-idea terms and no technical element`, confidence(abstract));
      return approve(`${technical} technical elements, ${abstract} abstract-idea terms`, 700);
    },
  },
  atMost('obviousness-examiner', 'Obviousness examiner', 'admissions of conventional art',
    /\b(well[- ]known|conventional|obvious|routine)\b/i, 3, 'admissions of conventional art'),
  atMost('confidentiality-clerk', 'Confidentiality clerk', 'confidentiality markings', /\b(confidential|internal use only|do not distribute)\b/i, 0, 'confidentiality markings'),
  requires('priority-clerk', 'Priority clerk', 'a priority or filing date', /\b\d{4}-\d{2}-\d{2}\b|\b(filed|priority) (on|date)\b/i, 'dates', true),
  requires('inventor-registrar', 'Inventor registrar', 'named inventors', /\binventors?\b/i, 'inventor names', true),
  {
    id: 'terminology-editor',
    name: 'Terminology editor',
    role: 'vocabulary variety',
    judge(content, f: TextFeatures) {
      if (f.words < 50) return abstain(`${f.words} words: too short to judge`);
      return f.uniqueWordPerMille < 150
        ? reject(`distinct words are ${f.uniqueWordPerMille}‰, below 150‰ (repetitive)`, 700)
        : approve(`distinct words are ${f.uniqueWordPerMille}‰`, 650);
    },
  },
  {
    id: 'readability-editor',
    name: 'Readability editor',
    role: 'sentence length',
    judge(content, f: TextFeatures) {
      if (content.trim() === '') return abstain('empty document');
      return f.wordsPerSentence > 60
        ? reject(`${f.wordsPerSentence} words per sentence, above 60`, confidence(Math.ceil((f.wordsPerSentence - 60) / 10)))
        : approve(`${f.wordsPerSentence} words per sentence`, 700);
    },
  },
  {
    id: 'length-examiner',
    name: 'Length examiner',
    role: 'document length 150..20000 words',
    judge(content, f: TextFeatures) {
      if (f.words < 150) return reject(`${f.words} words, below 150`, 800);
      if (f.words > 20000) return reject(`${f.words} words, above 20000`, 700);
      return approve(`${f.words} words`, 700);
    },
  },
]);
