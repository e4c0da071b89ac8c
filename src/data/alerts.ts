import type { Knex } from 'knex';
import { isCommuneRole, type Role } from '../domain/roles';
import type { AuditActor } from './audit';
import { reads } from './reads';
import { auditedWrite, insertedId } from './write';

export interface Alert {
  id: number;
  ficheId: number;
  ficheNumber: number;
  ficheTitle: string;
  planId: number;
  planTitle: string;
  targetDate: string;
  createdAt: string;
  lastSentAt: string | null;
  reminders: number;
  acknowledgedAt: string | null;
  acknowledgedByName: string | null;
  resolvedAt: string | null;
  teams: string;
}

/** Alerts, newest first; `open` keeps the unacknowledged, unresolved ones. */
export async function listAlerts(db: Knex, filter: { open?: boolean; limit?: number; id?: number; planId?: number } = {}): Promise<Alert[]> {
  const q = db('alerts').join('fiches', 'fiches.id', 'alerts.fiche_id').join('plans', 'plans.id', 'fiches.plan_id')
    .select('alerts.*', 'fiches.number as fiche_number', 'fiches.title as fiche_title', 'fiches.plan_id', 'plans.title as plan_title')
    .orderBy('alerts.created_at', 'desc').limit(filter.limit ?? 200);
  if (filter.open) q.whereNull('alerts.acknowledged_at').whereNull('alerts.resolved_at');
  if (filter.id !== undefined) q.where('alerts.id', filter.id);
  if (filter.planId !== undefined) q.where('fiches.plan_id', filter.planId);
  const rows = await q;
  // always two statements, whatever the number of alerts
  const teams = await db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id').whereIn('fiche_owners.fiche_id', rows.map((r) => r.fiche_id))
    .distinct('fiche_owners.fiche_id', 'teams.name').orderBy('teams.name');
  return rows.map((r) => ({
    id: Number(r.id), ficheId: Number(r.fiche_id), ficheNumber: Number(r.fiche_number), ficheTitle: String(r.fiche_title),
    planId: Number(r.plan_id), planTitle: String(r.plan_title),
    targetDate: String(r.target_date), createdAt: String(r.created_at), lastSentAt: r.last_sent_at ?? null, reminders: Number(r.reminders),
    acknowledgedAt: r.acknowledged_at ?? null, acknowledgedByName: r.acknowledged_by_name ?? null, resolvedAt: r.resolved_at ?? null,
    teams: teams.filter((t) => Number(t.fiche_id) === Number(r.fiche_id)).map((t) => t.name).join(', '),
  }));
}

/** How many alerts there are, open ones only if asked, of one homologation if given. */
export async function countAlerts(db: Knex, filter: { open?: boolean; planId?: number } = {}): Promise<number> {
  const q = db('alerts').join('fiches', 'fiches.id', 'alerts.fiche_id');
  if (filter.open) q.whereNull('alerts.acknowledged_at').whereNull('alerts.resolved_at');
  if (filter.planId !== undefined) q.where('fiches.plan_id', filter.planId);
  const row = await q.count({ n: '*' }).first() as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

export async function getAlert(db: Knex, id: number): Promise<Alert | undefined> {
  return (await listAlerts(db, { id, limit: 1 }))[0];
}

/**
 * May this user acknowledge the alert: an admin; whoever edits the fiche's homologation (listed there as project
 * team, or an editor not listed there); or a member of one of the fiche's owner teams. A global editor listed as a
 * committee member (viewer) of the homologation does not, unless their team owns the fiche.
 */
export async function canAcknowledge(db: Knex, user: { id: number; role: string }, alert: Pick<Alert, 'ficheId'>): Promise<boolean> {
  if (user.role === 'admin') return true;
  if (isCommuneRole(user.role as Role)) return false;
  const planOfFiche = db('fiches').where('id', alert.ficheId).select('plan_id');
  const [member, team] = await reads(db,
    () => db('plan_members').where('user_id', user.id).whereIn('plan_id', planOfFiche).select('role').first(),
    () => db('team_members').where('user_id', user.id).whereIn('team_id', db('fiche_owners').where('fiche_id', alert.ficheId).select('team_id')).first(),
  );
  const edits = member ? member.role === 'editor' : user.role === 'editor';
  return edits || Boolean(team);
}

/** Records who acknowledged the alert; it is not sent again. False if it already was. */
export async function acknowledge(db: Knex, id: number, actor: AuditActor & { id: number }, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const n = await trx('alerts').where('id', id).whereNull('acknowledged_at')
      .update({ acknowledged_at: at.toISOString(), acknowledged_by: actor.id, acknowledged_by_name: actor.name });
    if (n === 1) await audit({ action: 'update', entityType: 'alert', entityId: id, summary: 'Alerte de retard acquittée', after: { acknowledgedAt: at.toISOString() } });
    return n === 1;
  });
}

