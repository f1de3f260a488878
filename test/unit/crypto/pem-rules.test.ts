/**
 * One rule for both PEM readers (SPEC §2.1 = §4.4, issue 18): the key-file reader and the armor
 * reader get the same texts — the same body under their own labels — and must agree on every one,
 * with the verdict this table states (76-character lines were accepted by the key reader before).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ARMOR_BEGIN, ARMOR_END, armorDecode } from '../../../src/crypto/armor.js';
import { parsePem } from '../../../src/crypto/key-codec.js';

const data = randomBytes(200); // 4 full lines and a last line of 12 characters with one '='
const b64 = data.toString('base64');
const body = b64.match(/.{1,64}/g)!;
const wrap76 = b64.match(/.{1,76}/g)!;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const lowBit = (l: string) => l.slice(0, -2) + B64[B64.indexOf(l.at(-2)!) | 1] + '=';

interface Block {
  begin: string;
  end: string;
}
/** Each case builds its text from a block's BEGIN/END lines, so both readers see the same bytes. */
const cases: [string, 'accept' | 'refuse', (b: Block) => string][] = [
  ['64-column lines, LF, final newline', 'accept', (b) => [b.begin, ...body, b.end, ''].join('\n')],
  ['CRLF line endings', 'accept', (b) => [b.begin, ...body, b.end, ''].join('\r\n')],
  ['a mix of LF and CRLF', 'accept', (b) => [b.begin, ...body, b.end].map((l, i) => l + (i % 2 ? '\r\n' : '\n')).join('')],
  ['no final newline', 'accept', (b) => [b.begin, ...body, b.end].join('\n')],
  ['whitespace before BEGIN and after END', 'accept', (b) => ' \t\r\n\n' + [b.begin, ...body, b.end].join('\n') + '\n \t\n'],
  ['76-column lines', 'refuse', (b) => [b.begin, ...wrap76, b.end, ''].join('\n')],
  ['text before BEGIN', 'refuse', (b) => ['comment', b.begin, ...body, b.end, ''].join('\n')],
  ['text after END', 'refuse', (b) => [b.begin, ...body, b.end, 'x'].join('\n')],
  ['a second block', 'refuse', (b) => [b.begin, ...body, b.end, b.begin, ...body, b.end, ''].join('\n')],
  ['a blank line in the body', 'refuse', (b) => [b.begin, body[0], '', ...body.slice(1), b.end, ''].join('\n')],
  ['a space at the end of a body line', 'refuse', (b) => [b.begin, body[0] + ' ', ...body.slice(1), b.end, ''].join('\n')],
  ['a space at the end of the BEGIN line', 'refuse', (b) => [b.begin + ' ', ...body, b.end, ''].join('\n')],
  ['a short line in the middle', 'refuse', (b) => [b.begin, body[0].slice(0, 60), body[0].slice(60) + body[1], ...body.slice(2), b.end, ''].join('\n')],
  ['a line after the padded line', 'refuse', (b) => [b.begin, ...body, body[0], b.end, ''].join('\n')],
  ['non-zero padding bits', 'refuse', (b) => [b.begin, ...body.slice(0, -1), lowBit(body.at(-1)!), b.end, ''].join('\n')],
  ['URL-safe base64', 'refuse', (b) => [b.begin, '_' + body[0].slice(1), ...body.slice(1), b.end, ''].join('\n')],
  ['a header line', 'refuse', (b) => [b.begin, 'Proc-Type: 4,ENCRYPTED', ...body, b.end, ''].join('\n')],
  ['an empty body', 'refuse', (b) => [b.begin, b.end, ''].join('\n')],
  ['no END line', 'refuse', (b) => [b.begin, ...body, ''].join('\n')],
  ['a lone CR as line ending', 'refuse', (b) => [b.begin, ...body, b.end, ''].join('\r')],
];

function keyReader(text: string): 'accept' | 'refuse' {
  try {
    const { der } = parsePem(text, 'k.pem');
    expect(Buffer.from(der).equals(data)).toBe(true);
    return 'accept';
  } catch (err) {
    expect((err as { code: string }).code).toBe('KEY_MALFORMED');
    return 'refuse';
  }
}

async function armorReader(text: string): Promise<'accept' | 'refuse'> {
  try {
    const parts: Uint8Array[] = [];
    for await (const b of armorDecode([Buffer.from(text, 'latin1')])) parts.push(b);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    return 'accept';
  } catch (err) {
    expect((err as { code: string }).code).toBe('BAD_ARMOR');
    return 'refuse';
  }
}

describe('one PEM line rule for key files and armor', () => {
  it('the body really has 4 full lines and a padded last line (the table depends on it)', () => {
    expect(body.map((l) => l.length)).toEqual([64, 64, 64, 64, 12]);
    expect(body.at(-1)!.endsWith('=')).toBe(true);
  });

  it.each(cases)('%s: %s by both readers', async (_name, verdict, make) => {
    expect(keyReader(make({ begin: '-----BEGIN PUBLIC KEY-----', end: '-----END PUBLIC KEY-----' }))).toBe(verdict);
    expect(await armorReader(make({ begin: ARMOR_BEGIN, end: ARMOR_END }))).toBe(verdict);
  });
});
