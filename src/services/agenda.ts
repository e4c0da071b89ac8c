import { format } from 'date-fns/format';
import type { Knex } from 'knex';
import { getFiches, listFiches } from '../data/fiches';
import { concernedForAgenda, latestTeamNotes, notesSinceWithCommunes, sideEffectAnswers } from '../data/commune-answers';
import { rolloutSummaries } from '../data/rollout';
import { evidenceOfFiches } from '../data/evidence';
import { type AgendaOutlineFiche, ficheStatesAt, holdMeeting, type Meeting, previousMeeting } from '../data/meetings';
import type { Actor } from '../domain/roles';
import type { Plan } from '../data/plans';
import { perimeterCommunes, perimeterGroups } from '../data/perimeter';
import { environmentList, milestones } from '../data/referentials';
import { type Agenda, type AgendaCondition, type AgendaFiche, type AgendaRisks, ANSWERS_LISTED, buildAgenda } from '../domain/agenda';
import { answerLines, answerSentence, answersSummary, strongEffects } from '../domain/commune-answers';
import { de } from '../domain/words';
import { rolloutPhrase } from '../domain/rollout';
import { OUTCOME_LABELS } from '../domain/homologation';
import { type DecisionConditions, decisionConditions } from '../data/lifecycle';
import { changesSince } from '../domain/changes';
import { isLate, isStepLate, ownersSummary, stepDue, stepsProgress } from '../domain/fiche';
import { perimeterTableOfGroups } from '../domain/perimeter';
import { localInstant } from '../domain/local-time';
import { SIDE_EFFECT_LABELS, STATUS_LABELS } from '../domain/statuses';
import { reads } from '../data/reads';
import { committeeRisks, riskHistoriesSince } from '../data/risk-committee';
import { getRiskScales } from '../data/risks';
import { criticalClassLabels, orPhrase, riskChanges, riskRows } from '../domain/risk-committee';

const dmy = (d: string | null) => (d ? d.split('-').reverse().join('/') : '—');

/** The agenda names every commune with instances in the perimeter: more than France has. */
const ALL_COMMUNES = 100_000;

/**
 * A local "2026-11-24T14:00" as the instant it names in the server's time zone (the plan's: the server sets it),
 * to compare with audit times; read like the meeting's .ics, and never throwing on a time the clocks skipped.
 */
export const instantOf = (local: string) =>
  (localInstant(local, Intl.DateTimeFormat().resolvedOptions().timeZone)?.instant ?? new Date(local)).toISOString();

/** The fiche ids a meeting covers: all the plan's by default. */
export async function coveredFicheIds(db: Knex, meeting: Meeting): Promise<number[]> {
  if (!meeting.coversAll) return meeting.ficheIds;
  return (await listFiches(db, meeting.planId, null)).map((f) => f.id);
}

/** Holds the meeting: its agenda, as the plan stands now, is frozen with it. False if it was held meanwhile. */
export async function holdMeetingNow(db: Knex, plan: Plan, meeting: Meeting, actor: Actor, now: Date): Promise<boolean> {
  return holdMeeting(db, meeting.id, await liveAgenda(db, plan, meeting, now), actor, now);
}

/**
 * Some of the fiches of a live agenda, detailed (a page of the agenda on screen): `outline` lists the meeting's
 * fiches (meetingFiches: in order, those the reader may see), `only` the ids of those to detail.
 */
export interface AgendaPart { outline: readonly AgendaOutlineFiche[]; only: ReadonlySet<number> }

/**
 * The live agenda of a meeting, built from today's plan (a held meeting shows its snapshot instead): every fiche of
 * the meeting detailed, or with `part` only some of them, the presentation of the plan still listing them all. A
 * fiche's detail is the same either way: everything it shows is read for that fiche alone.
 */
