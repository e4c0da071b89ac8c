import type { Knex } from 'knex';
import type { Plan } from './plans';
import { getFiches, visibleTo as fichesVisibleTo } from './fiches';
import { listMeetings, listSignatures } from './meetings';
import { instancesOfPlan, milestones, teams } from './referentials';
import { getRiskScales } from './risks';
import { reads } from './reads';
import type { ExportInstance, ExportMeeting, ExportRisk, PlanSnapshot } from '../domain/plan-export';
import type { Treatment } from '../domain/risks';
import type { RiskScales } from '../domain/risks';

/** Restricts a risk query to what a commune may see: risks impacting at least one of its instances (as listRisks). */
function risksVisibleTo(query: Knex.QueryBuilder, db: Knex, communeId: number | null): Knex.QueryBuilder {
  if (communeId === null) return query;
  return query.whereExists(
    db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').select(db.raw('1'))
      .whereRaw('risk_instances.risk_id = risks.id').where('instances.commune_id', communeId),
  );
}

const nullable = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The homologation's risks the user may see, with their visible fiches' numbers and their instances: three queries. */
async function exportRisks(db: Knex, planId: number, communeId: number | null): Promise<ExportRisk[]> {
  const visible = () => risksVisibleTo(db('risks').where('risks.plan_id', planId), db, communeId);
  const [rows, links, instances] = await reads(db,
    () => visible().leftJoin('teams', 'teams.id', 'risks.owner_team_id').select('risks.*', 'teams.name as team_name').orderBy('risks.number'),
    () => fichesVisibleTo(db('risk_fiches').join('fiches', 'fiches.id', 'risk_fiches.fiche_id').whereIn('risk_fiches.risk_id', visible().select('risks.id')), db, communeId)
      .select('risk_fiches.risk_id', 'fiches.number').orderBy('fiches.number'),
    () => db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .whereIn('risk_instances.risk_id', visible().select('risks.id'))
      .modify((q) => { if (communeId !== null) q.where('instances.commune_id', communeId); })
      .select('risk_instances.risk_id', 'instances.name', 'services.name as service_name').orderBy(['services.position', 'instances.environment', 'instances.name']),
  );
  const numbersBy = new Map<number, number[]>();
  for (const l of links as { risk_id: number; number: number }[]) {
    const list = numbersBy.get(Number(l.risk_id)) ?? [];
    list.push(Number(l.number));
    numbersBy.set(Number(l.risk_id), list);
  }
  const instancesBy = new Map<number, ExportInstance[]>();
  for (const i of instances as { risk_id: number; name: string; service_name: string }[]) {
    const list = instancesBy.get(Number(i.risk_id)) ?? [];
    list.push({ serviceName: String(i.service_name), name: String(i.name) });
    instancesBy.set(Number(i.risk_id), list);
  }
  return (rows as Record<string, unknown>[]).map((r) => ({
    number: Number(r.number), title: String(r.title), description: String(r.description ?? ''), scenario: String(r.scenario ?? ''),
    likelihood: Number(r.likelihood), severity: Number(r.severity),
    residualLikelihood: nullable(r.residual_likelihood), residualSeverity: nullable(r.residual_severity),
    ownerTeamName: (r.team_name as string | null) ?? null, ownerName: String(r.owner_name ?? ''), existingMeasures: String(r.existing_measures ?? ''),
    treatment: r.treatment as Treatment,
    ficheNumbers: numbersBy.get(Number(r.id)) ?? [],
    instances: instancesBy.get(Number(r.id)) ?? [],
  }));
}

/**
 * The meetings the user may see (a commune agent: those covering one of its fiches), oldest first, with the
 * numbers of the fiches they cover, their number of attendees and the committee's decisions (a commune agent reads
 * those about its fiches and the general ones).
 */
