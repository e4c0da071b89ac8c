import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { claimNext, markFailure, markSent, type OutboxMessage, renewLease } from '../data/outbox';
import { DeliveryError, type Mailer } from './transport';

/** Minutes to wait before try n+1 after n failed tries: 1, 5, 15 minutes, 1, 4, 12 hours. */
const BACKOFF_MINUTES = [1, 5, 15, 60, 240, 720];

export function retryDelayMs(attempts: number): number {
  return BACKOFF_MINUTES[Math.min(Math.max(attempts, 1), BACKOFF_MINUTES.length) - 1]! * 60_000;
}

export interface DeliveryReport { sent: number; retrying: number; failed: number; errors: string[] }

/** The stable Message-ID of an outbox row: a copy resent after a crash can be recognised as the same message. */
export function messageIdOf(m: Pick<OutboxMessage, 'id' | 'dedupKey'>, publicUrl: string): string {
  const host = new URL(publicUrl).hostname || 'localhost';
  return `<outbox-${m.id}.${m.dedupKey.replace(/[^A-Za-z0-9.-]/g, '.')}@${host}>`;
}

/**
 * Keeps a message's lease alive while its worker sends it: renewed every third of the lease, so that a
 * slow SMTP server never lets another worker take over a message this live process is still sending.
 * Only a worker that stops (killed, frozen) loses it, and then its message is taken over once the lease ends.
 */
function holdLease(db: Knex, m: OutboxMessage, config: MailConfig, now: () => Date): { release(): Promise<void> } {
  let renewal: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewal = renewal
      .then(() => renewLease(db, m.id, m.claim!, new Date(now().getTime() + config.leaseSeconds * 1000)))
      .catch((err) => console.error(`Boîte d'envoi : bail du message ${m.id} non renouvelé :`, err instanceof Error ? err.message : err));
  }, Math.max(100, (config.leaseSeconds * 1000) / 3));
  return {
    async release() {
      clearInterval(timer);
      await renewal;
    },
  };
}

/**
 * Delivers every message due now, one at a time, until none is left: at-least-once through the
 * outbox, each row claimed by one worker just before it is sent, its lease renewed for as long as
 * the send lasts, and marked sent as soon as the server accepts it.
 */
export async function deliverDue(db: Knex, mailer: Mailer, config: MailConfig, now: () => Date): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, errors: [] };
  for (;;) {
    const m = await claimNext(db, now(), config.leaseSeconds);
    if (!m) return report;
    const headers: Record<string, string> = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' };
    if (m.unsubscribeUrl) {
      headers['List-Unsubscribe'] = `<${m.unsubscribeUrl}>`;
      headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }
    const lease = holdLease(db, m, config, now);
    let accepted = false;
    let failure: unknown;
    try {
      await mailer.send({
        messageId: messageIdOf(m, config.publicUrl), from: config.from, to: { name: m.toName, address: m.toAddress },
        subject: m.subject, text: m.text, html: m.html, headers,
      });
      accepted = true;
    } catch (err) {
      failure = err;
    } finally {
      await lease.release();
    }
    if (accepted) {
      await markSent(db, m.id, m.claim!, now(), m.kind === 'account');
      report.sent++;
      continue;
    }
    const permanent = failure instanceof DeliveryError && failure.permanent;
    const message = failure instanceof Error ? failure.message : String(failure);
    const last = permanent || m.attempts >= config.maxAttempts;
    await markFailure(db, m.id, m.claim!, message, last ? null : new Date(now().getTime() + retryDelayMs(m.attempts)));
    if (last) report.failed++;
    else report.retrying++;
    report.errors.push(`${m.toAddress} : ${message}`);
  }
}