export async function liveAgenda(db: Knex, plan: Plan, meeting: Meeting, now: Date, part?: AgendaPart): Promise<Agenda> {
  const today = format(now, 'yyyy-MM-dd');
  const ids = new Set(part ? part.outline.filter((f) => part.only.has(f.id)).map((f) => f.id) : await coveredFicheIds(db, meeting));
  // a fiche on the whole perimeter is written as such: the perimeter need not be read for each; the communes concerned,
  // their answers and the rollout counts are read once for all the fiches
  const [details, lastNotes, evidence, concerned, answers, environments] = await reads(db,
    () => getFiches(db, [...ids], { perimeter: false }), () => latestTeamNotes(db, [...ids]), () => evidenceOfFiches(db, [...ids]),
    () => concernedForAgenda(db, [...ids], ANSWERS_LISTED), () => sideEffectAnswers(db, [...ids]), () => environmentList(db));
  const rollouts = await rolloutSummaries(db, [...ids], environments);
  const answersOf = new Map<number, typeof answers>();
  for (const a of answers) answersOf.set(a.ficheId, [...(answersOf.get(a.ficheId) ?? []), a]);
  const fiches: Omit<AgendaFiche, 'changes'>[] = details.map((f) => {
    // a commune's note is its own, not the fiche's progress: the progress line tells the project team's latest
    const last = lastNotes.get(f.id);
    const services = [...new Set(f.scope.map((s) => s.serviceName))];
    const rollout = rollouts.get(f.id);
    const current = strongEffects(f.sideEffects);
    const reach = concerned.get(f.id) ?? { total: 0, communes: [] };
    // beyond ANSWERS_LISTED communes, the lines of those that answered only; the others are counted
    const lines = answerLines(reach.communes, answersOf.get(f.id) ?? [], current);
    const listed = reach.total > ANSWERS_LISTED ? lines.filter((l) => l.state !== 'sans_reponse') : lines;
    const unanswered = reach.total - listed.length;
    return {
      ficheId: f.id, number: f.number, title: f.title, finding: f.finding,
      steps: f.steps.map((s) => {
        const due = stepDue(s, f.targetDate);
        return { position: s.position, label: s.label, status: STATUS_LABELS[s.status], assignee: s.assigneeName, due: due ? dmy(due) : null, late: isStepLate(s, f.targetDate, today) };
      }),
      stepsDone: stepsProgress(f.steps).done,
      targetDate: dmy(f.targetDate), late: isLate(f, today), status: STATUS_LABELS[f.status],
      progress: last ? `${STATUS_LABELS[f.status]} — dernier point le ${dmy(last.notedOn)} : ${last.body}` : STATUS_LABELS[f.status],
      conclusion: f.conclusion,
      conclusionCounts: f.conclusionCounts.map((c) => `${c.count} sur ${c.total} : ${c.label}`),
      cost: f.costAmount === null ? null : `${new Intl.NumberFormat('fr-FR').format(f.costAmount).replace(/[\u202f\u00a0]/g, ' ')} €${f.costSource ? `, estimé par ${f.costSource}` : ''}`,
      owner: ownersSummary(f.owners) || '—',
      scope: f.scopeAll ? "Tout le périmètre de l'homologation" : `${f.scope.length} instance${f.scope.length > 1 ? 's' : ''} : ${services.join(', ')}`,
      sideEffects: f.sideEffects.map((e) => ({ level: e.level, levelLabel: SIDE_EFFECT_LABELS[e.level], description: e.description })),
      evidence: (evidence.get(f.id) ?? []).map((e) => ({ title: e.title, addedOn: dmy(e.addedOn) })),
      rollout: rollout ? rolloutPhrase(rollout) : null,
      ...(current.length ? {
        communeAnswers: listed.map((l) => ({ communeId: l.communeId, commune: l.commune, state: l.state, label: l.label, date: l.date, comment: l.comment, text: answerSentence(l) })),
        communeAnswersSummary: answersSummary([...listed, ...(reach.total > ANSWERS_LISTED ? Array.from({ length: unanswered }, () => ({ state: 'sans_reponse' as const })) : [])]),
        communeAnswersTotal: reach.total,
      } : {}),
    };
  });

  const previous = await previousMeeting(db, plan.id, meeting.startsAt, meeting.id);
  const changes = new Map<number, string[]>();
  if (previous) {
    const since = instantOf(previous.startsAt);
    const [states, notes] = await reads(db, () => ficheStatesAt(db, [...ids], since), () => notesSinceWithCommunes(db, [...ids], since));
    // each fiche's notes, in their order, grouped once (not filtered out of all the notes for each fiche)
    const notesOf = new Map<number, typeof notes>();
    for (const n of notes) {
      const list = notesOf.get(n.ficheId);
      if (list) list.push(n);
      else notesOf.set(n.ficheId, [n]);
    }
    const fichesById = new Map(fiches.map((x) => [x.ficheId, x]));
    for (const f of details) {
      const own = notesOf.get(f.id) ?? [];
      // the project team's notes among the changes; the communes' each labelled with its commune (a commune reads its own)
      changes.set(f.id, changesSince(states.get(f.id), f, own.filter((n) => n.communeId === null)));
      const fiche = fichesById.get(f.id);
      if (fiche) {
        fiche.communeNotes = own.filter((n) => n.communeId !== null)
          .map((n) => ({ communeId: n.communeId!, text: `Point de la commune ${de(n.communeName ?? '')} du ${dmy(n.notedOn)} (${n.authorName}) : ${n.body}` }));
      }
    }
  }
  // the perimeter counted in SQL (per service, environment and team), not read instance by instance (5,000 rows at
  // national scale for a few lines); every commune with instances named
  const [groups, withInstances, milestoneList, decided, risks] = await reads(db,
    () => perimeterGroups(db, plan.id, null), () => perimeterCommunes(db, plan.id, null, ALL_COMMUNES), () => milestones.listWhere(db, 'plan_id', plan.id),
    () => decisionConditions(db, plan.id), () => agendaRisks(db, plan.id, previous ? instantOf(previous.startsAt) : null, today),
  );
  // the homologation's perimeter, one count per environment present, in the organisation's order
  const perimeter = perimeterTableOfGroups(groups, environments);
  const countIn = (counts: number[], code: string) => counts[perimeter.columns.findIndex((c) => c.code === code)] ?? 0;
  return buildAgenda({
    organisation: plan.organisation,
    planTitle: plan.title,
    planReminder: plan.reminder,
    meeting,
    previousMeeting: previous ?? null,
    perimeter: perimeter.lines.map((l) => ({
      serviceName: l.serviceName, prod: countIn(l.counts, 'prod'), recette: countIn(l.counts, 'recette'), teams: l.teams, communal: l.communal,
      environments: perimeter.columns.map((c, k) => ({ label: c.label, count: l.counts[k]! })),
    })),
    communes: withInstances.communes.map((c) => c.name).sort((a, b) => a.localeCompare(b, 'fr')),
    milestones: milestoneList,
    fiches,
    ...(part ? { outline: part.outline.map((f) => ({ ficheId: f.id, number: f.number, title: f.title, status: STATUS_LABELS[f.status] })) } : {}),
    changes,
    conditions: conditionsOf(decided, today),
    risks,
    generatedAt: now,
  });
}