async function exportMeetings(db: Knex, planId: number, visibleFicheIds: number[] | null): Promise<ExportMeeting[]> {
  const list = (await listMeetings(db, planId, visibleFicheIds)).reverse();
  const ids = list.map((m) => m.id);
  if (!ids.length) return [];
  const [details, covered, attendees, decisions] = await reads(db,
    () => db('meetings').whereIn('id', ids).select('id', 'covers_all'),
    () => db('meeting_fiches').join('fiches', 'fiches.id', 'meeting_fiches.fiche_id').whereIn('meeting_fiches.meeting_id', ids)
      .modify((q) => { if (visibleFicheIds !== null) q.whereIn('fiches.id', visibleFicheIds); })
      .select('meeting_fiches.meeting_id', 'fiches.number').orderBy('fiches.number'),
    () => db('meeting_attendees').whereIn('meeting_id', ids).groupBy('meeting_id').select('meeting_id').count({ n: '*' }),
    () => db('meeting_decisions').leftJoin('fiches', 'fiches.id', 'meeting_decisions.fiche_id').whereIn('meeting_decisions.meeting_id', ids)
      .modify((q) => { if (visibleFicheIds !== null) q.where((w) => w.whereNull('meeting_decisions.fiche_id').orWhereIn('meeting_decisions.fiche_id', visibleFicheIds)); })
      .select('meeting_decisions.meeting_id', 'meeting_decisions.text', 'fiches.number').orderBy('meeting_decisions.id'),
  );
  const coversAll = new Map((details as { id: number; covers_all: unknown }[]).map((d) => [Number(d.id), Boolean(d.covers_all)]));
  const group = <T>(rows: { meeting_id: number }[], value: (r: never) => T) => {
    const out = new Map<number, T[]>();
    for (const r of rows) {
      const l = out.get(Number(r.meeting_id)) ?? [];
      l.push(value(r as never));
      out.set(Number(r.meeting_id), l);
    }
    return out;
  };
  const fichesBy = group(covered as { meeting_id: number; number: number }[], (r: { number: number }) => Number(r.number));
  const decisionsBy = group(decisions as { meeting_id: number }[], (r: { text: string; number: number | null }) =>
    (r.number === null || r.number === undefined ? String(r.text) : `Fiche n°${r.number} : ${String(r.text)}`));
  const attendeesBy = new Map((attendees as { meeting_id: number; n: number | string }[]).map((a) => [Number(a.meeting_id), Number(a.n)]));
  return list.map((m) => ({
    title: m.title, kind: m.kind, startsAt: m.startsAt, endsAt: m.endsAt, place: m.place, heldAt: m.heldAt,
    coversAll: coversAll.get(m.id) ?? false, ficheNumbers: fichesBy.get(m.id) ?? [], attendees: attendeesBy.get(m.id) ?? 0,
    decisions: decisionsBy.get(m.id) ?? [],
  }));
}

/**
 * Everything the export writes of a homologation, as the user may see it, in a fixed number of queries whatever the
 * size of the plan: a commune agent (`communeId`) gets the fiches and risks touching its instances, each fiche's scope
 * and each risk's instances narrowed to its own, the meetings covering its fiches, the decisions without their text.
 * Reads only.
 */
export async function planSnapshot(db: Knex, plan: Pick<Plan, 'id' | 'title' | 'organisation'>, communeId: number | null): Promise<PlanSnapshot> {
  const ids = (await fichesVisibleTo(db('fiches').where('fiches.plan_id', plan.id), db, communeId).select('fiches.id').orderBy('fiches.number'))
    .map((r: { id: number }) => Number(r.id));
  const [details, risks, scales, milestoneList, meetings, signatures] = await reads(db,
    // a fiche on the whole perimeter is written « Tout le périmètre »: its instances need not be read
    () => getFiches(db, ids, { perimeter: false }),
    () => exportRisks(db, plan.id, communeId),
    () => getRiskScales(db),
    () => milestones.listWhere(db, 'plan_id', plan.id),
    () => exportMeetings(db, plan.id, communeId === null ? null : ids),
    () => listSignatures(db, plan.id),
  );
  const { version: _version, ...riskScales } = scales;
  return {
    plan: { id: plan.id, title: plan.title, organisation: plan.organisation },
    scales: riskScales,
    fiches: details.map((f) => ({
      number: Number(f.number), title: f.title, finding: f.finding, targetDate: f.targetDate, status: f.status,
      conclusion: f.conclusion, conclusionCounts: f.conclusionCounts.map((c) => ({ count: Number(c.count), total: Number(c.total), label: c.label })),
      costAmount: f.costAmount === null ? null : Number(f.costAmount), costSource: f.costSource, scopeAll: f.scopeAll,
      // a commune agent sees its own instances in the scope, never another commune's (as getFiche)
      scope: f.scope.filter((s) => communeId === null || s.communeId === communeId).map((s) => ({ serviceName: s.serviceName, name: s.name })),
      owners: f.owners.map((o) => ({ teamName: o.teamName, serviceName: o.serviceName })),
      steps: f.steps.map((s) => ({ position: s.position, label: s.label, status: s.status, forCommunes: Boolean(s.forCommunes), assignee: s.assigneeName, targetDate: s.targetDate })),
      sideEffects: f.sideEffects.map((e) => ({ level: e.level, description: e.description })),
    })),
    risks,
    milestones: milestoneList.map((m) => ({ dueDate: m.dueDate, title: m.title, done: m.done })),
    meetings,
    // the plan's page shows a commune agent the decision, not its conditions' full text
    decisions: signatures.map((s) => ({
      decidedOn: s.decidedOn, outcome: s.outcome, authority: s.authority, durationMonths: s.durationMonths, endsOn: s.endsOn,
      conditions: communeId === null ? s.conditions : '',
    })),
  };
}

/** What the import template fills its example with: the organisation's scales, the homologation's first instances, a team. */
export async function templateReferences(db: Knex, planId: number, communeId: number | null): Promise<{ scales: RiskScales; instances: ExportInstance[]; teamName: string | null }> {
  const [scales, instanceList, teamList] = await reads(db, () => getRiskScales(db), () => instancesOfPlan(db, planId, communeId), () => teams.list(db));
  const { version: _version, ...riskScales } = scales;
  return {
    scales: riskScales,
    instances: instanceList.slice(0, 2).map((i) => ({ serviceName: i.serviceName, name: i.name })),
    teamName: teamList[0]?.name ?? null,
  };
}
