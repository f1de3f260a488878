/**
 * The code-analysis council (/api/analyze), rules/v2: 21 personas in a fixed order, each a rule as
 * data (SPEC §8.3, roster "code-analysis", printed from this table by scripts/council-spec.ts).
 *
 * Semantics: a `detect` persona that finds what it looks for rejects with the confidence of the
 * finding — ≥ 800 for specific evidence of a high-severity weakness (a veto under aggregation
 * rule v2 when the persona is `blocking`), below 700 for weak signals (an ordinary vote); one that
 * finds nothing approves with a modest 600 (a pattern search that finds nothing is weak evidence
 * of quality). Patterns are RE2 syntax, matched per line.
 */
import { re, rei } from './matcher.js';
import { ruleOf, type Rule } from './rule.js';
import { CODE_ROSTER } from '../../protocol/council/rosters.js';

const rule = ruleOf(CODE_ROSTER);

// file-level context shared by several findings
const REQUEST_INPUT = rei`request\.(args|form|files|values|GET|POST|query_params|path_params)|\breq\.(query|params|body)|getParameter\s*\(|URL\.Query\(\)|\.FormValue\s*\(|\bc\.(Param|Query)\s*\(|@RequestParam|@PathVariable|\bctx\.(params|query|request\.body)|mux\.Vars\s*\(|\.PathValue\s*\(`;

