import { subMonths } from 'date-fns/subMonths';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { type Contact, subscribedContacts } from '../data/contacts';
import { getFiches, listFiches } from '../data/fiches';
import { type HomologationSummary, homologationState, listHomologations, reminderMonths } from '../data/homologations';
import { ficheStatesAt, listMeetings } from '../data/meetings';
import { communeStepsOfFiches, notesSinceWithCommunes, sideEffectAnswers } from '../data/commune-answers';
import { rolloutSummaries } from '../data/rollout';
import { enqueue } from '../data/outbox';
import { organisationName } from '../data/plans';
import { communes, environmentList, milestones } from '../data/referentials';
import { changesSince } from '../domain/changes';
import { buildDigest, type Digest, type DigestSectionInput } from '../domain/digest';
import { localDate } from '../domain/schedule';
import { de } from '../domain/words';
import { digestExists, renewalLinks, insertDigest, previousDigestAt } from '../data/digests';
import { renderMail } from '../mail/render';
import { readIdentity } from '../data/identity';
import { type MailBrand, mailBrand } from '../domain/identity';

import { reads } from '../data/reads';

/**
 * One homologation's section of a commune's digest: its fiches whose scope touches the commune's instances (cut to
 * those instances), what changed since the commune's previous digest, its milestones and its next meeting.
 */
async function sectionOf(
  db: Knex, config: MailConfig, hom: HomologationSummary, commune: { id: number; name: string },
  at: { today: string; months: number[]; since: string; previous: boolean },
): Promise<DigestSectionInput> {
  const summaries = await listFiches(db, hom.id, commune.id);
  const ids = summaries.map((f) => f.id);
  // the project team's notes and the commune's own, never another commune's; the steps, answers and rollout are the commune's own
  const [details, states, notes, milestoneList, meetings, links, steps, answers, environments] = await reads(db,
    () => getFiches(db, ids), () => ficheStatesAt(db, ids, at.since), () => notesSinceWithCommunes(db, ids, at.since, commune.id),
    () => milestones.listWhere(db, 'plan_id', hom.id), () => listMeetings(db, hom.id, ids), () => renewalLinks(db, ids),
    () => communeStepsOfFiches(db, ids, commune.id), () => sideEffectAnswers(db, ids, commune.id), () => environmentList(db),
  );
  const rollout = await rolloutSummaries(db, ids, environments, commune.id);
  const changes = new Map<number, string[]>();
  const period = at.previous ? 'depuis le précédent point' : 'sur la période';
  for (const f of details) {
    const lines = changesSince(states.get(f.id), f, notes.filter((n) => n.ficheId === f.id)
      .map((n) => (n.communeName ? { ...n, authorName: `${n.authorName}, commune ${de(n.communeName)}` } : n)), 5, period);
    // a fiche carried over by a renewal is not new work: it continues its origin (named next to it)
    if (!states.has(f.id) && links.from.has(f.id)) lines[0] = `Reprise dans cette homologation ${period}.`;
    changes.set(f.id, lines);
  }
  const nowLocal = `${at.today}T00:00`;
  const next = meetings.filter((m) => !m.heldAt && m.startsAt >= nowLocal).sort((a, b) => a.startsAt.localeCompare(b.startsAt))[0];
  return {
    homologation: {
      id: hom.id, title: hom.title, state: homologationState(hom, at.today, at.months), decision: hom.decision,
      url: `${config.publicUrl}/homologations/${hom.id}`,
    },
    fiches: details.map((f) => ({
      ...f,
      // Another commune's instances are never named in this commune's digest.
      instances: f.scope.filter((s) => s.communeId === commune.id).map((s) => s.name),
      carriedFrom: links.from.get(f.id) ?? null,
      continuedIn: links.to.get(f.id) ?? null,
      rollout: rollout.get(f.id) ?? null,
    })),
    changes,
    milestones: milestoneList,
    nextMeeting: next ? { title: next.title, startsAt: next.startsAt, place: next.place } : null,
    communeUrl: `${config.publicUrl}/homologations/${hom.id}/ma-commune`,
    communeStepStatuses: new Map(steps.map((s) => [s.stepId, s.status])),
    sideEffectAnswers: new Map(answers.map((a) => [a.ficheId, a])),
  };
}

/**
 * One commune's digest as of `now`: a section per homologation (not archived) whose perimeter covers one of its
 * instances, in the order they were created; null when none does (there is nothing to tell the commune).
 */
export async function communeDigest(
  db: Knex, config: MailConfig, commune: { id: number; name: string }, period: string, now: Date,
): Promise<Digest | null> {
  const today = localDate(now, config.timeZone);
  const touching = (await listHomologations(db, { communeId: commune.id, nowLocal: `${today}T00:00` })).filter((h) => !h.archivedAt);
  if (!touching.length) return null;
  const [months, previous, organisation] = await reads(db, () => reminderMonths(db), () => previousDigestAt(db, commune.id, now), () => organisationName(db));
  const since = previous ?? subMonths(now, 1).toISOString();
  const sections: DigestSectionInput[] = [];
  for (const hom of touching) sections.push(await sectionOf(db, config, hom, commune, { today, months, since, previous: Boolean(previous) }));
  return buildDigest({
    organisation,
    commune,
    period,
    since,
    firstDigest: !previous,
    today,
    sections,
    signInUrl: `${config.publicUrl}/connexion`,
  });
}

export const unsubscribeUrlOf = (config: MailConfig, contact: Pick<Contact, 'unsubscribeToken'>) =>
  `${config.publicUrl}/desinscription/${contact.unsubscribeToken}`;

export async function renderDigest(config: MailConfig, digest: Digest, brand: MailBrand, contact?: Pick<Contact, 'name' | 'unsubscribeToken'>) {
  return renderMail('digest', { digest, contactName: contact?.name ?? '', unsubscribeUrl: contact ? unsubscribeUrlOf(config, contact) : null }, brand);
}

/** 'nothing': no homologation (not archived) covers the commune's instances, so it is sent nothing. */
export type DigestOutcome = { communeId: number; communeName: string; result: 'queued' | 'already_sent' | 'no_contact' | 'nothing'; recipients: number };

/**
 * Decides the digests of a period: for each commune, its digest row and one outbox message per
 * subscribed contact, in one transaction (a commune no homologation touches gets nothing). The (commune, period)
 * pair is unique: a second run, a concurrent one, or a run restarted after a crash finds the digest there and adds nothing.
 */
export async function enqueueDigests(
  db: Knex, config: MailConfig, now: Date, target: { communeIds: number[] | 'all'; period: string; origin: 'manuel' | 'cli' | 'planifie' },
): Promise<DigestOutcome[]> {
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
    const digest = await communeDigest(db, config, commune, target.period, now);
    if (!digest) {
      outcomes.push({ communeId: commune.id, communeName: commune.name, result: 'nothing', recipients: 0 });
      continue;
    }
    const brand = mailBrand(await readIdentity(db));
    const messages = await Promise.all(recipients.map(async (contact) => ({ contact, ...(await renderDigest(config, digest, brand, contact)) })));
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
