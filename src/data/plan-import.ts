import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import {
  type ExistingFiche, type ExistingRisk, type ImportContext, type ImportPlan, type ImportSheet, planImport, type SheetMapping,
} from '../domain/plan-import';
import type { Actor } from '../domain/roles';
import { createFiche, type FicheSaveResult, getFiches, updateFiche } from './fiches';
import { reads } from './reads';
import { createRisk, getRiskScales, type RiskSaveResult, updateRisk } from './risks';
import { auditedWrite, insertedId, Refused } from './write';

/** An uploaded spreadsheet waiting for its confirmation (see migration 010_imports). */
export interface PendingImport {
  id: number;
  planId: number;
  userId: number;
  fileName: string;
  format: string;
  sheets: ImportSheet[];
  mappings: SheetMapping[];
  createTeams: string[];
  createdAt: string;
  appliedAt: string | null;
  summary: string | null;
}

/** How long an upload waits for its confirmation. */
const KEPT_MS = 24 * 60 * 60 * 1000;

const json = <T>(text: unknown, fallback: T): T => {
  try {
    return JSON.parse(String(text)) as T;
  } catch {
    return fallback;
  }
};

/** Uploads past their day are removed (the scheduler's retention round, and every new upload). */
export async function purgeUploads(db: Knex, now: Date): Promise<number> {
  return db('plan_imports').where('created_at', '<', new Date(now.getTime() - KEPT_MS).toISOString()).delete();
}

export async function saveUpload(
  db: Knex, planId: number, userId: number, file: { name: string; format: string; sheets: ImportSheet[]; mappings: SheetMapping[] }, at: Date,
): Promise<number> {
  // uploads never confirmed, and confirmed ones, are not kept past a day: they hold the plan's data
  await purgeUploads(db, at);
  return insertedId(await db('plan_imports').insert({
    plan_id: planId, user_id: userId, file_name: file.name.slice(0, 255), format: file.format,
    sheets: JSON.stringify(file.sheets), mappings: JSON.stringify(file.mappings), create_teams: '[]', created_at: at.toISOString(),
  }).returning('id'));
}

/**
 * The upload, if it is this homologation's and not older than a day. Any of its editors may review and confirm it:
 * the project team prepares an import together (the confirmation is audited under who confirmed).
 */
export async function getUpload(db: Knex, id: number, planId: number, at: Date): Promise<PendingImport | undefined> {
  const r = await db('plan_imports').where({ id, plan_id: planId })
    .where('created_at', '>=', new Date(at.getTime() - KEPT_MS).toISOString()).first();
  if (!r) return undefined;
  return {
    id: Number(r.id), planId: Number(r.plan_id), userId: Number(r.user_id), fileName: String(r.file_name), format: String(r.format),
    sheets: json(r.sheets, []), mappings: json(r.mappings, []), createTeams: json(r.create_teams, []),
    createdAt: String(r.created_at), appliedAt: r.applied_at ?? null, summary: r.summary ?? null,
  };
}

/** The mapping chosen on the preview screen; not once the import was confirmed. */
export async function saveMapping(db: Knex, id: number, mappings: SheetMapping[], createTeams: string[]): Promise<boolean> {
  return (await db('plan_imports').where({ id }).whereNull('applied_at')
    .update({ mappings: JSON.stringify(mappings), create_teams: JSON.stringify(createTeams) })) === 1;
}