export const CODE_RULES: readonly Rule[] = Object.freeze([
  rule('security-auditor', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'code executed from a non-literal (eval, exec, new Function, vm.run*, compile(…, "exec"))',
        lines: 'code',
        confidence: 850,
        any: [
          re`\beval\s*\(\s*[^\s)"']`,
          re`(^|[^\w.])exec\s*\(\s*[^\s)"']`,
          re`\bnew\s+Function\s*\(`,
          re`\bvm\.(runInThisContext|runInNewContext|runInContext|compileFunction)\s*\(`,
          re`\b__import__\s*\(\s*[^\s)"']`,
          re`\bcompile\s*\([^)\n]*["']exec["']`,
        ],
      },
      { what: 'eval of a literal', lines: 'code', confidence: 550, any: [re`\beval\s*\(\s*["']`] },
    ],
  }),
  rule('secrets-scanner', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'hard-coded credentials (key formats, password/secret/token literals, credentials in URLs)',
        lines: 'all',
        confidence: 900,
        any: [
          re`AKIA[0-9A-Z]{16}`,
          re`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----`,
          re`\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsk_live_[0-9A-Za-z]{16,}|\bAIza[0-9A-Za-z_-]{35}`,
          rei`(password|passwd|pwd|passphrase|secret|api_?key|access_?key|auth_?token|access_?token|secret_?key|private_?key|client_?secret|token)["']?\s*(:=|==?|:|=>)\s*["'][^"'\s$<{%]{6,}["']`,
          rei`["']Bearer\s+[A-Za-z0-9._~+/-]{16,}`,
          re`\b[a-z][a-z0-9+.-]*://[^\s:/@"']+:[^\s:/@"'$<{]{4,}@`,
        ],
      },
    ],
  }),
  rule('injection-hunter', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'SQL built by concatenation, formatting or interpolation',
        lines: 'code',
        confidence: 850,
        any: [
          rei`(SELECT\b[^;\n]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b[^;\n]*["'\x60]\s*(\+\s*[\w(]|%\s*[\w(]|\.format\s*\()`,
          rei`\bWHERE\b[^;\n]*["']\s*\+\s*[\w(]`,
          rei`\bf"[^"\n]*(SELECT\b[^"\n]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)[^"\n]*\{`,
          rei`\bf'[^'\n]*(SELECT\b[^'\n]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)[^'\n]*\{`,
          rei`(^|[^\w.])\x60[^\x60\n]*(SELECT\b[^\x60\n]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)[^\x60\n]*\$\{`,
          rei`\b(Sprintf|format|formatted)\s*\(\s*"[^"\n]*(SELECT\b[^"\n]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)[^"\n]*%[sdv]`,
        ],
      },
    ],
  }),
  rule('crypto-reviewer', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'a fast hash (MD5, SHA-1, SHA-2) of a password',
        lines: 'code',
        confidence: 850,
        any: [rei`\b(md5|sha-?1|sha-?224|sha-?256|sha-?384|sha-?512)[^\n]*(password|passwd|pwd)|(password|passwd|pwd)[^\n]*\b(md5|sha-?1|sha-?256|sha-?512)`],
        unless: [rei`pbkdf2|bcrypt|scrypt|argon2|hmac|hashpw|checkpw|sha256_crypt|sha512_crypt`],
      },
      {
        what: 'MD5 or SHA-1 in a file that handles passwords and uses no password hash',
        lines: 'code',
        confidence: 800,
        any: [rei`\b(md5|sha-?1)`],
        unless: [rei`hmac`],
        fileAll: [rei`password|passwd`],
        fileNone: [rei`bcrypt|scrypt|argon2|pbkdf2|hashpw`],
      },
      {
        what: 'a broken cipher or mode (DES, RC4, RC2, Blowfish, ECB, bare "AES")',
        lines: 'code',
        confidence: 800,
        any: [re`\b(DES|DESede|TripleDES|RC4|ARC4|RC2|Blowfish)\b|["'](des|des-ede3?|des-cbc|rc4|bf-cbc)["']|\bECB\b|MODE_ECB|Cipher\.getInstance\(\s*"AES"\s*\)`],
      },
      {
        what: 'a non-cryptographic random number for a secret',
        lines: 'code',
        confidence: 800,
        any: [
          rei`(token|secret|password|salt|nonce|session|otp)[^\n]*(Math\.random\(\)|\brandom\.(random|randint|choice|choices|getrandbits)\(|new\s+Random\()`,
          rei`(Math\.random\(\)|\brandom\.(random|randint|choice|choices|getrandbits)\(|new\s+Random\()[^\n]*(token|secret|password|salt|nonce|otp)`,
        ],
      },
      { what: 'MD5 or SHA-1 (not for passwords)', lines: 'code', confidence: 550, any: [rei`\b(md5|sha-?1)`] },
    ],
  }),
  rule('complexity-analyst', { kind: 'limit', feature: 'maxIndentLevel', max: 8, what: 'the deepest nesting level' }),
  rule('readability-editor', { kind: 'limit', feature: 'maxLineLength', max: 120, what: 'the longest line' }),
  rule('documentation-steward', { kind: 'comments', minLines: 30, minPerMille: 50 }),
  rule('test-advocate', {
    kind: 'evidence',
    what: 'tests or assertions',
    any: [re`\b(assert|expect|describe|it|test)\s*\(|\bdef test_|#\[test\]|@Test\b|\bfunc Test\w*\(t \*testing\.T\)`],
  }),
  rule('error-handler', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'swallowed errors',
        lines: 'code',
        confidence: 650,
        any: [re`^\s*except\s*:|\bexcept\s+(Exception|BaseException)\s*(as\s+\w+\s*)?:\s*pass\b|\bcatch\s*(\([^)]*\))?\s*\{\s*\}|\bif\s+err\s*!=\s*nil\s*\{\s*\}|^\s*_\s*=\s*err\b`],
      },
    ],
  }),
  rule('dependency-watcher', {
    kind: 'count',
    what: 'import lines',
    max: 25,
    any: [re`^\s*(import\s|from\s+\S+\s+import\s|#include\s|using\s+\w)|\brequire\s*\(`],
  }),
  rule('maintainer', {
    kind: 'detect',
    clean: 600,
    findings: [{ what: 'unfinished-work markers (TODO, FIXME, XXX, HACK)', lines: 'all', confidence: 650, any: [re`\b(TODO|FIXME|XXX|HACK)\b`] }],
  }),
  rule('performance-engineer', {
    kind: 'detect',
    clean: 600,
    findings: [{ what: 'unbounded loops', lines: 'code', confidence: 600, any: [re`\bwhile\s*\(\s*(true|1)\s*\)|\bwhile\s+True\s*:|\bfor\s*\(\s*;\s*;\s*\)|^\s*for\s*\{`] }],
  }),
  rule('size-guard', { kind: 'limit', feature: 'bytes', max: 64 * 1024, what: 'the size in bytes' }),
  rule('licence-checker', {
    kind: 'detect',
    clean: 600,
    findings: [{ what: 'copyleft licence notices', lines: 'all', confidence: 650, any: [rei`GNU (Affero |Lesser )?General Public License|SPDX-License-Identifier:\s*(A|L)?GPL`] }],
  }),
  rule('input-validator', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'path traversal: request input, file paths built from a name or path variable, no containment check',
        lines: 'code',
        confidence: 850,
        any: [rei`(os\.path\.join|path\.join|path\.resolve|filepath\.Join|Paths\.get|Path\.of|new\s+File|FileInputStream|FileOutputStream|FileReader|send_file|sendFile|res\.download|ServeFile|os\.Open|os\.ReadFile|ioutil\.ReadFile|\bopen)\s*\([^)\n]*\b\w*(file|path|name|doc)\w*\b`],
        fileAll: [REQUEST_INPUT],
        fileNone: [re`secure_filename|safe_join|send_from_directory|basename\s*\(|filepath\.Base\s*\(|getFileName\s*\(\)|\.(startswith|startsWith)\s*\(|HasPrefix\s*\(|filepath\.IsLocal|filepath\.Rel\s*\(|toRealPath|getCanonicalPath|realpath|OpenInRoot|os\.OpenRoot`],
      },
      {
        what: 'external input and no validation anywhere in the file',
        lines: 'code',
        confidence: 600,
        any: [re`\b(input\s*\(|req\.(body|query|params)|process\.argv|sys\.argv|request\.(form|args|json|get_json))`],
        fileNone: [rei`\b(validate\w*|sanitize\w*|schema|parseInt|isinstance|assert|check_\w+|check[A-Z]\w*)|Number\(|\bint\(|strconv\.Atoi|Integer\.parseInt|@Valid\b`],
      },
    ],
  }),
  rule('privacy-officer', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'secrets passed to a log or print call',
        lines: 'code',
        confidence: 700,
        any: [rei`\b(console\.(log|error|info|warn|debug)|print|println|printf|logger\.\w+|log\.\w+|logging\.\w+|System\.out\.print\w*)\s*\([^)\n]*\b(password|passwd|token|secret|ssn|credit_?card|card_?number)`],
      },
    ],
  }),
  rule('concurrency-reviewer', {
    kind: 'detect',
    clean: 600,
    findings: [{ what: 'mutable globals', lines: 'code', confidence: 600, any: [re`^\s+global\s+\w+|^var\s+\w+\s*=\s*(\[\]|\{\}|new\s|make\()`] }],
  }),
  rule('type-guardian', {
    kind: 'detect',
    clean: 600,
    findings: [{ what: 'disabled type checks', lines: 'all', confidence: 600, any: [re`@ts-ignore|@ts-nocheck|#\s*type:\s*ignore|:\s*any\b|\bas\s+any\b|@SuppressWarnings\("unchecked"\)`] }],
  }),
  rule('network-sentinel', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'TLS certificate or host-name verification switched off',
        lines: 'code',
        confidence: 850,
        any: [
          re`\bverify\s*=\s*False\b|\bcheck_hostname\s*=\s*False\b|\bCERT_NONE\b|_create_unverified_context`,
          rei`rejectUnauthorized\s*:\s*false|NODE_TLS_REJECT_UNAUTHORIZED[^\n]*["']?0|InsecureSkipVerify\s*:\s*true`,
          re`NoopHostnameVerifier|ALLOW_ALL_HOSTNAME_VERIFIER|TrustAllStrategy|TrustSelfSignedStrategy|HostnameVerifier\([^\n]*->\s*true|checkServerTrusted\s*\([^)]*\)\s*(throws\s+[\w.]+\s*)?\{\s*\}|getAcceptedIssuers\s*\(\)\s*\{\s*return\s+(null|new\s+X509Certificate\[0\])`,
        ],
      },
      {
        what: 'plain http endpoints',
        lines: 'code',
        confidence: 600,
        any: [re`http://[\w.-]+`],
        unless: [re`http://(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])|http://(www\.)?(w3\.org|apache\.org|xmlsoap\.org|json-schema\.org|xml\.org|purl\.org|schemas\.)`],
      },
    ],
  }),
  rule('deserialization-guard', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'unsafe deserialization (pickle, marshal, shelve, yaml.unsafe_load, ObjectInputStream, unserialize, …)',
        lines: 'code',
        confidence: 850,
        any: [
          re`\b(pickle|cPickle|dill|marshal)\.loads?\s*\(|\bshelve\.open\s*\(|\bjsonpickle\.decode\s*\(|\byaml\.unsafe_load\s*\(|\bMarshal\.load\b|\bunserialize\s*\(`,
          re`\bObjectInputStream\b|\bXMLDecoder\b|\bBinaryFormatter\b|enableDefaultTyping\s*\(|node-serialize`,
        ],
      },
      { what: 'yaml.load without a safe loader', lines: 'code', confidence: 850, any: [re`\byaml\.load\s*\(`], unless: [re`SafeLoader|CSafeLoader`] },
      {
        what: 'an XML parser that resolves external entities',
        lines: 'code',
        confidence: 850,
        any: [re`\bresolve_entities\s*=\s*True|\bload_dtd\s*=\s*True|\bno_network\s*=\s*False`, rei`\bnoent\s*:\s*true`],
      },
      {
        what: 'a Java XML parser factory without hardening against external entities',
        lines: 'code',
        confidence: 800,
        any: [re`\b(DocumentBuilderFactory|SAXParserFactory|XMLInputFactory|TransformerFactory|SchemaFactory)\.newInstance\s*\(|\bnew\s+(SAXReader|SAXBuilder)\s*\(`],
        fileNone: [re`disallow-doctype-decl|FEATURE_SECURE_PROCESSING|external-general-entities|IS_SUPPORTING_EXTERNAL_ENTITIES|SUPPORT_DTD|ACCESS_EXTERNAL_DTD|setExpandEntityReferences\s*\(\s*false`],
      },
    ],
  }),
  rule('shell-safety', {
    kind: 'detect',
    clean: 600,
    findings: [
      {
        what: 'a shell command built from variables',
        lines: 'code',
        confidence: 850,
        any: [
          re`\bos\.(system|popen)\s*\(\s*([^\s)"']|f["']|["'][^"'\n]*["']\s*(\+|%|\.format))`,
          re`\bsubprocess\.(getoutput|getstatusoutput)\s*\(|\bcommands\.getoutput\s*\(`,
          re`((^|[^\w.])|child_process\.)(exec|execSync)\s*\(\s*(\x60[^\x60\n]*\$\{|[^\s)"'\x60]|["'][^"'\n]*["']\s*\+)`,
          re`getRuntime\(\)\.exec\s*\(\s*([^\s)"]|"[^"\n]*"\s*\+)`,
          re`\bnew\s+ProcessBuilder\s*\([^)\n]*"(-c|/c)"|\bexec\.Command(Context)?\s*\([^)\n]*"(sh|bash|/bin/sh|/bin/bash|cmd)"\s*,\s*"(-c|/c)"`,
        ],
      },
      { what: 'a shell started with shell=True or shell: true', lines: 'code', confidence: 800, any: [re`\bshell\s*=\s*True\b|\bshell\s*:\s*true\b`] },
      { what: 'a shell command from a literal', lines: 'code', confidence: 550, any: [re`\bos\.(system|popen)\s*\(\s*["']`] },
    ],
  }),
]);
