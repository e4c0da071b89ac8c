import type { Knex } from 'knex';
import { unusablePasswordHash } from './accounts';
import { type AuditActor, recordAudit } from './audit';
import { createUser, normaliseEmail } from './users';
import { auditedWrite, Refused } from './write';

/** The account an identity of the provider (issuer, subject) is linked to, if any. */
export async function linkedUserId(db: Knex, issuer: string, subject: string): Promise<number | null> {
  const row = await db('user_identities').where({ issuer, subject }).first('user_id');
  return row ? Number(row.user_id) : null;
}

/**
 * Links the provider's identity to an account, once: the first link of an identity (or of an account with this
 * provider) wins, a concurrent second one changes nothing. Returns the account the identity is linked to afterwards,
 * or null when the account is already linked to another identity of this provider.
 */
export async function linkIdentity(db: Knex, userId: number, issuer: string, subject: string, at: Date): Promise<number | null> {
  await db('user_identities').insert({ user_id: userId, issuer, subject, created_at: at.toISOString(), last_used_at: at.toISOString() })
    .onConflict().ignore();
  return linkedUserId(db, issuer, subject);
}

export async function identityUsed(db: Knex, issuer: string, subject: string, at: Date): Promise<void> {
  await db('user_identities').where({ issuer, subject }).update({ last_used_at: at.toISOString() });
}

/** A user's identities at providers: where, since when, last used. */
export async function identitiesOf(db: Knex, userId: number): Promise<{ issuer: string; createdAt: string; lastUsedAt: string | null }[]> {
  const rows = await db('user_identities').where('user_id', userId).select('issuer', 'created_at', 'last_used_at').orderBy('id');
  return rows.map((r: Record<string, unknown>) => ({ issuer: String(r.issuer), createdAt: String(r.created_at), lastUsedAt: (r.last_used_at as string | null) ?? null }));
}

/** The commune that lets an unknown agent ask for access: its SIRET is the agent's, or its agents' domain the address's. */
export async function communeAcceptingRequests(db: Knex, agent: { siret: string | null; email: string }): Promise<{ id: number; name: string } | null> {
  const domain = normaliseEmail(agent.email).split('@')[1] ?? '';
  const q = db('communes').where('access_requests', true).where((w) => {
    w.where('agent_domain', domain);
    if (agent.siret) w.orWhere('siret', agent.siret);
  });
  const row = await q.orderBy('id').first('id', 'name');
  return row ? { id: Number(row.id), name: String(row.name) } : null;
}

export interface AccessRequest {
  id: number;
  communeId: number;
  issuer: string;
  subject: string;
  email: string;
  name: string;
  siret: string | null;
  status: 'pending' | 'accepted' | 'refused';
  createdAt: string;
  decidedAt: string | null;
}

const requestOf = (r: Record<string, unknown>): AccessRequest => ({
  id: Number(r.id), communeId: Number(r.commune_id), issuer: String(r.issuer), subject: String(r.subject), email: String(r.email), name: String(r.name),
  siret: (r.siret as string | null) ?? null, status: r.status as AccessRequest['status'], createdAt: String(r.created_at), decidedAt: (r.decided_at as string | null) ?? null,
});

/**
 * Records an unknown agent's request for their commune (once per identity: asking again while it waits changes
 * nothing; after a refusal it waits again). Returns whether it is a new request.
 */
export async function askAccess(
  db: Knex, input: { communeId: number; issuer: string; subject: string; email: string; name: string; siret: string | null }, at: Date,
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const inserted = await trx('access_requests').insert({
      commune_id: input.communeId, issuer: input.issuer, subject: input.subject, email: normaliseEmail(input.email), name: input.name.slice(0, 150),
      siret: input.siret, status: 'pending', created_at: at.toISOString(),
    }).onConflict(['issuer', 'subject']).ignore().returning('id');
    let fresh = inserted.length > 0;
    if (!fresh) {
      // refused before: asked again, it waits again for the commune's administrator
      fresh = (await trx('access_requests').where({ issuer: input.issuer, subject: input.subject, status: 'refused' })
        .update({ status: 'pending', commune_id: input.communeId, created_at: at.toISOString(), decided_at: null, decided_by: null })) > 0;
    }
    if (fresh) {
      await recordAudit(trx, {
        actor: { id: null, name: input.name, email: normaliseEmail(input.email) }, at, action: 'access_request', entityType: 'commune', entityId: input.communeId,
        summary: `Demande d'accès de ${normaliseEmail(input.email)} (sujet ${input.subject} chez ${input.issuer})`,
      });
    }
    return fresh;
  });
}

export async function accessRequests(db: Knex, communeId: number, status: AccessRequest['status'] = 'pending'): Promise<AccessRequest[]> {
  return (await db('access_requests').where({ commune_id: communeId, status }).orderBy('id')).map(requestOf);
}

export type Decision = { ok: true; userId: number | null } | { ok: false; reason: 'not_found' | 'forbidden' | 'decided' | 'duplicate' };

/**
 * The commune's administrator decides on a waiting request of their commune. Accepted: an account with the role given
 * (no local password: the agent signs in through the provider), made as every account is (createUser), linked to the
 * identity that asked. The request changes only while it waits (a guarded update): two decisions at once make one; an
 * account created meanwhile with the same address rolls the decision back.
 */
export async function decideAccess(
  db: Knex, input: { requestId: number; communeId: number; accept: boolean; role: 'commune' | 'commune_admin' }, actor: AuditActor & { id: number }, at: Date,
): Promise<Decision> {
  return auditedWrite<Decision, Decision>(db, { actor, at }, async (trx, audit) => {
    const row = await trx('access_requests').where({ id: input.requestId }).first();
    if (!row) return { ok: false, reason: 'not_found' };
    // another commune's request is not this administrator's to decide
    if (Number(row.commune_id) !== input.communeId) return { ok: false, reason: 'forbidden' };
    const moved = await trx('access_requests').where({ id: input.requestId, status: 'pending' })
      .update({ status: input.accept ? 'accepted' : 'refused', decided_at: at.toISOString(), decided_by: actor.id });
    if (!moved) return { ok: false, reason: 'decided' };
    const req = requestOf(row);
    if (!input.accept) {
      await audit({ action: 'access_request', entityType: 'commune', entityId: input.communeId, summary: `Demande d'accès de ${req.email} refusée` });
      return { ok: true, userId: null };
    }
    const created = await createUser(trx, {
      email: req.email, name: req.name, role: input.role, communeId: input.communeId, active: true, passwordHash: unusablePasswordHash(),
    }, actor, at);
    if (!created.ok) throw new Refused<Decision>({ ok: false, reason: 'duplicate' });
    await trx('user_identities').insert({ user_id: created.id, issuer: req.issuer, subject: req.subject, created_at: at.toISOString(), last_used_at: null });
    await audit({
      action: 'access_request', entityType: 'user', entityId: created.id,
      summary: `Demande d'accès de ${req.email} acceptée (${input.role === 'commune' ? 'agent de commune' : 'administrateur de commune'}), compte lié à son identité chez ${req.issuer}`,
    });
    return { ok: true, userId: created.id };
  }, { unique: { ok: false, reason: 'duplicate' } });
}
