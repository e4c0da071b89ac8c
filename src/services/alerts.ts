import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import {
  alertRecipients, alertsDueForReminder, alertSubject, insertAlert, lateFichesWithoutAlert, markReminderRound, resolveAlert, unresolvedAlerts,
} from '../data/alerts';
import { getMailSettings } from '../data/mail-settings';
import { enqueue, type NewMessage } from '../data/outbox';
import { localDate } from '../domain/schedule';
import { STATUS_LABELS, type Status } from '../domain/statuses';
import { renderMail } from '../mail/render';
import { readIdentity } from '../data/identity';
import { mailBrand } from '../domain/identity';

const dmy = (d: string) => format(parseISO(d), 'dd/MM/yyyy');

async function alertMessages(db: Knex, config: MailConfig, alertId: number, round: number, ficheId: number): Promise<NewMessage[]> {
  const { fiche, steps, targetDate, plan } = await alertSubject(db, alertId, ficheId);
  const data = {
    organisation: plan?.organisation ?? '',
    // fiche numbers are per homologation: the message names it
    planTitle: plan?.title ?? 'Alerte de retard',
    fiche: { number: fiche.number, title: fiche.title, status: STATUS_LABELS[fiche.status as Status] },
    targetDate: dmy(targetDate),
    steps: steps.map((s) => ({ position: s.position, label: s.label, status: STATUS_LABELS[s.status as Status] })),
    reminder: round > 0,
    ackUrl: `${config.publicUrl}/alertes/${alertId}`,
  };
  const { html, text } = await renderMail('alert', data, mailBrand(await readIdentity(db)));
  const subject = `${round > 0 ? 'Rappel : ' : ''}fiche n°${fiche.number} en retard (date cible du ${data.targetDate} dépassée) — ${data.planTitle}`;
  return (await alertRecipients(db, ficheId)).map((u) => ({
    kind: round > 0 ? 'reminder' as const : 'alert' as const, dedupKey: `alert:${alertId}:${round}:${u.id}`, alertId,
    toAddress: u.email, toName: u.name, subject, text, html,
  }));
}

export interface AlertScan { created: number; reminded: number; resolved: number }

/**
 * Raises an alert for each fiche past its target date (its unfinished steps share that date), e-mails
 * the owner teams' members through the outbox, reminds unacknowledged alerts after the set delay, and
 * closes alerts whose fiche is done or was given a new date. Every step is a conditional write,
 * so two servers scanning at once send nothing twice.
 */
export async function scanAlerts(db: Knex, config: MailConfig, now: Date): Promise<AlertScan> {
  const result: AlertScan = { created: 0, reminded: 0, resolved: 0 };
  const settings = await getMailSettings(db);
  const today = localDate(now, config.timeZone);
  const at = now.toISOString();

  for (const a of await unresolvedAlerts(db)) {
    if (a.ficheStatus === 'fait' || a.ficheDate !== a.targetDate) result.resolved += await resolveAlert(db, a.id, at);
  }
  if (!settings.alertsEnabled) return result;

  for (const f of await lateFichesWithoutAlert(db, today)) {
    await db.transaction(async (trx) => {
      const id = await insertAlert(trx, { ficheId: f.id, targetDate: f.targetDate }, at);
      if (id === null) return;
      await enqueue(trx, await alertMessages(trx, config, id, 0, f.id), now);
      result.created++;
    });
  }

  const due = new Date(now.getTime() - settings.alertReminderDays * 86_400_000).toISOString();
  for (const a of await alertsDueForReminder(db, due)) {
    await db.transaction(async (trx) => {
      const round = a.reminders + 1;
      if (!(await markReminderRound(trx, a.id, a.reminders, round, at))) return;
      await enqueue(trx, await alertMessages(trx, config, a.id, round, a.ficheId), now);
      result.reminded++;
    });
  }
  return result;
}

