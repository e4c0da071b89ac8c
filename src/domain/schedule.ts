import { Cron } from 'croner';
import { getISOWeek } from 'date-fns/getISOWeek';
import { getISOWeekYear } from 'date-fns/getISOWeekYear';

export const FREQUENCIES = ['none', 'weekly', 'monthly'] as const;
export type Frequency = (typeof FREQUENCIES)[number];
export const FREQUENCY_LABELS: Record<Frequency, string> = { none: 'Pas d’envoi automatique', weekly: 'Chaque semaine', monthly: 'Chaque mois' };
export const WEEKS = ['1', '2', '3', '4', 'L'] as const;
export type Week = (typeof WEEKS)[number];
export const WEEK_LABELS: Record<Week, string> = { 1: 'premier', 2: 'deuxième', 3: 'troisième', 4: 'quatrième', L: 'dernier' };
export const WEEKDAY_LABELS = ['lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi', 'dimanche'] as const;

/** When the commune digests go out by themselves: "monthly, the first Monday at 09:00". */
export interface DigestSchedule {
  frequency: Frequency;
  /** 1 = Monday … 7 = Sunday */
  weekday: number;
  week: Week;
  /** "HH:MM", in the plan's time zone */
  time: string;
}

/** The schedule as a cron pattern (croner's dialect: `1#1` is the first Monday, `1#L` the last). */
export function cronOf(s: DigestSchedule): string | null {
  if (s.frequency === 'none') return null;
  const [hours, minutes] = s.time.split(':').map(Number);
  const day = s.weekday % 7;
  return `${minutes} ${hours} * * ${s.frequency === 'weekly' ? day : `${day}#${s.week}`}`;
}

export function describeSchedule(s: DigestSchedule): string {
  const day = WEEKDAY_LABELS[s.weekday - 1] ?? 'lundi';
  if (s.frequency === 'weekly') return `Chaque semaine, le ${day} à ${s.time.replace(':', ' h ')}`;
  if (s.frequency === 'monthly') return `Chaque mois, le ${WEEK_LABELS[s.week]} ${day} du mois à ${s.time.replace(':', ' h ')}`;
  return FREQUENCY_LABELS.none;
}

export function nextOccurrence(s: DigestSchedule, after: Date, timeZone: string): Date | null {
  const pattern = cronOf(s);
  if (!pattern) return null;
  return new Cron(pattern, { timezone: timeZone, paused: true }).nextRun(after);
}

/**
 * The latest occurrence in (checkedAt, now], if any: what the scheduler must send now.
 * Occurrences missed while the server was down are caught up once (the latest), not one by one.
 */
export function dueOccurrence(s: DigestSchedule, checkedAt: Date, now: Date, timeZone: string): Date | null {
  let due: Date | null = null;
  let next = nextOccurrence(s, checkedAt, timeZone);
  while (next && next <= now) {
    due = next;
    next = nextOccurrence(s, next, timeZone);
  }
  return due;
}

/** The calendar day of an instant in a time zone, as numbers. */
export function localDay(at: Date, timeZone: string): { year: number; month: number; day: number } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day') };
}

/** "YYYY-MM-DD" of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  const { year, month, day } = localDay(at, timeZone);
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * The period a digest sent at an instant belongs to: its month ("2026-12") or, for a weekly
 * schedule, its ISO week ("2026-S49"). A commune receives one digest per period, whoever sends it.
 */
export function periodOf(at: Date, frequency: Frequency, timeZone: string): string {
  const { year, month, day } = localDay(at, timeZone);
  if (frequency === 'weekly') {
    const date = new Date(year, month - 1, day);
    return `${getISOWeekYear(date)}-S${String(getISOWeek(date)).padStart(2, '0')}`;
  }
  return `${year}-${String(month).padStart(2, '0')}`;
}

const MONTHS = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];

/**
 * "décembre 2026", "semaine du 30 novembre au 6 décembre 2026", or the label itself for a period named by hand:
 * readers know dates, not ISO week numbers.
 */
export function periodLabel(period: string): string {
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (month && Number(month[2]) >= 1 && Number(month[2]) <= 12) return `${MONTHS[Number(month[2]) - 1]} ${month[1]}`;
  const week = /^(\d{4})-S(\d{2})$/.exec(period);
  if (week && Number(week[2]) >= 1 && Number(week[2]) <= 53) {
    // ISO week 1 is the one holding 4 January; its Monday starts the count.
    const jan4 = Date.UTC(Number(week[1]), 0, 4);
    const monday = new Date(jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY + (Number(week[2]) - 1) * 7 * DAY);
    const sunday = new Date(monday.getTime() + 6 * DAY);
    const end = `${sunday.getUTCDate()} ${MONTHS[sunday.getUTCMonth()]} ${sunday.getUTCFullYear()}`;
    if (monday.getUTCFullYear() !== sunday.getUTCFullYear()) return `semaine du ${monday.getUTCDate()} ${MONTHS[monday.getUTCMonth()]} ${monday.getUTCFullYear()} au ${end}`;
    if (monday.getUTCMonth() !== sunday.getUTCMonth()) return `semaine du ${monday.getUTCDate()} ${MONTHS[monday.getUTCMonth()]} au ${end}`;
    return `semaine du ${monday.getUTCDate()} au ${end}`;
  }
  return period;
}

const DAY = 86_400_000;

/** A period typed by an operator: a month, an ISO week or a short label of letters, digits and dashes. */
export const PERIOD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
