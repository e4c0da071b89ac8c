import type { Knex } from 'knex';
import { DEFAULT_REMINDER_MONTHS, parseReminderMonths } from '../domain/homologation';
import type { DigestSchedule, Frequency, Week } from '../domain/schedule';
import type { AuditActor } from './audit';
import { auditedWrite } from './write';

export interface MailSettings {
  schedule: DigestSchedule;
  checkedAt: string | null;
  alertsEnabled: boolean;
  alertReminderDays: number;
  /** Months before a homologation's end date when its expiry reminders go (0 = the day itself), largest first. */
  expiryReminderMonths: number[];
  updatedAt: string | null;
}

export async function getMailSettings(db: Knex): Promise<MailSettings> {
  const r = await db('mail_settings').where('id', 1).first();
  return {
    schedule: { frequency: r.digest_frequency as Frequency, weekday: Number(r.digest_weekday), week: String(r.digest_week) as Week, time: String(r.digest_time) },
    checkedAt: r.digest_checked_at ?? null,
    alertsEnabled: Boolean(r.alerts_enabled),
    alertReminderDays: Number(r.alert_reminder_days),
    expiryReminderMonths: parseReminderMonths(String(r.expiry_reminder_months ?? '')) ?? [...DEFAULT_REMINDER_MONTHS],
    updatedAt: r.updated_at ?? null,
  };
}

/** Saves the admin's settings. The schedule starts from now: past occurrences are not caught up. */
export async function saveMailSettings(
  db: Knex, input: Omit<MailSettings, 'checkedAt' | 'updatedAt'>, actor: AuditActor, at: Date,
): Promise<void> {
  await auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await getMailSettings(trx);
    await trx('mail_settings').where('id', 1).update({
      digest_frequency: input.schedule.frequency, digest_weekday: input.schedule.weekday, digest_week: input.schedule.week,
      digest_time: input.schedule.time, digest_checked_at: at.toISOString(), alerts_enabled: input.alertsEnabled,
      alert_reminder_days: input.alertReminderDays, expiry_reminder_months: input.expiryReminderMonths.join(','), updated_at: at.toISOString(),
    });
    const strip = ({ checkedAt: _c, updatedAt: _u, ...rest }: MailSettings) => rest;
    await audit({ action: 'update', entityType: 'mail_settings', entityId: 1, summary: 'Envois automatiques', before: strip(before), after: strip(await getMailSettings(trx)) });
  });
}

/**
 * Moves the scheduler's mark from `previous` to `now`, unless another process moved it first:
 * of several servers over one database, one only acts on an occurrence.
 */
export async function advanceCheck(db: Knex, previous: string | null, now: Date): Promise<boolean> {
  const q = db('mail_settings').where('id', 1);
  if (previous === null) q.whereNull('digest_checked_at');
  else q.where('digest_checked_at', previous);
  return (await q.update({ digest_checked_at: now.toISOString() })) === 1;
}
