import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { sortFrench } from '../domain/words';
import { type AuditActor, recordAudit } from './audit';
import { normaliseEmail } from './users';
import { auditedWrite, insertedId } from './write';

/** Someone at a commune who receives its progress digest. */
export interface Contact {
  id: number;
  communeId: number;
  name: string;
  email: string;
  function: string;
  unsubscribeToken: string;
  unsubscribedAt: string | null;
  createdAt: string;
}

export interface ContactInput {
  name: string;
  email: string;
  function: string;
}

const fromRow = (r: Record<string, unknown>): Contact => ({
  id: Number(r.id),
  communeId: Number(r.commune_id),
  name: String(r.name),
  email: String(r.email),
  function: String(r.function ?? ''),
  unsubscribeToken: String(r.unsubscribe_token),
  unsubscribedAt: (r.unsubscribed_at as string | null) ?? null,
  createdAt: String(r.created_at),
});

/** What the audit keeps of a contact: never the unsubscribe secret. */
const audited = (c: Contact) => ({ name: c.name, email: c.email, function: c.function, unsubscribedAt: c.unsubscribedAt });

export const newToken = () => randomBytes(24).toString('base64url');

export async function listContacts(db: Knex, communeId: number): Promise<Contact[]> {
  return sortFrench((await db('commune_contacts').where('commune_id', communeId).orderBy('name')).map(fromRow), (c) => c.name);
}

/** Subscribed contacts of several communes at once, by commune. */
export async function subscribedContacts(db: Knex, communeIds: number[]): Promise<Map<number, Contact[]>> {
  const rows = communeIds.length ? await db('commune_contacts').whereIn('commune_id', communeIds).whereNull('unsubscribed_at').orderBy('id') : [];
  const by = new Map<number, Contact[]>();
  for (const r of rows.map(fromRow)) by.set(r.communeId, [...(by.get(r.communeId) ?? []), r]);
  return by;
}

/** Contacts per commune, subscribed and not, for the admin's overview. */
export async function contactCounts(db: Knex): Promise<Map<number, { subscribed: number; unsubscribed: number }>> {
  const rows = await db('commune_contacts').groupBy('commune_id')
    .select('commune_id', db.raw('count(*) as total'), db.raw('sum(case when unsubscribed_at is null then 0 else 1 end) as gone'));
  return new Map(rows.map((r: Record<string, unknown>) => [Number(r.commune_id), { subscribed: Number(r.total) - Number(r.gone), unsubscribed: Number(r.gone) }]));
}

export async function getContact(db: Knex, communeId: number, id: number): Promise<Contact | undefined> {
  const row = await db('commune_contacts').where({ id, commune_id: communeId }).first();
  return row ? fromRow(row) : undefined;
}

export async function contactByToken(db: Knex, token: string): Promise<(Contact & { communeName: string }) | undefined> {
  const row = await db('commune_contacts').join('communes', 'communes.id', 'commune_contacts.commune_id')
    .where('commune_contacts.unsubscribe_token', token).select('commune_contacts.*', 'communes.name as commune_name').first();
  return row ? { ...fromRow(row), communeName: String(row.commune_name) } : undefined;
}

type Saved = { ok: true; id: number } | { ok: false; reason: 'duplicate' | 'not_found' };

const DUPLICATE = { ok: false, reason: 'duplicate' } as const;

export async function createContact(db: Knex, communeId: number, input: ContactInput, actor: AuditActor, at: Date): Promise<Saved> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<Saved> => {
    const id = insertedId(await trx('commune_contacts').insert({
      commune_id: communeId, name: input.name, email: normaliseEmail(input.email), function: input.function,
      unsubscribe_token: newToken(), created_at: at.toISOString(),
    }).returning('id'));
    const contact = (await getContact(trx, communeId, id))!;
    await audit({ action: 'create', entityType: 'contact', entityId: id, summary: `${input.name} <${contact.email}>`, after: audited(contact) });
    return { ok: true, id };
  }, { unique: DUPLICATE });
}

/** Edits a contact; `resubscribe` lets an admin or the commune put back a contact who had unsubscribed. */
export async function updateContact(
  db: Knex, communeId: number, id: number, input: ContactInput & { resubscribe?: boolean }, actor: AuditActor, at: Date,
): Promise<Saved> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<Saved> => {
    const before = await getContact(trx, communeId, id);
    if (!before) return { ok: false, reason: 'not_found' };
    await trx('commune_contacts').where({ id }).update({
      name: input.name, email: normaliseEmail(input.email), function: input.function,
      ...(input.resubscribe ? { unsubscribed_at: null } : {}),
    });
    const after = (await getContact(trx, communeId, id))!;
    await audit({ action: 'update', entityType: 'contact', entityId: id, summary: `${after.name} <${after.email}>`, before: audited(before), after: audited(after) });
    return { ok: true, id };
  }, { unique: DUPLICATE });
}

export async function deleteContact(db: Knex, communeId: number, id: number, actor: AuditActor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await getContact(trx, communeId, id);
    if (!before) return false;
    await trx('commune_contacts').where({ id }).delete();
    await audit({ action: 'delete', entityType: 'contact', entityId: id, summary: `${before.name} <${before.email}>`, before: audited(before) });
    return true;
  });
}

/** The contact's own click on the link of an e-mail. Idempotent: a second click changes nothing. */
export async function unsubscribe(db: Knex, token: string, at: Date): Promise<(Contact & { communeName: string }) | undefined> {
  return db.transaction(async (trx) => {
    const contact = await contactByToken(trx, token);
    if (!contact) return undefined;
    if (!contact.unsubscribedAt) {
      await trx('commune_contacts').where({ id: contact.id }).update({ unsubscribed_at: at.toISOString() });
      await recordAudit(trx, {
        actor: { id: null, name: `${contact.name} (lien de désinscription)` }, at, action: 'update', entityType: 'contact', entityId: contact.id,
        summary: `${contact.name} <${contact.email}> s'est désinscrit des points d'avancement`, before: audited(contact), after: { ...audited(contact), unsubscribedAt: at.toISOString() },
      });
    }
    return { ...contact, unsubscribedAt: contact.unsubscribedAt ?? at.toISOString() };
  });
}
