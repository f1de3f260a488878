/** Calendar helpers that work in UTC so results do not depend on the host's time zone. */
const DAY_MS = 24 * 60 * 60 * 1000;

export function startOfDayUtc(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

export function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * DAY_MS);
}

export function daysBetween(a: Date, b: Date): number {
  return Math.round((startOfDayUtc(b).getTime() - startOfDayUtc(a).getTime()) / DAY_MS);
}

export function isWeekend(d: Date): boolean {
  const day = d.getUTCDay();
  return day === 0 || day === 6;
}

/** The n-th business day after `d` (Saturdays and Sundays skipped). */
export function addBusinessDays(d: Date, n: number): Date {
  let out = startOfDayUtc(d);
  let left = n;
  while (left > 0) {
    out = addDays(out, 1);
    if (!isWeekend(out)) left--;
  }
  return out;
}

export function isoWeek(d: Date): number {
  const t = startOfDayUtc(d);
  const dayNum = (t.getUTCDay() + 6) % 7;
  t.setUTCDate(t.getUTCDate() - dayNum + 3);
  const firstThursday = new Date(Date.UTC(t.getUTCFullYear(), 0, 4));
  return 1 + Math.round((t.getTime() - firstThursday.getTime()) / (7 * DAY_MS));
}
