// The page's pin (src/web/page/trust.ts): one place decides which pin is used, and every way it can
// be wrong is refused before anything is fetched or sent.
import { describe, expect, it } from 'vitest';
import { choosePin, pinFromFragment } from '../../../src/web/page/trust.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('the page pin', () => {
  it('reads #pin= from the fragment, ignoring other parameters', () => {
    expect(pinFromFragment(`#pin=${A}`)).toBe(A);
    expect(pinFromFragment(`#x=1&pin=${A}&y=2`)).toBe(A);
    expect(pinFromFragment('#pin=')).toBeUndefined();
    expect(pinFromFragment('')).toBeUndefined();
    expect(pinFromFragment('#other')).toBeUndefined();
    expect(pinFromFragment('#' + 'x'.repeat(5000))).toBeUndefined();
  });

  it('configuration, then link, then typed; spellings normalised like the CLI (sha3-256: prefix, upper case)', () => {
    expect(choosePin({ configured: A, fragment: A, typed: B })).toEqual({ pin: A, source: 'configuration' });
    expect(choosePin({ fragment: `sha3-256:${A.toUpperCase()}`, typed: B })).toEqual({ pin: A, source: 'link' });
    expect(choosePin({ typed: ` ${B} ` })).toEqual({ pin: B, source: 'typed' });
  });

  it('refuses a link that names another pin than the configuration, a malformed pin, and no pin', () => {
    expect(() => choosePin({ configured: A, fragment: B })).toThrow(expect.objectContaining({ code: 'PIN_CONFLICT' }));
    expect(() => choosePin({ fragment: 'abc' })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({ configured: A.slice(1) })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({ typed: 'g'.repeat(64) })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
    expect(() => choosePin({})).toThrow(expect.objectContaining({ code: 'PIN_REQUIRED' }));
    expect(() => choosePin({ typed: '   ' })).toThrow(expect.objectContaining({ code: 'PIN_REQUIRED' }));
  });
});