/** The homologation's plan as the import compares against it: a fixed number of reads whatever its size. */
export async function importContext(db: Knex, planId: number, createTeams: readonly string[]): Promise<ImportContext> {
  const [teams, services, instances, ficheIds, risks, riskFiches, riskInstances, scales, users, people] = await reads(db,
    () => db('teams').select('id', 'name').orderBy('name'),
    () => db('services').select('id', 'name').orderBy('position'),
    () => db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .where('plan_instances.plan_id', planId).select('instances.id', 'instances.name', 'services.name as service_name'),
    () => db('fiches').where('plan_id', planId).pluck('id'),
    () => db('risks').where('plan_id', planId).select('*').orderBy('number'),
    () => db('risk_fiches').join('risks', 'risks.id', 'risk_fiches.risk_id').join('fiches', 'fiches.id', 'risk_fiches.fiche_id')
      .where('risks.plan_id', planId).select('risk_fiches.risk_id', 'fiches.number').orderBy('fiches.number'),
    () => db('risk_instances').join('risks', 'risks.id', 'risk_instances.risk_id').where('risks.plan_id', planId)
      .select('risk_instances.risk_id', 'risk_instances.instance_id').orderBy('risk_instances.instance_id'),
    () => getRiskScales(db),
    // suspended accounts too: a step they still hold re-imports as it is (the form then asks for someone else)
    () => db('users').whereNull('anonymized_at').select('id', 'name', 'email'),
    () => db('people').select('id', 'name', 'email'),
  );
  const fiches = await getFiches(db, (ficheIds as unknown[]).map(Number), { perimeter: false });
  const group = (rows: Record<string, unknown>[], value: string) => {
    const map = new Map<number, number[]>();
    for (const r of rows) map.set(Number(r.risk_id), [...(map.get(Number(r.risk_id)) ?? []), Number(r[value])]);
    return map;
  };
  const fichesOfRisk = group(riskFiches, 'number');
  const instancesOfRisk = group(riskInstances, 'instance_id');
  const nullable = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    teams: teams.map((t: Record<string, unknown>) => ({ id: Number(t.id), name: String(t.name) })),
    services: services.map((s: Record<string, unknown>) => ({ id: Number(s.id), name: String(s.name) })),
    instances: instances.map((i: Record<string, unknown>) => ({ id: Number(i.id), name: String(i.name), serviceName: String(i.service_name) })),
    assignees: [
      ...(users as Record<string, unknown>[]).map((u) => ({ value: `u${u.id}`, name: String(u.name), email: String(u.email) })),
      ...(people as Record<string, unknown>[]).map((p) => ({ value: `p${p.id}`, name: String(p.name), email: String(p.email) })),
    ],
    scales,
    fiches: fiches.map((f): ExistingFiche => ({
      id: f.id, number: Number(f.number), version: Number(f.version), title: f.title, finding: f.finding, targetDate: f.targetDate, status: f.status,
      conclusion: f.conclusion, conclusionCounts: f.conclusionCounts, costAmount: f.costAmount === null ? null : Number(f.costAmount), costSource: f.costSource,
      scopeAll: f.scopeAll, instanceIds: f.scopeAll ? [] : f.scope.map((s) => s.id),
      owners: f.owners.map((o) => ({ teamId: Number(o.teamId), serviceId: o.serviceId === null ? null : Number(o.serviceId) })),
      steps: f.steps.map((s) => ({
        id: s.id, position: s.position, label: s.label, status: s.status, forCommunes: Boolean(s.forCommunes),
        assignee: s.assigneeUserId !== null ? `u${s.assigneeUserId}` : s.assigneePersonId !== null ? `p${s.assigneePersonId}` : null, targetDate: s.targetDate,
      })),
      sideEffects: f.sideEffects.map((e) => ({ level: e.level, description: e.description })),
    })),
    risks: risks.map((r: Record<string, unknown>): ExistingRisk => ({
      id: Number(r.id), number: Number(r.number), version: Number(r.version), title: String(r.title), description: String(r.description),
      scenario: String(r.scenario), ownerTeamId: nullable(r.owner_team_id), ownerName: String(r.owner_name), likelihood: Number(r.likelihood),
      severity: Number(r.severity), existingMeasures: String(r.existing_measures), treatment: r.treatment as ExistingRisk['treatment'],
      residualLikelihood: nullable(r.residual_likelihood), residualSeverity: nullable(r.residual_severity),
      ficheNumbers: fichesOfRisk.get(Number(r.id)) ?? [], instanceIds: instancesOfRisk.get(Number(r.id)) ?? [],
    })),
    createTeams,
  };
}

