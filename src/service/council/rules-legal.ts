/**
 * The legal-documents council (/api/patents), rules/v2: 21 personas in a fixed order, each a rule
 * as data over the structure of a patent text (./patent.ts; SPEC §8.3, roster "legal-documents").
 * They check the form of an application (its mandatory parts, its claims, definiteness, privacy),
 * not its merit. `blocking` personas guard what a filing cannot do without (a title, an abstract of
 * at most 150 words, claims numbered in order, antecedent basis, structure for means-plus-function
 * terms, a description with embodiments); the others are advisory.
 */
import { re, rei } from './matcher.js';
import { ruleOf, type Rule } from './rule.js';
import { LEGAL_ROSTER } from '../../protocol/council/rosters.js';

const rule = ruleOf(LEGAL_ROSTER);

export const LEGAL_RULES: readonly Rule[] = Object.freeze([
  rule('title-clerk', { kind: 'title' }),
  rule('abstract-examiner', { kind: 'section', section: 'abstract', optional: false, maxWords: 150, absent: 800 }),
  rule('background-reviewer', { kind: 'section', section: 'background', optional: false, absent: 650 }),
  rule('summary-reviewer', { kind: 'section', section: 'summary', optional: false, absent: 650 }),
  rule('claims-examiner', { kind: 'claims' }),
  rule('claim-fee-auditor', { kind: 'claim-count', max: 20, independent: false }),
  rule('independent-claims', { kind: 'claim-count', max: 3, independent: true }),
  rule('definiteness-examiner', {
    kind: 'at-most',
    region: 'claims',
    what: 'terms of degree',
    max: 2,
    confidence: 650,
    any: [rei`\b(about|approximately|substantially|relatively|generally|etc\.|and the like|or the like)\b`],
  }),
  rule('enablement-examiner', {
    kind: 'presence',
    region: 'description',
    what: 'embodiments or examples',
    optional: false,
    any: [rei`\b(embodiments?|examples?)\b`],
  }),
  rule('drawings-clerk', { kind: 'presence', region: 'all', what: 'figure references', optional: true, any: [rei`\bFIG(URE)?S?\.?\s*\d+`] }),
  rule('prior-art-searcher', { kind: 'presence', region: 'all', what: 'prior-art citations', optional: true, any: [rei`\bprior art\b|\b(US|EP|WO|JP|CN|DE)\s?\d{4,}`] }),
  rule('privacy-officer', {
    kind: 'at-most',
    region: 'all',
    what: 'e-mail addresses or telephone numbers',
    max: 0,
    confidence: 700,
    any: [re`[\w.+-]+@[\w-]+\.[\w.-]*[A-Za-z]`, re`\+\d[\d ()-]{7,}\d|\(\d{3}\)\s*\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b`],
  }),
  rule('means-plus-function', {
    kind: 'means',
    cues: ['comprises', 'comprising', 'includes', 'including', 'is', 'are', 'consists', 'consisting', 'corresponds', 'implemented', 'embodied'],
  }),
  rule('eligibility-examiner', {
    kind: 'anchored',
    abstract: [rei`\b(algorithm|business method|mathematical|abstract idea|mental process)\b`],
    technical: [rei`\b(processor|circuit|device|apparatus|memory|sensor|hardware|housing|actuator|motor|valve|machine)\b`],
  }),
  rule('obviousness-examiner', {
    kind: 'at-most',
    region: 'all',
    what: 'admissions of conventional art',
    max: 3,
    confidence: 650,
    any: [rei`\b(well[- ]known|conventional|obvious|routine)\b`],
  }),
  rule('confidentiality-clerk', {
    kind: 'at-most',
    region: 'all',
    what: 'confidentiality markings',
    max: 0,
    confidence: 700,
    any: [rei`\b(confidential|internal use only|do not distribute)\b`],
  }),
  rule('priority-clerk', { kind: 'presence', region: 'all', what: 'dates', optional: true, any: [rei`\b\d{4}-\d{2}-\d{2}\b|\b(filed|priority) (on|date)\b`] }),
  rule('inventor-registrar', { kind: 'presence', region: 'all', what: 'inventor names', optional: true, any: [rei`\binventors?\b`] }),
  rule('terminology-editor', {
    kind: 'antecedent',
    skip: ['same', 'group', 'following', 'steps', 'step', 'art', 'like', 'basis', 'extent', 'other', 'rest', 'remainder'],
  }),
  rule('readability-editor', { kind: 'limit', feature: 'wordsPerSentence', max: 60, what: 'the mean words per sentence' }),
  rule('length-examiner', { kind: 'range', feature: 'words', min: 150, max: 20000, what: 'the word count' }),
]);
