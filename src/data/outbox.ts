import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export const OUTBOX_STATUSES = ['pending', 'sending', 'sent', 'failed'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];
export type MessageKind = 'digest' | 'alert' | 'reminder' | 'account' | 'security' | 'expiry' | 'step';

/** An e-mail decided on, written in the same transaction as the decision. */
export interface NewMessage {
  kind: MessageKind;
  /** What this message is; a second decision to send the same thing inserts nothing. */
  dedupKey: string;
  communeId?: number | null;
  digestId?: number | null;
  alertId?: number | null;
  /** The expiry reminder of a homologation this message tells of. */
  expiryReminderId?: number | null;
  toAddress: string;
  toName: string;
  subject: string;
  text: string;
  html: string;
  unsubscribeUrl?: string | null;
}

export interface OutboxMessage extends Required<NewMessage> {
  id: number;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lockedUntil: string | null;
  claim: string | null;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
  communeName: string | null;
}

const fromRow = (r: Record<string, unknown>): OutboxMessage => ({
  id: Number(r.id),
  kind: r.kind as MessageKind,
  dedupKey: String(r.dedup_key),
  communeId: r.commune_id === null || r.commune_id === undefined ? null : Number(r.commune_id),
  digestId: r.digest_id === null || r.digest_id === undefined ? null : Number(r.digest_id),
  alertId: r.alert_id === null || r.alert_id === undefined ? null : Number(r.alert_id),
  expiryReminderId: r.expiry_reminder_id === null || r.expiry_reminder_id === undefined ? null : Number(r.expiry_reminder_id),
  toAddress: String(r.to_address),
  toName: String(r.to_name ?? ''),
  subject: String(r.subject),
  text: String(r.text),
  html: String(r.html),
  unsubscribeUrl: (r.unsubscribe_url as string | null) ?? null,
  status: r.status as OutboxStatus,
  attempts: Number(r.attempts),
  nextAttemptAt: String(r.next_attempt_at),
  lockedUntil: (r.locked_until as string | null) ?? null,
  claim: (r.claim as string | null) ?? null,
  lastError: (r.last_error as string | null) ?? null,
  createdAt: String(r.created_at),
  sentAt: (r.sent_at as string | null) ?? null,
  communeName: (r.commune_name as string | null) ?? null,
});

/** Inserts messages, skipping those already decided (same dedup key). Returns how many were new. */
export async function enqueue(trx: Knex, messages: NewMessage[], at: Date): Promise<number> {
  let inserted = 0;
  for (const m of messages) {
    const rows = await trx('outbox').insert({
      kind: m.kind, dedup_key: m.dedupKey, commune_id: m.communeId ?? null, digest_id: m.digestId ?? null, alert_id: m.alertId ?? null,
      expiry_reminder_id: m.expiryReminderId ?? null, to_address: m.toAddress, to_name: m.toName, subject: m.subject, text: m.text, html: m.html, unsubscribe_url: m.unsubscribeUrl ?? null,
      status: 'pending', attempts: 0, next_attempt_at: at.toISOString(), created_at: at.toISOString(),
    }).onConflict('dedup_key').ignore().returning('id');
    inserted += rows.length;
  }
  return inserted;
}

/**
 * Claims the next due message for one worker, just before it sends it: a pending one whose time has
 * come, or one a worker claimed and never released (it died mid-send) once its lease has run out.
 * The claim is a conditional update, so two workers never hold the same message; one message at a
 * time, so a message waiting behind a slow one is not held under a lease that runs out before its turn.
 */
export async function claimNext(db: Knex, now: Date, leaseSeconds: number): Promise<OutboxMessage | undefined> {
  const nowIso = now.toISOString();
  const due = (q: Knex.QueryBuilder) => q.where((w) => {
    w.where((p) => p.where('status', 'pending').where('next_attempt_at', '<=', nowIso))
      .orWhere((s) => s.where('status', 'sending').where('locked_until', '<', nowIso));
  });
  const lockedUntil = new Date(now.getTime() + leaseSeconds * 1000).toISOString();
  for (;;) {
    // a few candidates: another worker may take the first ones between this read and the claim
    const candidates: { id: number }[] = await due(db('outbox').select('id')).orderBy('id').limit(5);
    if (!candidates.length) return undefined;
    for (const { id } of candidates) {
      const claim = randomUUID();
      const n = await due(db('outbox').where('id', id)).update({ status: 'sending', claim, locked_until: lockedUntil, attempts: db.raw('attempts + 1') });
      if (n !== 1) continue;
      const row = await db('outbox').where({ id, claim }).first();
      if (row) return fromRow(row);
    }
  }
}

