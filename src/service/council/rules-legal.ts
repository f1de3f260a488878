/**
 * The legal-documents council (/api/patents), rules/v2: 21 personas in a fixed order, each a rule
 * as data over the structure of a patent text (./patent.ts; SPEC §8.3, roster "legal-documents").
 * They check the form of an application (its mandatory parts, its claims, definiteness, privacy),
 * not its merit. `blocking` personas guard what a filing cannot do without (a title, an abstract of
 * at most 150 words, claims numbered in order, antecedent basis, structure for means-plus-function
 * terms, a description with embodiments); the others are advisory.
 */
import { re, rei } from './matcher.js';
import { rule, type Rule } from './rule.js';

export const LEGAL_RULES: readonly Rule[] = Object.freeze([
  rule('title-clerk', 'Title clerk', 'a title', 'blocking', { kind: 'title' }),
  rule('abstract-examiner', 'Abstract examiner', 'an abstract of at most 150 words (37 CFR 1.72(b))', 'blocking', { kind: 'section', section: 'abstract', optional: false, maxWords: 150, absent: 800 }),
  rule('background-reviewer', 'Background reviewer', 'a background or field section', 'advisory', { kind: 'section', section: 'background', optional: false, absent: 650 }),
  rule('summary-reviewer', 'Summary reviewer', 'a summary section', 'advisory', { kind: 'section', section: 'summary', optional: false, absent: 650 }),
  rule('claims-examiner', 'Claims examiner', 'numbered claims, in order, depending on earlier claims', 'blocking', { kind: 'claims' }),
  rule('claim-fee-auditor', 'Claim-fee auditor', 'claim count within the basic fee (20)', 'advisory', { kind: 'claim-count', max: 20, independent: false }),
  rule('independent-claims', 'Independent-claims reviewer', 'at most 3 independent claims', 'advisory', { kind: 'claim-count', max: 3, independent: true }),
  rule('definiteness-examiner', 'Definiteness examiner', 'terms of degree in the claims (35 USC 112(b))', 'advisory', {
    kind: 'at-most',
    region: 'claims',
    what: 'terms of degree',
    max: 2,
    confidence: 650,
    any: [rei`\b(about|approximately|substantially|relatively|generally|etc\.|and the like|or the like)\b`],
  }),
  rule('enablement-examiner', 'Enablement examiner', 'embodiments or examples in the description (35 USC 112(a))', 'blocking', {
    kind: 'presence',
    region: 'description',
    what: 'embodiments or examples',
    optional: false,
    any: [rei`\b(embodiments?|examples?)\b`],
  }),
  rule('drawings-clerk', 'Drawings clerk', 'references to figures', 'advisory', { kind: 'presence', region: 'all', what: 'figure references', optional: true, any: [rei`\bFIG(URE)?S?\.?\s*\d+`] }),
  rule('prior-art-searcher', 'Prior-art searcher', 'cited prior art', 'advisory', { kind: 'presence', region: 'all', what: 'prior-art citations', optional: true, any: [rei`\bprior art\b|\b(US|EP|WO|JP|CN|DE)\s?\d{4,}`] }),
  rule('privacy-officer', 'Privacy officer', 'personal data in the text', 'advisory', {
    kind: 'at-most',
    region: 'all',
    what: 'e-mail addresses or telephone numbers',
    max: 0,
    confidence: 700,
    any: [re`[\w.+-]+@[\w-]+\.[\w.-]*[A-Za-z]`, re`\+\d[\d ()-]{7,}\d|\(\d{3}\)\s*\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b`],
  }),
  rule('means-plus-function', 'Means-plus-function reviewer', '"means for" terms with a structure in the description (35 USC 112(f))', 'blocking', {
    kind: 'means',
    cues: ['comprises', 'comprising', 'includes', 'including', 'is', 'are', 'consists', 'consisting', 'corresponds', 'implemented', 'embodied'],
  }),
  rule('eligibility-examiner', 'Subject-matter eligibility examiner', 'abstract ideas without a technical anchor (35 USC 101)', 'advisory', {
    kind: 'anchored',
    abstract: [rei`\b(algorithm|business method|mathematical|abstract idea|mental process)\b`],
    technical: [rei`\b(processor|circuit|device|apparatus|memory|sensor|hardware|housing|actuator|motor|valve|machine)\b`],
  }),
  rule('obviousness-examiner', 'Obviousness examiner', 'admissions of conventional art', 'advisory', {
    kind: 'at-most',
    region: 'all',
    what: 'admissions of conventional art',
    max: 3,
    confidence: 650,
    any: [rei`\b(well[- ]known|conventional|obvious|routine)\b`],
  }),
  rule('confidentiality-clerk', 'Confidentiality clerk', 'confidentiality markings', 'advisory', {
    kind: 'at-most',
    region: 'all',
    what: 'confidentiality markings',
    max: 0,
    confidence: 700,
    any: [rei`\b(confidential|internal use only|do not distribute)\b`],
  }),
  rule('priority-clerk', 'Priority clerk', 'a priority or filing date', 'advisory', { kind: 'presence', region: 'all', what: 'dates', optional: true, any: [rei`\b\d{4}-\d{2}-\d{2}\b|\b(filed|priority) (on|date)\b`] }),
  rule('inventor-registrar', 'Inventor registrar', 'named inventors', 'advisory', { kind: 'presence', region: 'all', what: 'inventor names', optional: true, any: [rei`\binventors?\b`] }),
  rule('terminology-editor', 'Terminology editor', 'antecedent basis of claim terms (35 USC 112(b))', 'blocking', {
    kind: 'antecedent',
    skip: ['same', 'group', 'following', 'steps', 'step', 'art', 'like', 'basis', 'extent', 'other', 'rest', 'remainder'],
  }),
  rule('readability-editor', 'Readability editor', 'sentence length', 'advisory', { kind: 'limit', feature: 'wordsPerSentence', max: 60, what: 'the mean words per sentence' }),
  rule('length-examiner', 'Length examiner', 'document length 150..20000 words', 'advisory', { kind: 'range', feature: 'words', min: 150, max: 20000, what: 'the word count' }),
]);