/** The conditions of the decision that counts, as the agenda reports them (none when it set none). */
function conditionsOf(decided: DecisionConditions, today: string): { decision: string; items: AgendaCondition[] } | null {
  if (!decided.decision || decided.fiches.length === 0) return null;
  const d = decided.decision;
  return {
    decision: `${OUTCOME_LABELS[d.outcome]} le ${dmy(d.decidedOn)}${d.authority ? ` par ${d.authority}` : ''}`,
    items: decided.fiches.map((f) => ({
      ficheId: f.id, number: f.number, title: f.title, text: f.finding, status: STATUS_LABELS[f.status], targetDate: dmy(f.targetDate),
      late: isLate(f, today), owner: ownersSummary(f.owners) || '—',
    })),
  };
}

/**
 * The agenda's risk table, made whole (a commune's agent reads it through restrictAgenda): every risk of the
 * homologation, critical ones waiting on a late fiche first; and, since the previous meeting, the risk changes.
 */
async function agendaRisks(db: Knex, planId: number, sinceIso: string | null, today: string): Promise<AgendaRisks> {
  const [scales, risks, histories] = await reads(db,
    () => getRiskScales(db), () => committeeRisks(db, planId, null), () => (sinceIso ? riskHistoriesSince(db, planId, sinceIso) : Promise.resolve([])),
  );
  const changes = histories.flatMap((h) => {
    const list = riskChanges(scales, h.before, h.after);
    const named = h.after ?? h.before;
    return list.length && named ? [{ riskId: h.riskId, number: named.number, title: named.title, changes: list, communeIds: h.communeIds }] : [];
  }).sort((a, b) => a.number - b.number);
  return { critical: orPhrase(criticalClassLabels(scales)), risks: riskRows(scales, risks, today), changes };
}

/** What a meeting shows: its frozen snapshot once held, the live agenda before. */
export async function agendaOf(db: Knex, plan: Plan, meeting: Meeting, now: Date): Promise<Agenda> {
  return meeting.snapshot ?? liveAgenda(db, plan, meeting, now);
}
