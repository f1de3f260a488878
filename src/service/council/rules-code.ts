/**
 * The code-analysis council (/api/analyze): 21 personas, each a documented, deterministic rule
 * over the submitted source text (SPEC §8.3, table "code-analysis"). A rule that finds what it
 * looks for rejects, with a confidence that grows with the evidence; a rule that finds nothing
 * approves; a rule that cannot judge (e.g. an empty file) abstains.
 */
import { confidence, count, distinctMatches, type TextFeatures } from './features.js';
import type { Persona, PersonaVote } from './types.js';

export interface Rule extends Persona {
  judge(content: string, f: TextFeatures): Omit<PersonaVote, 'persona'>;
}

type Verdict = Omit<PersonaVote, 'persona'>;
const approve = (rationale: string, c = 700): Verdict => ({ vote: 'approve', confidence: c, rationale });
const reject = (rationale: string, c: number): Verdict => ({ vote: 'reject', confidence: c, rationale });
const abstain = (rationale: string): Verdict => ({ vote: 'abstain', confidence: 0, rationale });

/** A rule that rejects when `re` matches: "found N <what>: a, b, c" / "no <what> found". */
function patternRule(id: string, name: string, role: string, re: RegExp, what: string): Rule {
  return {
    id,
    name,
    role,
    judge(content) {
      if (content.trim() === '') return abstain('empty content');
      const n = count(content, re);
      if (n === 0) return approve(`no ${what} found`);
      return reject(`found ${n} ${what}: ${distinctMatches(content, re).join(', ')}`, confidence(n));
    },
  };
}

/** A rule over a feature threshold: rejects above `limit`. */
function limitRule(id: string, name: string, role: string, value: (f: TextFeatures) => number, limit: number, what: string): Rule {
  return {
    id,
    name,
    role,
    judge(content, f) {
      if (content.trim() === '') return abstain('empty content');
      const v = value(f);
      if (v > limit) return reject(`${what} is ${v}, above ${limit}`, confidence(Math.ceil((v - limit) / Math.max(1, limit / 4))));
      return approve(`${what} is ${v} (limit ${limit})`, confidence(0, 650 + Math.round((250 * (limit - v)) / Math.max(1, limit))));
    },
  };
}

