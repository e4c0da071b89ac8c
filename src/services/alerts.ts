import { format, parseISO } from 'date-fns';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { getMailSettings } from '../data/mail-settings';
import { enqueue, type NewMessage } from '../data/outbox';
import { localDate } from '../domain/schedule';
import { STATUS_LABELS, type Status } from '../domain/statuses';
import { renderMail } from '../mail/render';

const dmy = (d: string) => format(parseISO(d), 'dd/MM/yyyy');

/** Active members of the fiche's owner teams (commune agents never: they are not in teams of the Métropole). */
async function recipientsOf(db: Knex, ficheId: number) {
  return db('team_members').join('users', 'users.id', 'team_members.user_id')
    .whereIn('team_members.team_id', db('fiche_owners').where('fiche_id', ficheId).select('team_id'))
    .where('users.active', true).whereNotIn('users.role', ['commune', 'commune_admin'])
    .distinct('users.id', 'users.email', 'users.name').orderBy('users.id');
}

async function alertMessages(db: Knex, config: MailConfig, alertId: number, round: number, ficheId: number): Promise<NewMessage[]> {
  const fiche = await db('fiches').where('id', ficheId).first();
  const steps = await db('steps').where('fiche_id', ficheId).whereNot('status', 'fait').orderBy('position');
  const alert = await db('alerts').where('id', alertId).first();
  const plan = await db('plans').where('id', fiche.plan_id).first();
  const data = {
    organisation: plan?.organisation ?? '',
    // fiche numbers are per homologation: the message names it
    planTitle: plan?.title ?? 'Alerte de retard',
    fiche: { number: fiche.number, title: fiche.title, status: STATUS_LABELS[fiche.status as Status] },
    targetDate: dmy(alert.target_date),
    steps: steps.map((s: { position: number; label: string; status: Status }) => ({ position: s.position, label: s.label, status: STATUS_LABELS[s.status] })),
    reminder: round > 0,
    ackUrl: `${config.publicUrl}/alertes/${alertId}`,
  };
  const { html, text } = await renderMail('alert', data);
  const subject = `${round > 0 ? 'Rappel : ' : ''}fiche n°${fiche.number} en retard (date cible du ${data.targetDate} dépassée) — ${data.planTitle}`;
  return (await recipientsOf(db, ficheId)).map((u: { id: number; email: string; name: string }) => ({
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

  const open = await db('alerts').join('fiches', 'fiches.id', 'alerts.fiche_id').whereNull('alerts.resolved_at')
    .select('alerts.id', 'alerts.target_date', 'fiches.status', 'fiches.target_date as fiche_date');
  for (const a of open) {
    if (a.status === 'fait' || a.fiche_date !== a.target_date) {
      result.resolved += await db('alerts').where('id', a.id).whereNull('resolved_at').update({ resolved_at: at });
    }
  }
  if (!settings.alertsEnabled) return result;

  // an archived homologation is kept as it was: no new alert on its fiches
  const inForce = db('plans').whereNull('archived_at').select('id');
  const late = await db('fiches').whereNot('status', 'fait').whereNotNull('target_date').where('target_date', '<', today)
    .whereIn('plan_id', inForce)
    // a fiche carried over to a renewal is followed in the homologation still in force while the fiche it continues
    // is unfinished there: one alert, not two for the same work (once that one is archived, the carried fiche alerts)
    .whereNotExists(db('fiches as origin').select(db.raw('1')).whereRaw('origin.id = fiches.carried_from_id')
      .whereNot('origin.status', 'fait').whereIn('origin.plan_id', inForce))
    .whereNotExists(db('alerts').select(db.raw('1')).whereRaw('alerts.fiche_id = fiches.id').whereRaw('alerts.target_date = fiches.target_date'))
    .select('id', 'target_date');
  for (const f of late) {
    await db.transaction(async (trx) => {
      const inserted = await trx('alerts').insert({ fiche_id: f.id, target_date: f.target_date, created_at: at, last_sent_at: at })
        .onConflict(['fiche_id', 'target_date']).ignore().returning('id');
      if (!inserted.length) return;
      const id = Number(typeof inserted[0] === 'object' ? inserted[0].id : inserted[0]);
      await enqueue(trx, await alertMessages(trx, config, id, 0, Number(f.id)), now);
      result.created++;
    });
  }

  const due = new Date(now.getTime() - settings.alertReminderDays * 86_400_000).toISOString();
  const toRemind = await db('alerts').whereNull('resolved_at').whereNull('acknowledged_at').where('last_sent_at', '<=', due).select('id', 'fiche_id', 'reminders');
  for (const a of toRemind) {
    await db.transaction(async (trx) => {
      const round = Number(a.reminders) + 1;
      const n = await trx('alerts').where({ id: a.id, reminders: a.reminders }).whereNull('acknowledged_at').update({ reminders: round, last_sent_at: at });
      if (n !== 1) return;
      await enqueue(trx, await alertMessages(trx, config, Number(a.id), round, Number(a.fiche_id)), now);
      result.reminded++;
    });
  }
  return result;
}