/** What the preview showed, in a few characters: the confirmation applies the import only if it would still do that. */
export function fingerprint(plan: ImportPlan): string {
  const what = {
    fiches: plan.fiches.map((c) => [c.kind, c.number, c.version, c.changed]),
    risks: plan.risks.map((c) => [c.kind, c.number, c.version, c.changed]),
    teams: plan.newTeams,
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('base64url').slice(0, 22);
}

export interface ImportCounts {
  fichesCreated: number; fichesUpdated: number; fichesUnchanged: number;
  risksCreated: number; risksUpdated: number; risksUnchanged: number; teamsCreated: number;
}

export function countsOf(plan: ImportPlan): ImportCounts {
  const n = <T extends { kind: string }>(list: T[], kind: string) => list.filter((c) => c.kind === kind).length;
  return {
    fichesCreated: n(plan.fiches, 'create'), fichesUpdated: n(plan.fiches, 'update'), fichesUnchanged: n(plan.fiches, 'unchanged'),
    risksCreated: n(plan.risks, 'create'), risksUpdated: n(plan.risks, 'update'), risksUnchanged: n(plan.risks, 'unchanged'),
    teamsCreated: plan.newTeams.length,
  };
}

export type ApplyResult =
  | { ok: true; counts: ImportCounts; changed: boolean }
  /** already confirmed (a second click, another tab) */
  | { ok: false; reason: 'applied' }
  /** the file has line errors (the plan changed meanwhile, or the preview was not read) */
  | { ok: false; reason: 'errors' }
  /** the plan changed since the preview: the import would no longer do what the user read */
  | { ok: false; reason: 'changed'; detail: string };

const changedMeanwhile = (detail: string) => new Refused<ApplyResult>({ ok: false, reason: 'changed', detail });

function ficheFailure(number: number, r: FicheSaveResult): Refused<ApplyResult> {
  if (r.ok) throw new Error('not a failure');
  const why: Record<string, string> = {
    duplicate_number: `la fiche n°${number} vient d'être créée par quelqu'un d'autre`,
    conflict: `la fiche n°${number} vient d'être modifiée par quelqu'un d'autre`,
    not_found: `la fiche n°${number} vient d'être supprimée`,
    unknown_step: `les étapes de la fiche n°${number} viennent de changer`,
    outside_perimeter: `le périmètre de l'homologation vient de changer (fiche n°${number})`,
  };
  return changedMeanwhile(why[r.reason] ?? `la fiche n°${number} n'a pas pu être enregistrée`);
}

function riskFailure(number: number, r: RiskSaveResult): Refused<ApplyResult> {
  if (r.ok) throw new Error('not a failure');
  const why: Record<string, string> = {
    number_taken: `le risque n°${number} vient d'être créé par quelqu'un d'autre`,
    conflict: `le risque n°${number} vient d'être modifié par quelqu'un d'autre`,
    not_found: `le risque n°${number} vient d'être supprimé`,
    levels: "les échelles des risques viennent de changer",
    outside_perimeter: `le périmètre de l'homologation vient de changer (risque n°${number})`,
    foreign_fiche: `une fiche liée au risque n°${number} vient de changer`,
  };
  return changedMeanwhile(why[r.reason] ?? `le risque n°${number} n'a pas pu être enregistré`);
}

/**
 * Applies a confirmed import in one transaction: all of it or nothing. Under the homologation's row lock, the plan is
 * read again and the import computed again; it is applied only if it still does what the preview showed (same
 * fingerprint), each fiche and risk through its own guarded save (its version checked), each with its audit row, and
 * one audit row for the import (file name and counts). The upload is marked applied in the same transaction, by a
 * guarded update: a second confirmation finds it applied. An import that changes nothing writes nothing.
 */
export async function applyImport(db: Knex, upload: PendingImport, expected: string, actor: Actor, at: Date): Promise<ApplyResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<ApplyResult> => {
    const claimed = await trx('plan_imports').where({ id: upload.id }).whereNull('applied_at').update({ applied_at: at.toISOString() });
    if (claimed !== 1) return { ok: false, reason: 'applied' };
    await trx('plans').where('id', upload.planId).update({ id: trx.raw('??', ['id']) });
    const plan = planImport(upload.sheets, upload.mappings, await importContext(trx, upload.planId, upload.createTeams));
    if (plan.errors.length) throw new Refused<ApplyResult>({ ok: false, reason: 'errors' });
    if (fingerprint(plan) !== expected) throw changedMeanwhile("le plan a changé depuis l'aperçu");
    const counts = countsOf(plan);
    const changed = counts.fichesCreated + counts.fichesUpdated + counts.risksCreated + counts.risksUpdated + counts.teamsCreated > 0;
    if (!changed) {
      await trx('plan_imports').where({ id: upload.id }).update({ summary: 'Aucune modification' });
      return { ok: true, counts, changed };
    }
    const teamIds = new Map<string, number>();
    for (const name of plan.newTeams) {
      if (await trx('teams').whereRaw('lower(name) = lower(?)', [name]).first('id')) throw changedMeanwhile(`l'équipe « ${name} » vient d'être créée`);
      const id = insertedId(await trx('teams').insert({ name, description: '' }).returning('id'));
      teamIds.set(name, id);
      await audit({ action: 'create', entityType: 'team', entityId: id, summary: `Équipe ${name} (créée par un import)`, after: { name } });
    }
    for (const c of plan.fiches) {
      if (c.kind === 'unchanged') continue;
      const { owners, steps, ...fields } = c.input;
      const input = {
        ...fields,
        owners: owners.map((o) => ({ teamId: o.teamId ?? teamIds.get(o.teamName)!, serviceId: o.serviceId })),
        steps: steps.map((s) => ({
          id: s.id, position: s.position, label: s.label, status: s.status, forCommunes: s.forCommunes, targetDate: s.targetDate,
          assigneeUserId: s.assignee?.startsWith('u') ? Number(s.assignee.slice(1)) : null,
          assigneePersonId: s.assignee?.startsWith('p') ? Number(s.assignee.slice(1)) : null,
        })),
      };
      const r = c.kind === 'create'
        ? await createFiche(trx, upload.planId, input, actor, at)
        : await updateFiche(trx, c.id!, c.version!, input, actor, at);
      if (!r.ok) throw ficheFailure(c.number, r);
    }
    const ficheIdOf = new Map((await trx('fiches').where('plan_id', upload.planId).select('id', 'number')).map((f) => [Number(f.number), Number(f.id)]));
    for (const c of plan.risks) {
      if (c.kind === 'unchanged') continue;
      const { ficheNumbers, number, ...fields } = c.input;
      const input = { ...fields, ficheIds: ficheNumbers.map((n) => ficheIdOf.get(n)!) };
      const r = c.kind === 'create'
        ? await createRisk(trx, upload.planId, input, actor, at, number)
        : await updateRisk(trx, c.id!, c.version!, input, actor, at);
      if (!r.ok) throw riskFailure(c.number, r);
    }
    const summary = importSummary(upload.fileName, counts);
    await trx('plan_imports').where({ id: upload.id }).update({ summary });
    await audit({ action: 'import', entityType: 'plan', entityId: upload.planId, summary, after: { fileName: upload.fileName, ...counts } });
    return { ok: true, counts, changed };
  });
}

const plural = (n: number, one: string, many: string) => `${n} ${n > 1 ? many : one}`;

/** "Import de « plan.xlsx » : 3 fiches créées, 2 mises à jour ; 9 risques créés." */
export function importSummary(fileName: string, c: ImportCounts): string {
  const fiches = [c.fichesCreated ? plural(c.fichesCreated, 'fiche créée', 'fiches créées') : '', c.fichesUpdated ? plural(c.fichesUpdated, 'fiche mise à jour', 'fiches mises à jour') : '']
    .filter(Boolean).join(', ');
  const risks = [c.risksCreated ? plural(c.risksCreated, 'risque créé', 'risques créés') : '', c.risksUpdated ? plural(c.risksUpdated, 'risque mis à jour', 'risques mis à jour') : '']
    .filter(Boolean).join(', ');
  const teams = c.teamsCreated ? plural(c.teamsCreated, 'équipe créée', 'équipes créées') : '';
  return `Import de « ${fileName} » : ${[fiches, risks, teams].filter(Boolean).join(' ; ') || 'aucune modification'}.`;
}
