/**
 * Adversarial inputs for the council rules (issue 12): per persona, near-matches of what its rule
 * looks for (prefixes of its patterns, matches that its `unless` patterns cancel, the shapes its
 * hand-written scans walk), repeated up to the body limit in several shapes. Used by
 * test/unit/service/council-adversarial.test.ts (bounded work) and bench/council.bench.ts (time).
 */
import type { CouncilId } from '../../src/protocol/council/types.js';

/** The sealed request body is at most 131072 bytes (SPEC §8.1), so the content is below 128 KiB. */
export const WORST_SIZE = 128 * 1024;

export const ADVERSARIAL: Readonly<Record<CouncilId, Readonly<Record<string, readonly string[]>>>> = {
  'code-analysis': {
    'security-auditor': ['eval (', 'eval(x', 'x.exec(', 'exec ( "', 'new Function', 'vm.runInThisContext', 'compile(a, "exe', '__import__ ('],
    'secrets-scanner': ['password = "', 'password="abcdef', 'AKIAAAAAAAAAAAAAAAA', '-----BEGIN A B ', 'Bearer ', 'x://u:', 'ghp_aaaa', 'token: "ab'],
    'injection-hunter': ['SELECT "x" ', 'SELECT a FROM b WHERE "', 'f"SELECT a FROM b ', '`SELECT a FROM b $', 'WHERE "', 'Sprintf("SELECT a FROM b %', 'INSERT INTO '],
    'crypto-reviewer': ['md5 ', 'password md5', 'password ', 'Math.random() ', 'token Math.random', 'DES ', 'Cipher.getInstance("AES', 'sha-'],
    'complexity-analyst': ['    ', '\t'],
    'readability-editor': ['x'],
    'documentation-steward': ['// ', 'x'],
    'test-advocate': ['test (', 'expect(', 'def test_'],
    'error-handler': ['except :', 'catch (e) { ', 'if err != nil {'],
    'dependency-watcher': ['import ', 'require ('],
    'maintainer': ['TODO', 'TODOX '],
    'performance-engineer': ['while (true', 'while True', 'for (;;', 'for {'],
    'size-guard': ['x'],
    'licence-checker': ['GNU General Public', 'SPDX-License-Identifier: '],
    'input-validator': ['request.args open(file ', 'os.path.join(name', 'req.query ', 'input ('],
    'privacy-officer': ['print(password', 'console.log(', 'logger.x(token'],
    'concurrency-reviewer': ['  global x', 'var x = [', 'var '],
    'type-guardian': [': any', '@ts-', 'as any'],
    'network-sentinel': ['http://', 'http://localhost', 'verify=False', 'rejectUnauthorized: f', 'checkServerTrusted(a) {'],
    'deserialization-guard': ['pickle.load', 'yaml.load(', 'DocumentBuilderFactory.newInstance(', 'noent: '],
    'shell-safety': ['os.system(', 'os.system("a" +', 'exec(`', 'shell=True', 'exec.Command("sh", "'],
  },
  'legal-documents': {
    'title-clerk': ['Title:', 'T'],
    'abstract-examiner': ['Abstract\n', 'word '],
    'background-reviewer': ['Background\n', 'Background: '],
    'summary-reviewer': ['Summary\n'],
    'claims-examiner': ['1. A ', '1. The x of claim 2 ', 'claim 1 claim '],
    'claim-fee-auditor': ['1. A x\n'],
    'independent-claims': ['1. A x of claim \n'],
    'definiteness-examiner': ['about ', 'substantially', 'etc'],
    'enablement-examiner': ['embodiment', 'examp'],
    'drawings-clerk': ['FIG. ', 'FIGURE'],
    'prior-art-searcher': ['US 123', 'prior ar'],
    'privacy-officer': ['a@b', '+1 (', '(555) 555-'],
    'means-plus-function': ['means for x ', 'means for '],
    'eligibility-examiner': ['algorithm ', 'abstract idea'],
    'obviousness-examiner': ['well-known ', 'conventiona'],
    'confidentiality-clerk': ['confidential ', 'internal use'],
    'priority-clerk': ['2024-01-0', 'filed on'],
    'inventor-registrar': ['inventor', 'invent'],
    'terminology-editor': ['the a ', 'said b the '],
    'readability-editor': ['word ', '. '],
    'length-examiner': ['w '],
  },
};

const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

/**
 * The shapes of one fragment: one line of repeats; one repeat per line; and (for the patent
 * council) numbered claims under a claims heading, each carrying the fragment, after the sections.
 */
export function adversarialInputs(council: CouncilId, fragment: string, size = WORST_SIZE): { shape: string; content: string }[] {
  const out = [
    { shape: 'one line', content: fill(fragment, size) },
    { shape: 'one per line', content: fill(`${fragment}\n`, size) },
  ];
  if (council === 'legal-documents') {
    const head = 'Title: T\nAbstract\nA short abstract.\nDescription\nIn one embodiment.\nClaims\n';
    out.push({ shape: 'in claims', content: head + fill(`1. A ${fragment} the x said y means for z of claim 1\n`, size - head.length) });
  }
  return out;
}
