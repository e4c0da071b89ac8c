import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { claimDue, markFailure, markSent, type OutboxMessage } from '../data/outbox';
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
 * Delivers every message due now, in batches, until none is left: at-least-once through the
 * outbox, each row claimed by one worker at a time and marked sent as soon as the server accepts it.
 */
export async function deliverDue(db: Knex, mailer: Mailer, config: MailConfig, now: () => Date, batch = 20): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, errors: [] };
  for (;;) {
    const messages = await claimDue(db, now(), config.leaseSeconds, batch);
    if (!messages.length) return report;
    for (const m of messages) {
      const headers: Record<string, string> = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' };
      if (m.unsubscribeUrl) {
        headers['List-Unsubscribe'] = `<${m.unsubscribeUrl}>`;
        headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
      }
      try {
        await mailer.send({
          messageId: messageIdOf(m, config.publicUrl), from: config.from, to: { name: m.toName, address: m.toAddress },
          subject: m.subject, text: m.text, html: m.html, headers,
        });
        await markSent(db, m.id, m.claim!, now(), m.kind === 'account');
        report.sent++;
      } catch (err) {
        const permanent = err instanceof DeliveryError && err.permanent;
        const message = err instanceof Error ? err.message : String(err);
        const last = permanent || m.attempts >= config.maxAttempts;
        await markFailure(db, m.id, m.claim!, message, last ? null : new Date(now().getTime() + retryDelayMs(m.attempts)));
        if (last) report.failed++;
        else report.retrying++;
        report.errors.push(`${m.toAddress} : ${message}`);
      }
    }
  }
}