/** Active members of the fiche's owner teams (commune agents never: they are not in teams of the Métropole). */
export async function alertRecipients(db: Knex, ficheId: number): Promise<{ id: number; email: string; name: string }[]> {
  const rows = await db('team_members').join('users', 'users.id', 'team_members.user_id')
    .whereIn('team_members.team_id', db('fiche_owners').where('fiche_id', ficheId).select('team_id'))
    .where('users.active', true).whereNotIn('users.role', ['commune', 'commune_admin'])
    .distinct('users.id', 'users.email', 'users.name').orderBy('users.id');
  return rows.map((u) => ({ id: Number(u.id), email: String(u.email), name: String(u.name) }));
}

/** What an alert's message says: the fiche, its unfinished steps, the alert's target date and the homologation. */
export interface AlertSubject {
  fiche: { number: number; title: string; status: string };
  steps: { position: number; label: string; status: string }[];
  targetDate: string;
  plan: { title: string; organisation: string } | undefined;
}

export async function alertSubject(db: Knex, alertId: number, ficheId: number): Promise<AlertSubject> {
  const fiche = await db('fiches').where('id', ficheId).first();
  const steps = await db('steps').where('fiche_id', ficheId).whereNot('status', 'fait').orderBy('position');
  const alert = await db('alerts').where('id', alertId).first();
  const plan = await db('plans').where('id', fiche.plan_id).first();
  return {
    fiche: { number: fiche.number, title: fiche.title, status: fiche.status },
    steps: steps.map((s: { position: number; label: string; status: string }) => ({ position: s.position, label: s.label, status: s.status })),
    targetDate: alert.target_date,
    plan: plan ? { title: plan.title, organisation: plan.organisation } : undefined,
  };
}

/** The alerts not resolved yet, with their fiche's status and current target date. */
export async function unresolvedAlerts(db: Knex): Promise<{ id: number; targetDate: string; ficheStatus: string; ficheDate: string | null }[]> {
  const rows = await db('alerts').join('fiches', 'fiches.id', 'alerts.fiche_id').whereNull('alerts.resolved_at')
    .select('alerts.id', 'alerts.target_date', 'fiches.status', 'fiches.target_date as fiche_date');
  return rows.map((a) => ({ id: Number(a.id), targetDate: a.target_date, ficheStatus: a.status, ficheDate: a.fiche_date }));
}

/** Closes the alert unless another scan already did; the number of alerts closed (0 or 1). */
export async function resolveAlert(db: Knex, id: number, at: string): Promise<number> {
  return db('alerts').where('id', id).whereNull('resolved_at').update({ resolved_at: at });
}

/** Fiches of homologations in force past their target date (before `today`) that have no alert for that date yet. */
export async function lateFichesWithoutAlert(db: Knex, today: string): Promise<{ id: number; targetDate: string }[]> {
  // an archived homologation is kept as it was: no new alert on its fiches
  const inForce = db('plans').whereNull('archived_at').select('id');
  const rows = await db('fiches').whereNot('status', 'fait').whereNotNull('target_date').where('target_date', '<', today)
    .whereIn('plan_id', inForce)
    // a fiche carried over to a renewal is followed in the homologation still in force while the fiche it continues
    // is unfinished there: one alert, not two for the same work (once that one is archived, the carried fiche alerts)
    .whereNotExists(db('fiches as origin').select(db.raw('1')).whereRaw('origin.id = fiches.carried_from_id')
      .whereNot('origin.status', 'fait').whereIn('origin.plan_id', inForce))
    .whereNotExists(db('alerts').select(db.raw('1')).whereRaw('alerts.fiche_id = fiches.id').whereRaw('alerts.target_date = fiches.target_date'))
    .select('id', 'target_date');
  return rows.map((f) => ({ id: Number(f.id), targetDate: f.target_date }));
}

/** Inserts the fiche's alert for this target date; null when one exists already (another scan raised it). */
export async function insertAlert(db: Knex, alert: { ficheId: number; targetDate: string }, at: string): Promise<number | null> {
  const inserted = await db('alerts').insert({ fiche_id: alert.ficheId, target_date: alert.targetDate, created_at: at, last_sent_at: at })
    .onConflict(['fiche_id', 'target_date']).ignore().returning('id');
  return inserted.length ? insertedId(inserted) : null;
}

/** Unacknowledged, unresolved alerts last sent at or before `due`. */
export async function alertsDueForReminder(db: Knex, due: string): Promise<{ id: number; ficheId: number; reminders: number }[]> {
  const rows = await db('alerts').whereNull('resolved_at').whereNull('acknowledged_at').where('last_sent_at', '<=', due).select('id', 'fiche_id', 'reminders');
  return rows.map((a) => ({ id: Number(a.id), ficheId: Number(a.fiche_id), reminders: Number(a.reminders) }));
}

/**
 * Moves the alert to reminder round `round` if it is still at `from` and unacknowledged: false when another scan
 * (or an acknowledgement) got there first.
 */
export async function markReminderRound(db: Knex, id: number, from: number, round: number, at: string): Promise<boolean> {
  const n = await db('alerts').where({ id, reminders: from }).whereNull('acknowledged_at').update({ reminders: round, last_sent_at: at });
  return n === 1;
}
