/**
 * rules/v2 persona by persona (SPEC §8.3): lines that must draw a veto (a blocking reject with
 * confidence ≥ 700), look-alikes that must not, and the patent-structure judges.
 */
import { describe, expect, it } from 'vitest';
import { VETO_CONFIDENCE } from '../../../src/protocol/council/aggregate-v2.js';
import { CODE_COUNCIL, LEGAL_COUNCIL, ruleVotes } from '../../../src/service/council/councils.js';
import { readText } from '../../../src/service/council/features.js';
import { headingOf, parsePatent, undefinedTerms } from '../../../src/service/council/patent.js';

function vote(council: typeof CODE_COUNCIL, persona: string, content: string) {
  const v = ruleVotes(council, content).find((x) => x.persona === persona);
  if (!v) throw new Error(`no persona ${persona}`);
  return v;
}
const vetoes = (persona: string, content: string) => {
  const v = vote(CODE_COUNCIL, persona, content);
  return v.vote === 'reject' && v.confidence >= VETO_CONFIDENCE;
};

describe('code council: what draws a veto', () => {
  it.each([
    ['security-auditor', 'result = eval(request.args["q"])'],
    ['security-auditor', 'exec(compile(src, "<user>", "exec"))'],
    ['security-auditor', 'const f = new Function("a", body);'],
    ['security-auditor', 'Object result = engine.eval(script);'],
    ['secrets-scanner', 'DB_PASSWORD = "Xk9#vR2!pLq7"'],
    ['secrets-scanner', 'const cfg = { apiKey: "sk_live_abcdefghijklmnop1234" };'],
    ['secrets-scanner', 'password := "s3cr3tpass"'],
    ['secrets-scanner', 'url = "postgres://app:hunter22@db:5432/app"'],
    ['secrets-scanner', 'aws_key = "AKIAIOSFODNN7EXAMPLE"'],
    ['injection-hunter', 'cur.execute("SELECT * FROM t WHERE name = \'" + name + "\'")'],
    ['injection-hunter', 'cur.execute(f"DELETE FROM t WHERE id = {tid}")'],
    ['injection-hunter', 'q := fmt.Sprintf("SELECT id FROM users WHERE email = \'%s\'", email)'],
    ['injection-hunter', 'db.query(`UPDATE users SET name = ${name} WHERE id = 1`)'],
    ['injection-hunter', 'cur.execute("SELECT a FROM t WHERE b = %s" % b)'],
    ['deserialization-guard', 'obj = pickle.loads(blob)'],
    ['deserialization-guard', 'cfg = yaml.load(text, Loader=yaml.Loader)'],
    ['deserialization-guard', 'ObjectInputStream in = new ObjectInputStream(stream);'],
    ['deserialization-guard', 'doc = libxmljs.parseXml(text, { noent: true })'],
    ['shell-safety', 'os.system("rm -rf " + path)'],
    ['shell-safety', 'subprocess.run(cmd, shell=True)'],
    ['shell-safety', 'execSync(`git checkout ${branch}`)'],
    ['shell-safety', 'Process p = Runtime.getRuntime().exec(command);'],
    ['shell-safety', 'out, _ := exec.Command("sh", "-c", "ping "+host).Output()'],
    ['network-sentinel', 'requests.get(url, verify=False)'],
    ['network-sentinel', 'tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}'],
    ['crypto-reviewer', 'digest = hashlib.md5(password.encode()).hexdigest()'],
    ['crypto-reviewer', 'Cipher c = Cipher.getInstance("AES");'],
    ['crypto-reviewer', 'token = "".join(random.choice(ALPHABET) for _ in range(32))'],
  ])('%s vetoes %s', (persona, line) => {
    expect(vetoes(persona, `${line}\n`)).toBe(true);
  });

  it.each([
    ['security-auditor', 'const m = pattern.exec(text);'],
    ['security-auditor', 'value = ast.literal_eval(raw)'],
    ['security-auditor', '# never call eval(user_input) here'],
    ['secrets-scanner', 'password = os.environ["DB_PASSWORD"]'],
    ['secrets-scanner', 'PASSWORD_MIN_LENGTH = 12'],
    ['secrets-scanner', 'const label = "Enter your password";'],
    ['injection-hunter', 'cur.execute("SELECT * FROM t WHERE name = ?", (name,))'],
    ['injection-hunter', 'const rows = await sql`SELECT * FROM t WHERE id = ${id}`;'],
    ['injection-hunter', 'alert("Select a file: " + name);'],
    ['deserialization-guard', 'cfg = yaml.safe_load(text)'],
    ['deserialization-guard', 'cfg = yaml.load(text, Loader=yaml.SafeLoader)'],
    ['shell-safety', 'subprocess.run(["git", "status"], check=True)'],
    ['shell-safety', 'os.system("clear")'],
    ['network-sentinel', 'requests.get(url, verify=True, timeout=5)'],
    ['network-sentinel', 'server = "http://localhost:8080"'],
    ['crypto-reviewer', 'etag = hashlib.md5(body).hexdigest()'],
    ['crypto-reviewer', 'key = hashlib.pbkdf2_hmac("sha256", password, salt, 600000)'],
  ])('%s lets pass: %s', (persona, line) => {
    expect(vetoes(persona, `${line}\n`)).toBe(false);
  });

  it('a weak signal of a blocking persona is an ordinary reject, below the veto', () => {
    const v = vote(CODE_COUNCIL, 'crypto-reviewer', 'etag = hashlib.md5(body).hexdigest()\n');
    expect(v).toMatchObject({ vote: 'reject', confidence: 550 });
  });

  it('names lines, not content, in rationales (no secret is copied into a vote)', () => {
    const v = vote(CODE_COUNCIL, 'secrets-scanner', 'x = 1\nDB_PASSWORD = "Xk9#vR2!pLq7"\n');
    expect(v.rationale).toMatch(/line 2\b/);
    expect(v.rationale).not.toContain('Xk9');
  });

  it('abstains on empty content, everywhere', () => {
    for (const c of [CODE_COUNCIL, LEGAL_COUNCIL]) expect(ruleVotes(c, ' \n\t\n').every((v) => v.vote === 'abstain')).toBe(true);
  });
});

