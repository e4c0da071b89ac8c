import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { type AuditActor, recordAudit } from '../data/audit';
import { getMailSettings } from '../data/mail-settings';
import { retryMessage } from '../data/outbox';
import { auditedWrite } from '../data/write';
import { periodLabel, periodOf } from '../domain/schedule';
import { communeDigest, type DigestOutcome, enqueueDigests, renderDigest } from './digests';
import { readIdentity } from '../data/identity';
import { mailBrand } from '../domain/identity';

/**
 * What a commune's contacts would receive now, for the period the schedule is at: the digest and its rendering, or
 * nulls when no homologation touches the commune's instances.
 */
export async function digestPreview(db: Knex, config: MailConfig, commune: { id: number; name: string }, now: Date) {
  const settings = await getMailSettings(db);
  const period = periodOf(now, settings.schedule.frequency === 'weekly' ? 'weekly' : 'monthly', config.timeZone);
  const digest = await communeDigest(db, config, commune, period, now);
  return { digest, ...(digest ? await renderDigest(config, digest, mailBrand(await readIdentity(db))) : { html: null, text: null }) };
}

/** An administrator's sending of digests: queued like the scheduled ones, and the journal says which communes got one. */
export async function sendDigestsByHand(
  db: Knex, config: MailConfig, target: { communeIds: number[] | 'all'; period: string }, actor: AuditActor, now: Date,
): Promise<DigestOutcome[]> {
  const outcomes = await enqueueDigests(db, config, now, { ...target, origin: 'manuel' });
  await recordAudit(db, {
    actor, at: now, action: 'create', entityType: 'digest', entityId: null,
    summary: `Points d'avancement (${periodLabel(target.period)}) : ${outcomes.filter((o) => o.result === 'queued').map((o) => o.communeName).join(', ') || 'aucun nouveau'}`,
  });
  return outcomes;
}

/** A failed message queued again, with its audit row; false (and nothing written) if it is no longer failed. */
export async function retryFailedMessage(db: Knex, message: { id: number; toAddress: string }, actor: AuditActor, now: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at: now }, async (trx, audit) => {
    if (!(await retryMessage(trx, message.id, now))) return false;
    await audit({ action: 'update', entityType: 'outbox', entityId: message.id, summary: `Nouvel essai d'envoi à ${message.toAddress}` });
    return true;
  });
}
