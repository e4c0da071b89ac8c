import { z } from 'zod';
import { parseReminderMonths } from '../../domain/homologation';
import { FREQUENCIES, PERIOD_PATTERN, WEEKS } from '../../domain/schedule';
import { type FieldErrors, parseForm, str } from './fields';

export const EXPIRY_MONTHS_ERROR =
  'Saisissez des nombres entiers de mois entre 0 et 36, séparés par des virgules (par exemple 6,3,1,0 ; 0 = le jour de la fin de validité).';

/** The digests' schedule, the late-fiche alerts and the thresholds of the expiry reminders. */
export const mailSettingsForm = z.object({
  frequency: z.enum(FREQUENCIES, { error: 'Choisissez une fréquence dans la liste.' }),
  weekday: z.string().regex(/^[1-7]$/, { error: 'Choisissez un jour de la semaine.' }).transform(Number),
  week: z.enum(WEEKS, { error: 'Choisissez la semaine du mois.' }),
  time: z.string().trim().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: "Saisissez une heure, par exemple 09:00." }),
  // a checkbox: sent as "on" when ticked, absent when not
  alertsEnabled: z.string().transform((v) => v === 'on'),
  alertReminderDays: z.string().trim().regex(/^\d{1,3}$/, { error: 'Saisissez un nombre de jours entier.' }).transform(Number)
    .refine((n) => n >= 1 && n <= 90, { error: 'Le délai de rappel est compris entre 1 et 90 jours.' }),
  expiryReminderMonths: z.string().trim().transform((v, c) => {
    const months = parseReminderMonths(v);
    if (!months) {
      c.addIssue({ code: 'custom', message: EXPIRY_MONTHS_ERROR });
      return z.NEVER;
    }
    return months;
  }),
});

/** Reads the settings; a form without the thresholds' field (a page older than the setting) keeps `currentMonths`. */
export function readMailSettingsForm(body: unknown, currentMonths: readonly number[]) {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return parseForm(mailSettingsForm, source.expiryReminderMonths === undefined ? { ...source, expiryReminderMonths: currentMonths.join(',') } : source);
}

export type DigestSendValues = { communeId: string; period: string };

export type DigestSendForm =
  | { ok: true; data: { communeIds: number[] | 'all'; period: string }; values: DigestSendValues }
  | { ok: false; errors: FieldErrors; values: DigestSendValues };

/** Sending digests by hand: one commune of the list or all of them ("all"), and the period they are for. */
export function readDigestSendForm(body: unknown, communeIds: readonly number[]): DigestSendForm {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const values = { communeId: str(source.communeId), period: str(source.period).trim() };
  const errors: FieldErrors = {};
  const chosen = values.communeId === 'all' ? 'all' as const : communeIds.find((id) => String(id) === values.communeId);
  if (chosen === undefined) errors.communeId = 'Choisissez une commune dans la liste, ou toutes les communes.';
  if (!PERIOD_PATTERN.test(values.period)) errors.period = 'Saisissez la période : lettres, chiffres et tirets (par exemple 2026-12).';
  if (chosen === undefined || Object.keys(errors).length) return { ok: false, errors, values };
  return { ok: true, data: { communeIds: chosen === 'all' ? 'all' : [chosen], period: values.period }, values };
}