/**
 * Extends the lease of a message its worker is still sending (a slow SMTP server), so that no other
 * worker takes it over while the first is alive. False if the worker no longer holds it.
 */
export async function renewLease(db: Knex, id: number, claim: string, lockedUntil: Date): Promise<boolean> {
  const n = await db('outbox').where({ id, claim, status: 'sending' }).update({ locked_until: lockedUntil.toISOString() });
  return n === 1;
}

/** Marks a message sent; a message carrying a one-time link loses its body then, so no reader of the log can use it. */
export async function markSent(db: Knex, id: number, claim: string, at: Date, redact = false): Promise<void> {
  await db('outbox').where({ id, claim }).update({
    status: 'sent', sent_at: at.toISOString(), locked_until: null, last_error: null,
    ...(redact ? { text: '[Contenu retiré après envoi : il contenait un lien à usage unique.]', html: '<p>[Contenu retiré après envoi : il contenait un lien à usage unique.]</p>' } : {}),
  });
}

/** After a failed try: back to pending for a later try, or failed for good. */
export async function markFailure(
  db: Knex, id: number, claim: string, error: string, retryAt: Date | null,
): Promise<void> {
  await db('outbox').where({ id, claim }).update(
    retryAt
      ? { status: 'pending', next_attempt_at: retryAt.toISOString(), locked_until: null, last_error: error }
      : { status: 'failed', locked_until: null, last_error: error },
  );
}

/** An admin's retry of a failed message: a fresh series of attempts, from now. */
export async function retryMessage(db: Knex, id: number, at: Date): Promise<boolean> {
  const n = await db('outbox').where({ id, status: 'failed' }).update({ status: 'pending', attempts: 0, next_attempt_at: at.toISOString(), claim: null });
  return n === 1;
}

export interface OutboxFilter { status?: OutboxStatus; kind?: MessageKind; communeId?: number; limit: number; offset: number }

export async function listOutbox(db: Knex, filter: OutboxFilter): Promise<{ rows: OutboxMessage[]; total: number }> {
  const base = () => {
    const q = db('outbox');
    if (filter.status) q.where('outbox.status', filter.status);
    if (filter.kind) q.where('outbox.kind', filter.kind);
    if (filter.communeId) q.where('outbox.commune_id', filter.communeId);
    return q;
  };
  const [rows, count] = await Promise.all([
    base().leftJoin('communes', 'communes.id', 'outbox.commune_id')
      .select('outbox.id', 'outbox.kind', 'outbox.dedup_key', 'outbox.commune_id', 'outbox.digest_id', 'outbox.alert_id', 'outbox.expiry_reminder_id', 'outbox.to_address',
        'outbox.to_name', 'outbox.subject', db.raw("'' as text"), db.raw("'' as html"), 'outbox.unsubscribe_url', 'outbox.status', 'outbox.attempts',
        'outbox.next_attempt_at', 'outbox.locked_until', 'outbox.claim', 'outbox.last_error', 'outbox.created_at', 'outbox.sent_at', 'communes.name as commune_name')
      .orderBy('outbox.id', 'desc').limit(filter.limit).offset(filter.offset),
    base().count({ n: '*' }).first(),
  ]);
  return { rows: rows.map(fromRow), total: Number(count?.n ?? 0) };
}

export async function outboxCounts(db: Knex): Promise<Record<OutboxStatus, number>> {
  const rows = await db('outbox').groupBy('status').select('status', db.raw('count(*) as n'));
  const counts: Record<OutboxStatus, number> = { pending: 0, sending: 0, sent: 0, failed: 0 };
  for (const r of rows as { status: OutboxStatus; n: number }[]) counts[r.status] = Number(r.n);
  return counts;
}

export async function getMessage(db: Knex, id: number): Promise<OutboxMessage | undefined> {
  const row = await db('outbox').leftJoin('communes', 'communes.id', 'outbox.commune_id').where('outbox.id', id).select('outbox.*', 'communes.name as commune_name').first();
  return row ? fromRow(row) : undefined;
}

/** Messages still waiting in the outbox (what the command line reports when no SMTP server is set). */
export async function pendingCount(db: Knex): Promise<number> {
  const row = await db('outbox').where('status', 'pending').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
