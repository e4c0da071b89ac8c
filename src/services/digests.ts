import { subMonths } from 'date-fns';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { type Contact, subscribedContacts } from '../data/contacts';
import { getFiches, listFiches } from '../data/fiches';
import { ficheStatesAt, listMeetings, notesSince } from '../data/meetings';
import { enqueue } from '../data/outbox';
import { currentPlan, type Plan } from '../data/plans';
import { communes, milestones } from '../data/referentials';
import { changesSince } from '../domain/changes';
import { buildDigest, type Digest } from '../domain/digest';
import { localDate } from '../domain/schedule';
import { digestExists, insertDigest, previousDigestAt } from '../data/digests';
import { renderMail } from '../mail/render';
import { reads } from '../data/reads';

/**
 * One commune's digest as of `now`: the fiches whose scope touches its instances (cut to those
 * instances), what changed since its previous digest, its own steps, coming dates, strong side effects, next meeting.
 */
export async function communeDigest(
  db: Knex, config: MailConfig, plan: Plan, commune: { id: number; name: string }, period: string, now: Date,
): Promise<Digest> {
  const today = localDate(now, config.timeZone);
  const summaries = await listFiches(db, plan.id, commune.id);
  const ids = summaries.map((f) => f.id);
  const previous = await previousDigestAt(db, commune.id, now);
  const since = previous ?? subMonths(now, 1).toISOString();
  const [details, states, notes, milestoneList, meetings] = await reads(db,
    () => getFiches(db, ids), () => ficheStatesAt(db, ids, since), () => notesSince(db, ids, since),
    () => milestones.listWhere(db, 'plan_id', plan.id), () => listMeetings(db, plan.id, ids),
  );
  const changes = new Map<number, string[]>();
  for (const f of details) {
    changes.set(f.id, changesSince(states.get(f.id), f, notes.filter((n) => n.ficheId === f.id), 5, previous ? 'depuis le précédent point' : 'sur la période'));
  }
  const nowLocal = `${today}T00:00`;
  const next = meetings.filter((m) => !m.heldAt && m.startsAt >= nowLocal).sort((a, b) => a.startsAt.localeCompare(b.startsAt))[0];
  return buildDigest({
    organisation: plan.organisation,
    planTitle: plan.title,
    commune,
    period,
    since,
    firstDigest: !previous,
    today,
    fiches: details.map((f) => ({
      ...f,
      // Another commune's instances are never named in this commune's digest.
      instances: f.scope.filter((s) => s.communeId === commune.id).map((s) => s.name),
    })),
    changes,
    milestones: milestoneList,
    nextMeeting: next ? { title: next.title, startsAt: next.startsAt, place: next.place } : null,
    signInUrl: `${config.publicUrl}/connexion`,
  });
}

export const unsubscribeUrlOf = (config: MailConfig, contact: Pick<Contact, 'unsubscribeToken'>) =>
  `${config.publicUrl}/desinscription/${contact.unsubscribeToken}`;

export async function renderDigest(config: MailConfig, digest: Digest, contact?: Pick<Contact, 'name' | 'unsubscribeToken'>) {
  return renderMail('digest', { digest, contactName: contact?.name ?? '', unsubscribeUrl: contact ? unsubscribeUrlOf(config, contact) : null });
}

export type DigestOutcome = { communeId: number; communeName: string; result: 'queued' | 'already_sent' | 'no_contact'; recipients: number };

/**
 * Decides the digests of a period: for each commune, its digest row and one outbox message per
 * subscribed contact, in one transaction. The (commune, period) pair is unique: a second run, a
 * concurrent one, or a run restarted after a crash finds the digest there and adds nothing.
 */
export async function enqueueDigests(
  db: Knex, config: MailConfig, now: Date, target: { communeIds: number[] | 'all'; period: string; origin: 'manuel' | 'cli' | 'planifie' },
): Promise<DigestOutcome[]> {
  const plan = await currentPlan(db);
  const all = await communes.list(db);
  const chosen = target.communeIds === 'all' ? all : all.filter((c) => (target.communeIds as number[]).includes(c.id));
  const contacts = await subscribedContacts(db, chosen.map((c) => c.id));
  const outcomes: DigestOutcome[] = [];
  for (const commune of chosen) {
    const recipients = contacts.get(commune.id) ?? [];
    if (!recipients.length) {
      outcomes.push({ communeId: commune.id, communeName: commune.name, result: 'no_contact', recipients: 0 });
      continue;
    }
    if (await digestExists(db, commune.id, target.period)) {
      outcomes.push({ communeId: commune.id, communeName: commune.name, result: 'already_sent', recipients: 0 });
      continue;
    }
    const digest = await communeDigest(db, config, plan, commune, target.period, now);
    const messages = await Promise.all(recipients.map(async (contact) => ({ contact, ...(await renderDigest(config, digest, contact)) })));
    // a concurrent run may have inserted the digest since the check: then this transaction inserts nothing
    const queued = await db.transaction(async (trx) => {
      const digestId = await insertDigest(trx, { communeId: commune.id, period: target.period, recipients: recipients.length, origin: target.origin }, now);
      if (digestId === null) return false;
      await enqueue(trx, messages.map((m) => ({
        kind: 'digest' as const, dedupKey: `digest:${digestId}:${m.contact.id}`, communeId: commune.id, digestId,
        toAddress: m.contact.email, toName: m.contact.name, subject: digest.subject, text: m.text, html: m.html,
        unsubscribeUrl: unsubscribeUrlOf(config, m.contact),
      })), now);
      return true;
    });
    outcomes.push({ communeId: commune.id, communeName: commune.name, result: queued ? 'queued' : 'already_sent', recipients: queued ? recipients.length : 0 });
  }
  return outcomes;
}