export const CODE_RULES: readonly Rule[] = Object.freeze([
  patternRule('security-auditor', 'Security auditor', 'dynamic code execution',
    /\beval\s*\(|\bnew Function\s*\(|\bexec\s*\(|\bRuntime\.getRuntime\(\)/, 'dynamic code execution calls'),
  patternRule('secrets-scanner', 'Secrets scanner', 'hard-coded credentials',
    /AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b(password|passwd|secret|api_?key|token)\s*[:=]\s*["'][^"']{4,}["']/i, 'hard-coded secrets'),
  patternRule('injection-hunter', 'Injection hunter', 'SQL built by string concatenation',
    /\b(SELECT|INSERT|UPDATE|DELETE)\b[^;\n]*["'`]\s*\+|\b(SELECT|INSERT|UPDATE|DELETE)\b[^;\n]*\$\{|f["'](SELECT|INSERT|UPDATE|DELETE)\b/i, 'string-built SQL statements'),
  patternRule('crypto-reviewer', 'Cryptography reviewer', 'broken or weak primitives',
    /\b(md5|sha1|des|rc4|3des)\b|\bECB\b|Math\.random\(\)/i, 'weak cryptographic primitives'),
  limitRule('complexity-analyst', 'Complexity analyst', 'nesting depth', (f) => f.maxIndentLevel, 8, 'the deepest nesting level'),
  limitRule('readability-editor', 'Readability editor', 'line length', (f) => f.maxLineLength, 120, 'the longest line'),
  {
    id: 'documentation-steward',
    name: 'Documentation steward',
    role: 'comments in longer files',
    judge(content, f) {
      if (content.trim() === '') return abstain('empty content');
      if (f.lines < 30) return approve(`short file (${f.lines} lines): comments optional`, 600);
      if (f.commentPerMille < 50) return reject(`comments are ${f.commentPerMille}‰ of ${f.lines} lines, below 50‰`, 700);
      return approve(`comments are ${f.commentPerMille}‰ of lines`, 750);
    },
  },
  {
    id: 'test-advocate',
    name: 'Test advocate',
    role: 'tests or assertions alongside the code',
    judge(content) {
      const n = count(content, /\b(assert|expect|describe|it|test)\s*\(|\bdef test_|#\[test\]/);
      return n > 0 ? approve(`found ${n} tests or assertions`, confidence(n, 550, 50)) : abstain('no tests in this file');
    },
  },
  patternRule('error-handler', 'Error-handling reviewer', 'swallowed errors',
    /\bexcept\s*:|\bcatch\s*(\([^)]*\))?\s*\{\s*\}|\bexcept\s+Exception\s*:\s*pass/, 'swallowed errors'),
  {
    id: 'dependency-watcher',
    name: 'Dependency watcher',
    role: 'number of imports',
    judge(content) {
      if (content.trim() === '') return abstain('empty content');
      const n = count(content, /^\s*(import\s|from\s+\S+\s+import\s|#include\s|using\s+\w)|\brequire\s*\(/m);
      return n > 25 ? reject(`${n} imports, above 25`, confidence(Math.ceil((n - 25) / 5))) : approve(`${n} imports (limit 25)`, 650 + 10 * (25 - n));
    },
  },
  patternRule('maintainer', 'Maintainer', 'unfinished work markers', /\b(TODO|FIXME|XXX|HACK)\b/, 'unfinished-work markers'),
  patternRule('performance-engineer', 'Performance engineer', 'unbounded loops',
    /\bwhile\s*\(\s*(true|1)\s*\)|\bwhile\s+True\s*:|\bfor\s*\(\s*;\s*;\s*\)/, 'unbounded loops'),
  limitRule('size-guard', 'Size guard', 'file size', (f) => f.bytes, 64 * 1024, 'the size in bytes'),
  patternRule('licence-checker', 'Licence checker', 'copyleft licence headers',
    /GNU (Affero |Lesser )?General Public License|\bSPDX-License-Identifier:\s*(A|L)?GPL/i, 'copyleft licence notices'),
  {
    id: 'input-validator',
    name: 'Input validator',
    role: 'external input used without validation',
    judge(content) {
      if (content.trim() === '') return abstain('empty content');
      const inputs = count(content, /\b(input\s*\(|req\.(body|query|params)|process\.argv|sys\.argv|request\.(form|args|json))/);
      if (inputs === 0) return approve('reads no external input', 650);
      const checks = count(content, /\b(validate|sanitize|schema|parseInt|Number\(|isinstance|assert|check[A-Z_]\w*)\b/);
      return checks > 0
        ? approve(`${inputs} external inputs, ${checks} validation calls`, 700)
        : reject(`${inputs} external inputs and no validation`, confidence(inputs));
    },
  },
  patternRule('privacy-officer', 'Privacy officer', 'secrets written to logs',
    /\b(console\.(log|error|info)|print|logger\.\w+|log\.\w+)\s*\([^)\n]*(password|token|secret|ssn|credit)/i, 'logged secrets'),
  patternRule('concurrency-reviewer', 'Concurrency reviewer', 'shared mutable globals', /^\s*global\s+\w+|^\s*var\s+\w+\s*=/m, 'mutable globals'),
  patternRule('type-guardian', 'Type guardian', 'type checks switched off', /@ts-ignore|@ts-nocheck|#\s*type:\s*ignore|:\s*any\b/, 'disabled type checks'),
  patternRule('network-sentinel', 'Network sentinel', 'plain-text network endpoints', /\bhttp:\/\/(?!localhost|127\.0\.0\.1)[\w.-]+/, 'plain http endpoints'),
  patternRule('deserialization-guard', 'Deserialization guard', 'unsafe deserialization',
    /\bpickle\.loads?\(|\byaml\.load\((?![^)]*SafeLoader)|\bObjectInputStream\b|\bunserialize\s*\(|\bMarshal\.load\b/, 'unsafe deserializers'),
  patternRule('shell-safety', 'Shell safety officer', 'shell command construction',
    /shell\s*=\s*True|\bos\.system\s*\(|\bchild_process\.exec\s*\(|\bexecSync\s*\(\s*`/, 'shell invocations'),
]);
