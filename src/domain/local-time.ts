// Wall-clock times of the plan ("2027-03-28T14:00") and the instants they name in a time zone, with the
// daylight-saving changes read as iCalendar reads them. Plain Intl: no dependency, no process time zone.

/** One formatter per time zone: building one is far dearer than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** How far ahead of UTC a time zone's clock is at an instant, in milliseconds. */
function zoneOffset(at: number, timeZone: string): number {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = formatter.formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = new Date(0);
  wall.setUTCFullYear(get('year'), get('month') - 1, get('day'));
  wall.setUTCHours(get('hour'), get('minute'), get('second'), 0);
  return wall.getTime() - Math.floor(at / 1000) * 1000;
}

const DAY_MS = 86_400_000;
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/**
 * The instant a wall-clock time of the plan ("2027-03-28T14:00") stands for in a time zone, read as iCalendar
 * reads it (RFC 5545, 3.3.5): a time repeated when the clocks go back (autumn) is its first occurrence (summer
 * time); a time skipped when they go forward (spring) is read with the offset before the gap (02:30 is then
 * 03:30 summer time) and comes with `gap`, the skipped wall-clock hours, so a form can refuse it. Null if unreadable.
 */
export function localInstant(local: string, timeZone: string): { instant: Date; gap: { from: string; to: string } | null } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local);
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1) return null;
  const wall = date.getTime() + (hour * 60 + minute) * 60_000;
  // the offsets in force a day before and a day after: the same, or the two sides of a change
  const before = zoneOffset(wall - DAY_MS, timeZone);
  const after = zoneOffset(wall + DAY_MS, timeZone);
  const fits = [before, after].map((o) => wall - o).filter((t) => t + zoneOffset(t, timeZone) === wall);
  if (fits.length) return { instant: new Date(Math.min(...fits)), gap: null };
  // skipped: find the change (to the minute) between the two readings, for the message
  let lo = wall - before - DAY_MS;
  let hi = wall - after + DAY_MS;
  while (hi - lo > 60_000) {
    const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
    if (zoneOffset(mid, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return { instant: new Date(wall - before), gap: { from: hhmm(hi + before), to: hhmm(hi + after) } };
}
