import { foldRevision } from '../data/revision';
import { subMonths } from 'date-fns';
import type { Knex } from 'knex';
import { purgeLoginSources } from '../data/accounts';
import { purgeSecurityEvents } from '../data/audit';
import { purgeUploads } from '../data/plan-import';
import { markOrphansRemoved, purgeRemovedDocuments } from '../data/evidence';
import { getSecuritySettings } from '../data/security-settings';
import type { MailConfig } from '../config';
import { advanceCheck, getMailSettings } from '../data/mail-settings';
import { dueOccurrence, periodOf } from '../domain/schedule';
import type { Mailer } from '../mail/transport';
import { deliverDue } from '../mail/worker';
import { scanAlerts } from './alerts';
import { enqueueDigests } from './digests';
import { scanExpiryReminders } from './expiry-reminders';
import { scanStepNotices } from './step-notices';

export interface SchedulerDeps {
  db: Knex;
  mail: MailConfig;
  now: () => Date;
  /** null without SMTP_URL: messages are decided and kept in the outbox, not delivered. */
  mailer: Mailer | null;
}

/** Sends the scheduled digests if an occurrence has come since the last look. Returns the period sent, if any. */
export async function runScheduledDigests(deps: SchedulerDeps): Promise<string | null> {
  const now = deps.now();
  const settings = await getMailSettings(deps.db);
  if (settings.schedule.frequency === 'none') return null;
  if (!settings.checkedAt) {
    await advanceCheck(deps.db, null, now);
    return null;
  }
  const occurrence = dueOccurrence(settings.schedule, new Date(settings.checkedAt), now, deps.mail.timeZone);
  if (!occurrence) {
    await advanceCheck(deps.db, settings.checkedAt, now);
    return null;
  }
  // Digests first, mark after: a crash in between repeats the (idempotent) enqueue rather than losing the occurrence;
  // several servers over one database insert each (commune, period) digest once.
  const period = periodOf(occurrence, settings.schedule.frequency, deps.mail.timeZone);
  await enqueueDigests(deps.db, deps.mail, now, { communeIds: 'all', period, origin: 'planifie' });
  await advanceCheck(deps.db, settings.checkedAt, now);
  return period;
}

/**
 * Security events past the retention the admin sets (12 months by default) are deleted; business history is kept.
 * Sign-in failures per source older than a day (already ignored) go too, and removed evidence past the same retention.
 */
export async function purgeExpiredEvents(deps: Pick<SchedulerDeps, 'db' | 'now'>): Promise<number> {
  const { auditRetentionMonths } = await getSecuritySettings(deps.db);
  await purgeLoginSources(deps.db, deps.now());
  await purgeUploads(deps.db, deps.now());
  // evidence removed from the lists keeps its bytes as long as the journal keeps the trace of its removal
  await markOrphansRemoved(deps.db, deps.now());
  await purgeRemovedDocuments(deps.db, subMonths(deps.now(), auditRetentionMonths));
  return purgeSecurityEvents(deps.db, subMonths(deps.now(), auditRetentionMonths));
}

/** One round of the server's background work: scheduled digests, late-fiche alerts, step notices, expiry reminders, retention, then delivery. */
export async function tick(deps: SchedulerDeps): Promise<void> {
  await runScheduledDigests(deps);
  await scanAlerts(deps.db, deps.mail, deps.now());
  await scanStepNotices(deps.db, deps.mail, deps.now());
  await scanExpiryReminders(deps.db, deps.mail, deps.now());
  await purgeExpiredEvents(deps);
  if (deps.mailer) await deliverDue(deps.db, deps.mailer, deps.mail, deps.now);
  // PostgreSQL: the writes of the last minute folded into the data's revision (the count the pages read stays small)
  await foldRevision(deps.db);
}

/** Runs `tick` every `intervalMs`, one round at a time; errors are logged, never fatal. */
export function startScheduler(deps: SchedulerDeps, intervalMs: number): { stop(): Promise<void>; wake(): void } {
  let running: Promise<void> | null = null;
  let stopped = false;
  const round = () => {
    if (running || stopped) return;
    running = tick(deps).catch((err) => console.error('Tâches planifiées :', err)).finally(() => { running = null; });
  };
  const timer = setInterval(round, intervalMs);
  timer.unref();
  setImmediate(round);
  return {
    wake: () => setImmediate(round),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
