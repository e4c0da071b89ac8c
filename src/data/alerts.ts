import type { Knex } from 'knex';
import { isCommuneRole, type Role } from '../domain/roles';
import { type AuditActor, recordAudit } from './audit';
import { reads } from './reads';

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
  return db.transaction(async (trx) => {
    const n = await trx('alerts').where('id', id).whereNull('acknowledged_at')
      .update({ acknowledged_at: at.toISOString(), acknowledged_by: actor.id, acknowledged_by_name: actor.name });
    if (n === 1) await recordAudit(trx, { actor, at, action: 'update', entityType: 'alert', entityId: id, summary: 'Alerte de retard acquittée', after: { acknowledgedAt: at.toISOString() } });
    return n === 1;
  });
}
