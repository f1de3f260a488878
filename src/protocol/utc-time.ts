/**
 * The two UTC time forms of ima-qs documents (SPEC §1.5), RFC 3339 profiles with one spelling each:
 *   seconds  2026-11-28T12:00:00Z       (public-keys document §7.3, key secrets' `created` §7.1)
 *   millis   2026-05-01T12:00:00.000Z   (sealed request `timestamp` §8.1)
 * Uppercase T and Z, no offset, no other fraction length, and a real instant: month 01–12, a day
 * of that month (Gregorian leap years), hour 00–23, minute and second 00–59 (no leap second, no
 * 24:00). Date.parse alone accepts February 30, 24:00 and any fraction length. Pure.
 */
export type UtcForm = 'seconds' | 'millis';

const FORMS: Record<UtcForm, RegExp> = {
  seconds: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/,
  millis: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/,
};

export function isUtcTime(s: unknown, form: UtcForm): s is string {
  if (typeof s !== 'string') return false;
  const m = FORMS[form].exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
}
