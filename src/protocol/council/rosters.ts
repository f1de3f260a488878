/**
 * The rosters of the two councils (SPEC §8.3): persona ids in vote order, names, roles and severity
 * classes. Static data with no rule code and no regex engine, so a verifier (or a browser client)
 * that checks "one vote per persona in order" or recomputes aggregation rule v2 imports this alone;
 * ./councils.ts checks at load that its rule tables follow these rosters exactly.
 */
import type { Route } from '../request.js';
import type { Council, Persona, Severity } from './types.js';

export const COUNCIL_SIZE = 21;

const p = (id: string, name: string, role: string, severity: Severity): Persona => Object.freeze({ id, name, role, severity });

export const CODE_ROSTER: readonly Persona[] = Object.freeze([
  p('security-auditor', 'Security auditor', 'dynamic code execution', 'blocking'),
  p('secrets-scanner', 'Secrets scanner', 'hard-coded credentials', 'blocking'),
  p('injection-hunter', 'Injection hunter', 'SQL built from strings', 'blocking'),
  p('crypto-reviewer', 'Cryptography reviewer', 'password hashing, ciphers and randomness', 'blocking'),
  p('complexity-analyst', 'Complexity analyst', 'nesting depth', 'advisory'),
  p('readability-editor', 'Readability editor', 'line length', 'advisory'),
  p('documentation-steward', 'Documentation steward', 'comments in longer files', 'advisory'),
  p('test-advocate', 'Test advocate', 'tests or assertions alongside the code', 'advisory'),
  p('error-handler', 'Error-handling reviewer', 'swallowed errors', 'advisory'),
  p('dependency-watcher', 'Dependency watcher', 'number of imports', 'advisory'),
  p('maintainer', 'Maintainer', 'unfinished work markers', 'advisory'),
  p('performance-engineer', 'Performance engineer', 'unbounded loops', 'advisory'),
  p('size-guard', 'Size guard', 'file size', 'advisory'),
  p('licence-checker', 'Licence checker', 'copyleft licence headers', 'advisory'),
  p('input-validator', 'Input validator', 'external input: path traversal and validation', 'blocking'),
  p('privacy-officer', 'Privacy officer', 'secrets written to logs', 'advisory'),
  p('concurrency-reviewer', 'Concurrency reviewer', 'shared mutable globals', 'advisory'),
  p('type-guardian', 'Type guardian', 'type checks switched off', 'advisory'),
  p('network-sentinel', 'Network sentinel', 'TLS verification and plain-text endpoints', 'blocking'),
  p('deserialization-guard', 'Deserialization guard', 'unsafe deserialization and XML external entities', 'blocking'),
  p('shell-safety', 'Shell safety officer', 'shell command construction', 'blocking'),
]);

export const LEGAL_ROSTER: readonly Persona[] = Object.freeze([
  p('title-clerk', 'Title clerk', 'a title', 'blocking'),
  p('abstract-examiner', 'Abstract examiner', 'an abstract of at most 150 words (37 CFR 1.72(b))', 'blocking'),
  p('background-reviewer', 'Background reviewer', 'a background or field section', 'advisory'),
  p('summary-reviewer', 'Summary reviewer', 'a summary section', 'advisory'),
  p('claims-examiner', 'Claims examiner', 'numbered claims, in order, depending on earlier claims', 'blocking'),
  p('claim-fee-auditor', 'Claim-fee auditor', 'claim count within the basic fee (20)', 'advisory'),
  p('independent-claims', 'Independent-claims reviewer', 'at most 3 independent claims', 'advisory'),
  p('definiteness-examiner', 'Definiteness examiner', 'terms of degree in the claims (35 USC 112(b))', 'advisory'),
  p('enablement-examiner', 'Enablement examiner', 'embodiments or examples in the description (35 USC 112(a))', 'blocking'),
  p('drawings-clerk', 'Drawings clerk', 'references to figures', 'advisory'),
  p('prior-art-searcher', 'Prior-art searcher', 'cited prior art', 'advisory'),
  p('privacy-officer', 'Privacy officer', 'personal data in the text', 'advisory'),
  p('means-plus-function', 'Means-plus-function reviewer', '"means for" terms with a structure in the description (35 USC 112(f))', 'blocking'),
  p('eligibility-examiner', 'Subject-matter eligibility examiner', 'abstract ideas without a technical anchor (35 USC 101)', 'advisory'),
  p('obviousness-examiner', 'Obviousness examiner', 'admissions of conventional art', 'advisory'),
  p('confidentiality-clerk', 'Confidentiality clerk', 'confidentiality markings', 'advisory'),
  p('priority-clerk', 'Priority clerk', 'a priority or filing date', 'advisory'),
  p('inventor-registrar', 'Inventor registrar', 'named inventors', 'advisory'),
  p('terminology-editor', 'Terminology editor', 'antecedent basis of claim terms (35 USC 112(b))', 'blocking'),
  p('readability-editor', 'Readability editor', 'sentence length', 'advisory'),
  p('length-examiner', 'Length examiner', 'document length 150..20000 words', 'advisory'),
]);

export const CODE_COUNCIL: Council = Object.freeze({ id: 'code-analysis', route: 'analyze', personas: CODE_ROSTER });
export const LEGAL_COUNCIL: Council = Object.freeze({ id: 'legal-documents', route: 'patents', personas: LEGAL_ROSTER });
export const COUNCILS: readonly Council[] = Object.freeze([CODE_COUNCIL, LEGAL_COUNCIL]);

export function councilFor(route: Route): Council {
  return route === 'analyze' ? CODE_COUNCIL : LEGAL_COUNCIL;
}

for (const c of COUNCILS) {
  // SPEC §8.3: 21 personas with distinct ids; checked at load so a broken roster cannot ship
  if (c.personas.length !== COUNCIL_SIZE || new Set(c.personas.map((x) => x.id)).size !== COUNCIL_SIZE) {
    throw new Error(`council ${c.id} must have ${COUNCIL_SIZE} distinct personas`);
  }
}
