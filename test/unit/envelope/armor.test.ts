/** SPEC §4.4: armor is strict (one accepted form), streaming, and auto-detected by decrypt. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ARMOR_BEGIN, ARMOR_END, armorBytes, armorDecode, armorEncode, dearmorBytes } from '../../../src/crypto/armor.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { sealBytes } from '../../../src/crypto/envelope.js';
import { decryptAnyStream } from '../../../src/crypto/envelope-stream.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { collect, pieces } from './helpers.js';

const enc = (s: string) => Buffer.from(s, 'latin1');

async function armorText(bytes: Uint8Array, piece = 1000): Promise<string> {
  return (await collect(armorEncode(pieces(bytes, piece)))).toString('latin1');
}

async function dearmorError(text: string): Promise<{ code: string; exitCode: number; message: string }> {
  try {
    await collect(armorDecode(pieces(enc(text), 17)));
  } catch (e) {
    return e as { code: string; exitCode: number; message: string };
  }
  throw new Error('expected BAD_ARMOR');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** the same line with a padding bit set in its last character before '=' (a non-canonical form) */
function setLowBit(line: string): string {
  const i = line.length - 2;
  return line.slice(0, i) + B64[B64.indexOf(line[i]) | 1] + line.slice(i + 1);
}

describe('armor encoding', () => {
  it.each([0, 1, 47, 48, 49, 96, 1000, 70000])('round trips %i bytes, 64 columns, LF, streaming = one-shot', async (n) => {
    const data = randomBytes(n);
    const text = await armorText(data, 13);
    expect(text).toBe(armorBytes(data));
    const lines = text.split('\n');
    expect(lines[0]).toBe(ARMOR_BEGIN);
    expect(lines.at(-2)).toBe(ARMOR_END);
    expect(lines.at(-1)).toBe('');
    for (const l of lines.slice(1, -3)) expect(l.length).toBe(64);
    if (n > 0) expect(Buffer.from(await dearmorBytes(text)).equals(data)).toBe(true);
  });
});

describe('armor decoding is strict', () => {
  const data = randomBytes(200); // 4 full lines + one of 12 characters
  const good = armorBytes(data);
  const lines = good.split('\n');

  it.each([
    ['leading blank lines and spaces', '\n\n  \t' + good],
    ['trailing whitespace', good + '\n\n   \n'],
    ['CRLF line endings', good.replace(/\n/g, '\r\n')],
    ['no newline after END', good.slice(0, -1)],
  ])('accepts %s', async (_n, text) => {
    expect((await collect(armorDecode(pieces(enc(text), 5)))).equals(data)).toBe(true);
  });

  it.each([
    ['garbage before BEGIN', 'hello\n' + good],
    ['garbage after END', good + 'x'],
    ['a second armored block', good + good],
    ['a wrong BEGIN label', good.replace('ENCRYPTED FILE', 'ENCRYPTED MESSAGE')],
    ['a short line in the middle', [lines[0], lines[1].slice(0, 60), ...lines.slice(2)].join('\n')],
    ['a long line', [lines[0], lines[1] + lines[2], ...lines.slice(3)].join('\n')],
    ['a line after the padded line', [...lines.slice(0, 6), lines[1], ...lines.slice(6)].join('\n')],
    ['a character outside the alphabet', good.replace(lines[2], lines[2].slice(0, 10) + '-' + lines[2].slice(11))],
    ['URL-safe base64', good.replace(lines[2], '_' + lines[2].slice(1))],
    ['non-zero padding bits', good.replace(lines[5], setLowBit(lines[5]))],
    ['a missing END line', lines.slice(0, -2).join('\n') + '\n'],
    ['an empty body', `${ARMOR_BEGIN}\n${ARMOR_END}\n`],
    ['an empty input', ''],
    ['a blank line inside the body', [lines[0], lines[1], '', ...lines.slice(2)].join('\n')],
    ['spaces inside a line', good.replace(lines[3], ' ' + lines[3].slice(1))],
    ['non-ASCII bytes', good.replace(lines[3], 'é' + lines[3].slice(1))],
  ])('rejects %s (BAD_ARMOR, exit 3)', async (_n, text) => {
    const e = await dearmorError(text);
    expect(e).toMatchObject({ code: 'BAD_ARMOR', exitCode: 3 });
  });

  it('the last line really has a padded, 12-character form (the table above depends on it)', () => {
    expect(lines[5]).toMatch(/^[A-Za-z0-9+/]{11}=$/);
    expect(setLowBit(lines[5])).not.toBe(lines[5]);
  });

  it('an endless line is refused without buffering it', async () => {
    async function* endless() {
      yield enc(ARMOR_BEGIN + '\n');
      for (let i = 0; i < 1000; i++) yield enc('A'.repeat(1000));
    }
    await expect(collect(armorDecode(endless()))).rejects.toMatchObject({ code: 'BAD_ARMOR' });
  });
});

describe('decrypt auto-detects armor', () => {
  it('opens an armored envelope read in small pieces', async () => {
    const p = getProvider('node');
    const key = compositeGenerate(p);
    const pt = randomBytes(5000);
    const text = '\r\n ' + armorBytes(sealBytes(p, key.publicKey, pt));
    const armored: boolean[] = [];
    const out = await collect(decryptAnyStream(p, key, pieces(enc(text), 33, 1), { onArmor: (a) => armored.push(a) }));
    expect(out.equals(pt)).toBe(true);
    expect(armored).toEqual([true]);
  });
});
