import type { Knex } from 'knex';
import { type RiskLevels, type RiskScales, type Treatment, inScale, levelsOutOfScales } from '../domain/risks';
import type { Actor } from '../domain/roles';
import type { Status } from '../domain/statuses';
import type { AuditActor } from './audit';
import { isUniqueViolation } from './errors';
import { visibleTo as fichesVisibleTo } from './fiches';
import { reads } from './reads';
import { auditedWrite, insertedId, Refused } from './write';

// ---------------------------------------------------------------- scales and matrix

export interface StoredRiskScales extends RiskScales { version: number }

const parseList = (v: unknown): unknown[] => {
  try {
    const parsed: unknown = JSON.parse(String(v));
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
};

function scalesOf(r: Record<string, unknown>): StoredRiskScales {
  return {
    likelihood: parseList(r.likelihood_labels).map(String),
    severity: parseList(r.severity_labels).map(String),
    classes: parseList(r.class_labels).map(String),
    matrix: parseList(r.matrix).map((row) => (Array.isArray(row) ? row.map(Number) : [])),
    version: Number(r.version),
  };
}

export async function getRiskScales(db: Knex): Promise<StoredRiskScales> {
  return scalesOf(await db('risk_settings').where('id', 1).first());
}

/** Every risk's levels, of every homologation: what a change of the scales is compared against. */
export async function allRiskLevels(db: Knex): Promise<RiskLevels[]> {
  const rows = await db('risks').select('id', 'plan_id', 'number', 'title', 'likelihood', 'severity', 'residual_likelihood', 'residual_severity')
    .orderBy(['plan_id', 'number']);
  return rows.map(levelsOf);
}

const nullable = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const levelsOf = (r: Record<string, unknown>): RiskLevels => ({
  id: Number(r.id), planId: Number(r.plan_id), number: Number(r.number), title: String(r.title),
  likelihood: Number(r.likelihood), severity: Number(r.severity),
  residualLikelihood: nullable(r.residual_likelihood), residualSeverity: nullable(r.residual_severity),
});

export type ScalesSaveResult = { ok: true } | { ok: false; reason: 'conflict' } | { ok: false; reason: 'levels_in_use'; risks: RiskLevels[] };

/**
 * Saves the scales and matrix if nobody saved them since the form was opened. Refused while a risk holds a level
 * the new scales no longer have (checked under the settings' row lock, which every risk save takes too).
 */
export async function saveRiskScales(db: Knex, scales: RiskScales, expectedVersion: number, actor: AuditActor, at: Date): Promise<ScalesSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<ScalesSaveResult> => {
    const before = await trx('risk_settings').where({ id: 1 }).first();
    const updated = await trx('risk_settings').where({ id: 1, version: expectedVersion }).update({
      likelihood_labels: JSON.stringify(scales.likelihood), severity_labels: JSON.stringify(scales.severity),
      class_labels: JSON.stringify(scales.classes), matrix: JSON.stringify(scales.matrix),
      version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString(),
    });
    if (updated === 0) return { ok: false, reason: 'conflict' };
    const outside = levelsOutOfScales(await allRiskLevels(trx), scales);
    if (outside.length) throw new Refused<ScalesSaveResult>({ ok: false, reason: 'levels_in_use', risks: outside });
    const { version: _v, ...old } = scalesOf(before);
    await audit({ action: 'update', entityType: 'risk_settings', entityId: 1, summary: 'Échelles et matrice des risques', before: old, after: scales });
    return { ok: true };
  });
}

// ---------------------------------------------------------------- risks

export interface RiskFicheLink { id: number; number: number; title: string; status: Status; stepsDone: number; stepsTotal: number }
export interface RiskInstanceLink { id: number; name: string; serviceName: string; environmentLabel: string; communeId: number | null; communeName: string | null }

export interface RiskSummary extends RiskLevels {
  treatment: Treatment;
  fiches: RiskFicheLink[];
}