describe('legal council: patent structure', () => {
  it('recognises headings with numbers, #, colons and inline text', () => {
    expect(headingOf('ABSTRACT')).toMatchObject({ name: 'abstract', inline: '' });
    expect(headingOf('## 3. Detailed  Description of the Invention')).toMatchObject({ name: 'description' });
    expect(headingOf('Abstract: A housing for a sensor.')).toMatchObject({ name: 'abstract', inline: 'A housing for a sensor.' });
    expect(headingOf('What is claimed is:')).toMatchObject({ name: 'claims' });
    expect(headingOf('The abstract idea is old.')).toBeUndefined();
    expect(headingOf(`Abstract ${'x'.repeat(200)}`)).toBeUndefined();
  });

  it('reads claims, their numbers and their references', () => {
    const p = parsePatent(readText('Claims\n1. A cup comprising\na handle.\n2. The cup of claim 1, wherein\nthe handle is round.\n3. The cup according to any one of claims 1 or 2.\n'));
    expect(p.claims.map((c) => [c.number, c.refs])).toEqual([[1, []], [2, [1]], [3, [1, 2]]]);
    expect(p.claims[1].text).toBe('2. The cup of claim 1, wherein the handle is round.');
  });

  it('finds terms without antecedent basis, singulars and plurals matched', () => {
    const p = parsePatent(readText('Claims\n1. A frame with a plurality of sensors, the sensor being fixed to the frame by the bracket.\n2. The frame of claim 1, wherein the batteries and said lid are removable.\n'));
    expect(undefinedTerms(p, ['same'])).toEqual(['bracket', 'batteries', 'lid']);
  });

  it('links "means for" to a structure only through a cue and an article', () => {
    const doc = (desc: string) => `Title: Box\nAbstract\nA box.\nDescription\n${desc}\nClaims\n1. A box comprising means for closing the box.\n`;
    expect(vote(LEGAL_COUNCIL, 'means-plus-function', doc('The means for closing comprises a hinged lid.')).vote).toBe('approve');
    expect(vote(LEGAL_COUNCIL, 'means-plus-function', doc('A magnetic strip serves as the means for closing.')).vote).toBe('approve');
    expect(vote(LEGAL_COUNCIL, 'means-plus-function', doc('The box is closed by means for closing.')).vote).toBe('reject');
  });

  it('rejects claims out of order and dependencies on later claims', () => {
    const base = 'Title: Box\nAbstract\nA box.\nClaims\n';
    expect(vote(LEGAL_COUNCIL, 'claims-examiner', `${base}1. A box.\n3. The box of claim 1.\n`).rationale).toMatch(/not numbered/);
    expect(vote(LEGAL_COUNCIL, 'claims-examiner', `${base}1. A box.\n2. The box of claim 2.\n`).rationale).toMatch(/refers to claim 2/);
  });

  it('counts the abstract\'s words, inline text included', () => {
    const long = `Title: Box\nAbstract: ${'word '.repeat(100)}\n${'word '.repeat(51)}\nClaims\n1. A box.\n`;
    expect(vote(LEGAL_COUNCIL, 'abstract-examiner', long)).toMatchObject({ vote: 'reject', confidence: 800 });
    expect(vote(LEGAL_COUNCIL, 'abstract-examiner', long.replace('word '.repeat(51), 'word '.repeat(50)))).toMatchObject({ vote: 'approve' });
  });
});
