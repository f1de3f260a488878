/**
 * `ima-qs verify response.json`: a document that is not a response (fails the `format` check, or
 * is not JSON) is bad input — exit 3 with RESPONSE_MALFORMED / NOT_JSON — never a "no" (1) and
 * never an internal error (70); no stack trace either way. (Tampered but well-formed responses are
 * exit 1 RESPONSE_INVALID: test/integration/local/local-stack.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { tempDir } from './helpers/bytes-io.js';

const pin = 'a'.repeat(64);

describe('verify response.json: malformed documents are exit 3', () => {
  const dir = tempDir();
  const cases: [string, string | Buffer, string][] = [
    ['an empty object', '{}', 'RESPONSE_MALFORMED'],
    ['null members', '{"decision":null,"votes":null,"audit":null}', 'RESPONSE_MALFORMED'],
    ['members of the wrong types', '{"decision":1,"votes":"x","audit":[],"signer":{"public_key":"!!","fingerprint":5}}', 'RESPONSE_MALFORMED'],
    ['a __proto__ member', '{"__proto__":{"x":1},"decision":{},"votes":{},"audit":{}}', 'RESPONSE_MALFORMED'],
    ['truncated JSON', '{"decision":{"outcome":"appr', 'NOT_JSON'],
    ['binary garbage', Buffer.from([0x7b, 0xff, 0xfe, 0x00]), 'NOT_JSON'],
  ];
  for (const [name, body, code] of cases) {
    it(name, async () => {
      writeFileSync(join(dir, 'r.json'), body);
      const r = await runCli(['verify', 'r.json', '--pin', pin, '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(3);
      expect(r.json().error.code).toBe(code);
      expectNoStack(r.stderr);
    });
  }
});