export interface RiskDetail extends RiskSummary {
  description: string;
  scenario: string;
  ownerTeamId: number | null;
  ownerTeamName: string | null;
  ownerName: string;
  existingMeasures: string;
  instances: RiskInstanceLink[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface RiskInput {
  title: string;
  description: string;
  scenario: string;
  ownerTeamId: number | null;
  ownerName: string;
  likelihood: number;
  severity: number;
  existingMeasures: string;
  treatment: Treatment;
  residualLikelihood: number | null;
  residualSeverity: number | null;
  ficheIds: number[];
  instanceIds: number[];
}

/** Restricts a risk query to what a commune may see: risks impacting at least one of its instances. */
function visibleTo(query: Knex.QueryBuilder, db: Knex, communeId: number | null): Knex.QueryBuilder {
  if (communeId === null) return query;
  return query.whereExists(
    db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').select(db.raw('1'))
      .whereRaw('risk_instances.risk_id = risks.id').where('instances.commune_id', communeId),
  );
}

/** The treating fiches of these risks (those the commune may see, when restricted), with their step counts. */
async function fichesOf(db: Knex, riskIds: Knex.QueryBuilder | number[], communeId: number | null): Promise<Map<number, RiskFicheLink[]>> {
  const [links, counts] = await reads(db,
    () => fichesVisibleTo(db('risk_fiches').join('fiches', 'fiches.id', 'risk_fiches.fiche_id').whereIn('risk_fiches.risk_id', riskIds), db, communeId)
      .select('risk_fiches.risk_id', 'fiches.id', 'fiches.number', 'fiches.title', 'fiches.status').orderBy('fiches.number'),
    () => db('steps').whereIn('fiche_id', db('risk_fiches').whereIn('risk_id', riskIds).select('fiche_id'))
      .groupBy('fiche_id').select('fiche_id').count({ total: '*' }).sum({ done: db.raw("case when status = 'fait' then 1 else 0 end") }),
  );
  const countBy = new Map((counts as { fiche_id: number; total: number; done: number }[]).map((c) => [Number(c.fiche_id), c]));
  const out = new Map<number, RiskFicheLink[]>();
  for (const r of links as { risk_id: number; id: number; number: number; title: string; status: Status }[]) {
    const c = countBy.get(Number(r.id));
    const list = out.get(Number(r.risk_id)) ?? [];
    list.push({ id: Number(r.id), number: Number(r.number), title: r.title, status: r.status, stepsDone: Number(c?.done ?? 0), stepsTotal: Number(c?.total ?? 0) });
    out.set(Number(r.risk_id), list);
  }
  return out;
}

/** The homologation's risks the user may see, in number order, each with its treating fiches: two queries whatever the size. */
export async function listRisks(db: Knex, planId: number, communeId: number | null): Promise<RiskSummary[]> {
  const visible = () => visibleTo(db('risks').where('risks.plan_id', planId), db, communeId);
  const [rows, fiches] = await Promise.all([
    visible().select('risks.*').orderBy('risks.number'),
    fichesOf(db, visible().select('risks.id'), communeId),
  ]);
  return rows.map((r: Record<string, unknown>) => ({ ...levelsOf(r), treatment: r.treatment as Treatment, fiches: fiches.get(Number(r.id)) ?? [] }));
}

/** One risk, or undefined when it does not exist or the commune may not see it. */
export async function getRisk(db: Knex, id: number, communeId: number | null = null): Promise<RiskDetail | undefined> {
  const r = await visibleTo(db('risks').where('risks.id', id), db, communeId)
    .leftJoin('teams', 'teams.id', 'risks.owner_team_id').select('risks.*', 'teams.name as team_name').first();
  if (!r) return undefined;
  const [fiches, instances] = await Promise.all([
    fichesOf(db, [id], communeId),
    db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .leftJoin('communes', 'communes.id', 'instances.commune_id').leftJoin('environments', 'environments.code', 'instances.environment')
      .where('risk_instances.risk_id', id)
      .select('instances.id', 'instances.name', 'instances.commune_id', 'services.name as service_name', 'communes.name as commune_name', 'environments.label as environment_label')
      .orderBy(['services.name', 'instances.name']),
  ]);
  return {
    ...levelsOf(r), treatment: r.treatment as Treatment, fiches: fiches.get(id) ?? [],
    description: String(r.description), scenario: String(r.scenario), ownerTeamId: nullable(r.owner_team_id), ownerTeamName: r.team_name ?? null,
    ownerName: String(r.owner_name), existingMeasures: String(r.existing_measures), version: Number(r.version),
    createdAt: String(r.created_at), updatedAt: String(r.updated_at),
    instances: instances.map((i: Record<string, unknown>) => ({
      id: Number(i.id), name: String(i.name), serviceName: String(i.service_name), environmentLabel: String(i.environment_label ?? ''),
      communeId: nullable(i.commune_id), communeName: (i.commune_name as string | null) ?? null,
    })),
  };
}

/** Whether the risk exists (whoever may see it): tells a commune's 403 from a 404. */
export async function riskPlanId(db: Knex, id: number): Promise<number | undefined> {
  const r = await db('risks').where({ id }).first('plan_id');
  return r ? Number(r.plan_id) : undefined;
}

/** The risks a fiche treats, those the user may see, highest number last. */
export async function risksOfFiche(db: Knex, ficheId: number, communeId: number | null): Promise<RiskLevels[]> {
  const rows = await visibleTo(db('risks').whereIn('risks.id', db('risk_fiches').where('fiche_id', ficheId).select('risk_id')), db, communeId)
    .select('risks.id', 'risks.plan_id', 'risks.number', 'risks.title', 'risks.likelihood', 'risks.severity', 'risks.residual_likelihood', 'risks.residual_severity')
    .orderBy('risks.number');
  return rows.map(levelsOf);
}

export type RiskSaveResult =
  | { ok: true; id: number; number: number }
  | { ok: false; reason: 'conflict' | 'not_found' | 'number_taken' }
  | { ok: false; reason: 'foreign_fiche'; ficheIds: number[] }
  | { ok: false; reason: 'outside_perimeter'; instanceIds: number[] }
  | { ok: false; reason: 'levels' };

/**
 * Checks, inside the save's transaction, what the form could not: the levels on the scales as they are now (the
 * settings' row is taken, so a change of scales waits for this save or this save for it), the fiches of this
 * homologation, the instances of its perimeter (under the homologation's row lock, as for a fiche's scope).
 */
async function checkLinks(trx: Knex.Transaction, planId: number, input: RiskInput): Promise<void> {
  await trx('risk_settings').where({ id: 1 }).update({ id: trx.raw('??', ['id']) });
  const scales = scalesOf(await trx('risk_settings').where({ id: 1 }).first());
  const levelsOk = inScale(scales.likelihood, input.likelihood) && inScale(scales.severity, input.severity)
    && (input.residualLikelihood === null || inScale(scales.likelihood, input.residualLikelihood))
    && (input.residualSeverity === null || inScale(scales.severity, input.residualSeverity));
  if (!levelsOk) throw new Refused<RiskSaveResult>({ ok: false, reason: 'levels' });
  await trx('plans').where('id', planId).update({ id: trx.raw('??', ['id']) });
  if (input.ficheIds.length) {
    const own = new Set((await trx('fiches').where('plan_id', planId).whereIn('id', input.ficheIds).select('id')).map((r) => Number(r.id)));
    const foreign = input.ficheIds.filter((id) => !own.has(id));
    if (foreign.length) throw new Refused<RiskSaveResult>({ ok: false, reason: 'foreign_fiche', ficheIds: foreign });
  }
  if (input.instanceIds.length) {
    const inside = new Set((await trx('plan_instances').where('plan_id', planId).whereIn('instance_id', input.instanceIds).select('instance_id')).map((r) => Number(r.instance_id)));
    const outside = input.instanceIds.filter((id) => !inside.has(id));
    if (outside.length) throw new Refused<RiskSaveResult>({ ok: false, reason: 'outside_perimeter', instanceIds: outside });
  }
}

async function writeLinks(trx: Knex.Transaction, riskId: number, input: RiskInput): Promise<void> {
  await trx('risk_fiches').where('risk_id', riskId).delete();
  const ficheIds = [...new Set(input.ficheIds)];
  if (ficheIds.length) await trx('risk_fiches').insert(ficheIds.map((ficheId) => ({ risk_id: riskId, fiche_id: ficheId })));
  await trx('risk_instances').where('risk_id', riskId).delete();
  const instanceIds = [...new Set(input.instanceIds)];
  if (instanceIds.length) await trx('risk_instances').insert(instanceIds.map((instanceId) => ({ risk_id: riskId, instance_id: instanceId })));
}

function columns(input: RiskInput) {
  return {
    title: input.title, description: input.description, scenario: input.scenario, owner_team_id: input.ownerTeamId, owner_name: input.ownerName,
    likelihood: input.likelihood, severity: input.severity, existing_measures: input.existingMeasures, treatment: input.treatment,
    residual_likelihood: input.residualLikelihood, residual_severity: input.residualSeverity,
  };
}

/** What the audit trail keeps of a risk: its fields, levels and links (the history of its levels is read from it). */
async function auditView(trx: Knex, id: number) {
  const r = await trx('risks').where({ id }).first();
  if (!r) return undefined;
  const [fiches, instances] = await Promise.all([
    trx('risk_fiches').where('risk_id', id).orderBy('fiche_id').pluck('fiche_id'),
    trx('risk_instances').where('risk_id', id).orderBy('instance_id').pluck('instance_id'),
  ]);
  return {
    // the homologation: a deleted risk's last audit row still says where it was (the committee's "since the last meeting")
    planId: Number(r.plan_id),
    number: Number(r.number), title: r.title, description: r.description, scenario: r.scenario, ownerTeamId: nullable(r.owner_team_id), ownerName: r.owner_name,
    likelihood: Number(r.likelihood), severity: Number(r.severity), existingMeasures: r.existing_measures, treatment: r.treatment,
    residualLikelihood: nullable(r.residual_likelihood), residualSeverity: nullable(r.residual_severity),
    ficheIds: fiches.map(Number), instanceIds: instances.map(Number),
  };
}

/**
 * Adds a risk to the homologation, numbered after its highest, read under the homologation's row lock; the unique
 * (plan, number) is the guard should two saves still meet (then the save starts again, a few times at most).
 * With `number` (an import), the risk takes that number; one already taken is refused as 'number_taken'.
 */
export async function createRisk(db: Knex, planId: number, input: RiskInput, actor: Actor, at: Date, number?: number): Promise<RiskSaveResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await auditedWrite(db, { actor, at }, async (trx, audit): Promise<RiskSaveResult> => {
        await checkLinks(trx, planId, input);
        const max = number === undefined ? await trx('risks').where('plan_id', planId).max({ n: 'number' }).first() : undefined;
        const n = number ?? Number(max?.n ?? 0) + 1;
        const iso = at.toISOString();
        const id = insertedId(await trx('risks').insert({ ...columns(input), plan_id: planId, number: n, version: 1, created_at: iso, updated_at: iso }).returning('id'));
        await writeLinks(trx, id, input);
        await audit({ action: 'create', entityType: 'risk', entityId: id, summary: `Risque n°${n} : ${input.title}`, after: await auditView(trx, id) });
        return { ok: true, id, number: n };
      }, number === undefined ? {} : { unique: { ok: false, reason: 'number_taken' } as const });
    } catch (err) {
      if (attempt < 3 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

/** Saves a risk only if nobody saved it since the form was opened (optimistic locking on `version`). */
export async function updateRisk(db: Knex, id: number, expectedVersion: number, input: RiskInput, actor: Actor, at: Date): Promise<RiskSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<RiskSaveResult> => {
    const current = await trx('risks').where({ id }).first('plan_id', 'number');
    if (!current) return { ok: false, reason: 'not_found' };
    await checkLinks(trx, Number(current.plan_id), input);
    const before = await auditView(trx, id);
    const updated = await trx('risks').where({ id, version: expectedVersion })
      .update({ ...columns(input), version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString() });
    if (updated === 0) return { ok: false, reason: 'conflict' };
    await writeLinks(trx, id, input);
    await audit({ action: 'update', entityType: 'risk', entityId: id, summary: `Risque n°${current.number} : ${input.title}`, before, after: await auditView(trx, id) });
    return { ok: true, id, number: Number(current.number) };
  });
}

export async function deleteRisk(db: Knex, id: number, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await auditView(trx, id);
    if (!before) return false;
    const deleted = await trx('risks').where({ id }).delete();
    if (deleted === 0) return false;
    await audit({ action: 'delete', entityType: 'risk', entityId: id, summary: `Risque n°${before.number} : ${before.title}`, before });
    return true;
  });
}
