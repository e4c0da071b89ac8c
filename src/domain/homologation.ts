import { addMonths } from 'date-fns/addMonths';
import { differenceInCalendarDays } from 'date-fns/differenceInCalendarDays';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Role } from './roles';
import { isCommuneRole } from './roles';

/** What the authority decided at the signature meeting. */
export const OUTCOMES = ['homologuee', 'sous_conditions', 'provisoire', 'refusee'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OUTCOME_LABELS: Record<Outcome, string> = {
  homologuee: 'Homologuée',
  sous_conditions: 'Homologuée sous conditions',
  provisoire: 'Homologation provisoire',
  refusee: 'Homologation refusée',
};

/** The longest validity of a decision (RGS: at most three years). */
export const MAX_DURATION_MONTHS = 36;

/** The life cycle of a homologation, as shown on its page and on the home page. */
export const STATES = ['preparation', 'en_cours', 'refusee', 'en_vigueur', 'expire_bientot', 'expiree', 'archivee'] as const;
export type HomologationState = (typeof STATES)[number];
export const STATE_LABELS: Record<HomologationState, string> = {
  preparation: 'En préparation',
  en_cours: "Plan d'action en cours",
  refusee: 'Décision : refusée',
  en_vigueur: 'En vigueur',
  expire_bientot: 'Expire bientôt',
  expiree: 'Expirée',
  archivee: 'Archivée',
};
/** DSFR badge variant of each state. */
export const STATE_BADGES: Record<HomologationState, string> = {
  preparation: 'fr-badge--info',
  en_cours: 'fr-badge--new',
  refusee: 'fr-badge--error',
  en_vigueur: 'fr-badge--success',
  expire_bientot: 'fr-badge--warning',
  expiree: 'fr-badge--error',
  archivee: '',
};

export interface DecisionFacts { outcome: Outcome; decidedOn: string; endsOn: string | null }

export interface StateFacts {
  archivedAt: string | null;
  ficheCount: number;
  /** The latest decision recorded, if any. */
  decision: DecisionFacts | null;
}

/** Default reminder thresholds: 6, 3 and 1 month before the end date, and the day itself. */
export const DEFAULT_REMINDER_MONTHS = [6, 3, 1, 0] as const;

/**
 * The state on a given day. "Expire bientôt" starts with the earliest reminder (by default six months before
 * the end date); "expirée" the day after the end date (the decision is valid up to and including it).
 */
export function stateOf(facts: StateFacts, today: string, reminderMonths: readonly number[] = DEFAULT_REMINDER_MONTHS): HomologationState {
  if (facts.archivedAt) return 'archivee';
  const d = facts.decision;
  if (!d) return facts.ficheCount > 0 ? 'en_cours' : 'preparation';
  if (d.outcome === 'refusee') return 'refusee';
  if (!d.endsOn) return 'en_vigueur';
  if (today > d.endsOn) return 'expiree';
  const soonest = Math.max(0, ...reminderMonths);
  if (today >= format(addMonths(parseISO(d.endsOn), -soonest), 'yyyy-MM-dd')) return 'expire_bientot';
  return 'en_vigueur';
}

/** A homologation that can no longer change: archived, or past its end date (renewing it is still possible). */
export function isReadOnly(state: HomologationState): boolean {
  return state === 'archivee' || state === 'expiree';
}

/** The end date of a decision: its date plus its duration in months. */
export function endDateOf(decidedOn: string, months: number): string {
  return format(addMonths(parseISO(decidedOn), months), 'yyyy-MM-dd');
}

/** Days from today to the end date (negative once past). */
export function daysLeft(endsOn: string, today: string): number {
  return differenceInCalendarDays(parseISO(endsOn), parseISO(today));
}

/** "expire dans 74 jours", "expire demain", "expire aujourd'hui", "expirée depuis 3 jours". */
export function validityPhrase(endsOn: string, today: string): string {
  const n = daysLeft(endsOn, today);
  if (n > 1) return `expire dans ${n} jours`;
  if (n === 1) return 'expire demain';
  if (n === 0) return "expire aujourd'hui";
  return n === -1 ? 'expirée depuis hier' : `expirée depuis ${-n} jours`;
}

/** The date a reminder threshold falls on. */
export function reminderDate(endsOn: string, monthsBefore: number): string {
  return format(addMonths(parseISO(endsOn), -monthsBefore), 'yyyy-MM-dd');
}

/**
 * Reminder thresholds read from the admin's setting ("6,3,1,0"): whole months 0 to 36, distinct, largest first.
 * Returns null when the text is not such a list.
 */
export function parseReminderMonths(text: string): number[] | null {
  const parts = text.split(/[,;\s]+/).filter(Boolean);
  if (!parts.length || parts.length > 8) return null;
  const values = parts.map((p) => (/^\d{1,2}$/.test(p) ? Number(p) : Number.NaN));
  if (values.some((v) => !Number.isInteger(v) || v < 0 || v > MAX_DURATION_MONTHS)) return null;
  return [...new Set(values)].sort((a, b) => b - a);
}

export const MEMBER_ROLES = ['editor', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];
export const MEMBER_ROLE_LABELS: Record<MemberRole, string> = { editor: 'Équipe projet (édition)', viewer: 'Comité (lecture et décision)' };

/**
 * What a user may do in one homologation. An administrator edits everything; a commune's staff read what touches
 * their instances; anyone else takes the role they are given as a member, or their global role if not listed.
 */
export function accessIn(user: { role: Role }, memberRole: MemberRole | null): { read: boolean; edit: boolean } {
  if (user.role === 'admin') return { read: true, edit: true };
  if (isCommuneRole(user.role)) return { read: true, edit: false };
  const role = memberRole ?? (user.role === 'editor' ? 'editor' : 'viewer');
  return { read: true, edit: role === 'editor' };
}
