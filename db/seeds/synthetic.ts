import { addDays } from 'date-fns/addDays';
import { format } from 'date-fns/format';
import type { Knex } from 'knex';
import { passwordHasher } from '../../src/security/passwords';

/** Small seeded PRNG (mulberry32), so a synthetic plan is the same at every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function bulk(db: Knex, table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await db(table).insert(rows.slice(i, i + 500));
}

const STATUSES = ['non_demarre', 'en_cours', 'bloque', 'fait'] as const;

type FicheRow = { id: number; status: string; target_date: string | null; scope_all: unknown; title: string; number: number };

/**
 * A homologation's fiches with their steps, side effects, owners, counts and scope (for a fiche not covering the
 * whole perimeter: instances drawn from `scopeFrom`, the homologation's own).
 */
async function insertFiches(
  trx: Knex, planId: number,
  o: { fiches: number; steps: number; scopeFrom: number[]; teamIds: number[]; rnd: () => number; day: (offset: number) => string; iso: string; conditionOf?: number | null; firstNumber?: number },
): Promise<{ fiches: FicheRow[]; ficheIds: number[] }> {
  const { rnd, day, iso } = o;
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const first = o.firstNumber ?? 1;
  await bulk(trx, 'fiches', Array.from({ length: o.fiches }, (_, i) => ({
    plan_id: planId, number: first + i, title: `Fiche synthétique ${first + i}`, finding: `Constat ${first + i}`, target_date: day(Math.floor(rnd() * 1080) - 540),
    status: pick(STATUSES), conclusion: '', cost_amount: i % 7 === 0 ? 1000 + i : null, cost_source: '', scope_all: i % 3 !== 0,
    version: 1, created_at: iso, updated_at: iso, condition_of: i === 0 ? o.conditionOf ?? null : null,
  })));
  const fiches: FicheRow[] = await trx('fiches').where('plan_id', planId).where('number', '>=', first)
    .select('id', 'status', 'target_date', 'scope_all', 'title', 'number').orderBy('number');
  const ficheIds = fiches.map((f) => Number(f.id));
  const perFiche = Math.max(1, Math.round(o.steps / Math.max(1, o.fiches)));
  await bulk(trx, 'steps', ficheIds.flatMap((id) => Array.from({ length: perFiche }, (_, p) => ({ fiche_id: id, position: p + 1, label: `Action ${p + 1}`, status: pick(STATUSES) }))));
  await bulk(trx, 'side_effects', ficheIds.flatMap((id, i) => (i % 4 === 0 ? [{ fiche_id: id, position: 1, level: i % 8 === 0 ? 'fort' : 'faible', description: `Effet ${i}` }] : [])));
  await bulk(trx, 'fiche_owners', ficheIds.map((id) => ({ fiche_id: id, team_id: pick(o.teamIds), service_id: null })));
  await bulk(trx, 'conclusion_counts', ficheIds.flatMap((id, i) => (i % 5 === 0 ? [{ fiche_id: id, position: 1, count: 3, total: 10, label: 'formulaires' }] : [])));
  await bulk(trx, 'fiche_instances', fiches.filter((f) => !f.scope_all).flatMap((f) => {
    const chosen = new Set(Array.from({ length: 1 + Math.floor(rnd() * 50) }, () => pick(o.scopeFrom)));
    return [...chosen].map((instanceId) => ({ fiche_id: f.id, instance_id: instanceId }));
  }));
  return { fiches, ficheIds };
}

/** One audit snapshot per fiche, in the shape the app writes, so history-based views work, and its steps done. */
async function auditSnapshots(trx: Knex, planId: number, fiches: FicheRow[], userId: number | null, day: (offset: number) => string): Promise<void> {
  const steps = await trx('steps').whereIn('fiche_id', trx('fiches').where('plan_id', planId).select('id')).select('id', 'fiche_id', 'position', 'label', 'status');
  const stepsBy = new Map<number, typeof steps>();
  for (const s of steps) {
    const list = stepsBy.get(Number(s.fiche_id));
    if (list) list.push(s); else stepsBy.set(Number(s.fiche_id), [s]);
  }
  await bulk(trx, 'audit_log', fiches.map((f) => ({
    at: day(-600) + 'T09:00:00.000Z', user_id: userId, actor: 'Génération synthétique', action: 'create', entity_type: 'fiche', entity_id: f.id,
    summary: `Fiche n°${f.number}`, before: null,
    after: JSON.stringify({ number: f.number, title: f.title, status: f.status, targetDate: f.target_date, steps: (stepsBy.get(Number(f.id)) ?? []).map((s) => ({ id: s.id, position: s.position, label: s.label, status: s.status })), sideEffects: [] }),
  })));
  // and the compact history of steps done the app writes with each change (the dashboard's trend)
  await bulk(trx, 'fiche_progress', fiches.map((f) => ({
    fiche_id: f.id, at: day(-600) + 'T09:00:00.000Z', steps_done: (stepsBy.get(Number(f.id)) ?? []).filter((s) => s.status === 'fait').length,
  })));
}

export const SYNTHETIC_PASSWORD = 'plan-synthetique-2026';

/**
 * Fills an empty, migrated database with a national-scale plan, reproducibly, with bulk inserts
 * (the big tables skip the audited data functions; each fiche still gets the audit snapshot the app writes).
 */
export async function generateSyntheticPlan(
  db: Knex, o: { communes: number; instances: number; fiches: number; steps: number; notes: number; seed: number; now: Date },
): Promise<{ planId: number; ficheIds: number[]; meetingId: number; userEmail: string; password: string }> {
  const rnd = prng(o.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const day = (offset: number) => format(addDays(o.now, offset), 'yyyy-MM-dd');
  const iso = o.now.toISOString();
  // a measuring account signs in with its password alone, as in the demo
  await db('security_settings').where('id', 1).update({ totp_roles: '' });

  return db.transaction(async (trx) => {
    const [plan] = await trx('plans').insert({ title: 'Plan national synthétique', organisation: 'Opérateur national (synthétique)', reminder: '', is_demo: false }).returning('id');
    const planId = Number(typeof plan === 'object' ? plan.id : plan);
    await bulk(trx, 'teams', Array.from({ length: 20 }, (_, i) => ({ name: `Équipe ${i + 1}`, description: '' })));
    await bulk(trx, 'services', Array.from({ length: 8 }, (_, i) => ({ name: `Service ${i + 1}`, description: '', position: i + 1 })));
    await bulk(trx, 'communes', Array.from({ length: o.communes }, (_, i) => ({ name: `Commune ${String(i + 1).padStart(4, '0')}` })));
    const teamIds = (await trx('teams').select('id').orderBy('id')).map((r) => Number(r.id));
    const serviceIds = (await trx('services').select('id').orderBy('id')).map((r) => Number(r.id));
    const communeIds = (await trx('communes').select('id').orderBy('id')).map((r) => Number(r.id));
    await bulk(trx, 'instances', Array.from({ length: o.instances }, (_, i) => ({
      service_id: serviceIds[i % serviceIds.length], environment: i % 2 === 0 ? 'prod' : 'recette', name: `Instance ${i + 1}`,
      team_id: pick(teamIds), commune_id: i % 10 === 0 ? null : communeIds[i % communeIds.length],
    })));
    const instanceIds = (await trx('instances').select('id').orderBy('id')).map((r) => Number(r.id));
    await bulk(trx, 'milestones', Array.from({ length: 12 }, (_, i) => ({ plan_id: planId, due_date: day((i - 6) * 45), title: `Jalon ${i + 1}`, done: i < 6 })));

    await bulk(trx, 'plan_instances', instanceIds.map((instanceId) => ({ plan_id: planId, instance_id: instanceId })));
    const { fiches, ficheIds } = await insertFiches(trx, planId, { fiches: o.fiches, steps: o.steps, scopeFrom: instanceIds, teamIds, rnd, day, iso });

    const hash = await passwordHasher.hash(SYNTHETIC_PASSWORD);
    const roles = ['admin', 'editor', 'viewer', 'commune'] as const;
    await bulk(trx, 'users', roles.map((role) => ({
      email: `${role}@synthetique.example.org`, name: `Compte ${role}`, role, commune_id: role === 'commune' ? communeIds[0] : null,
      password_hash: hash, active: true, created_at: iso,
    })));
    const editorId = Number((await trx('users').where('role', 'editor').first()).id);
    await bulk(trx, 'progress_notes', Array.from({ length: o.notes }, (_, i) => {
      const notedOn = day(-Math.floor(rnd() * 540));
      return { fiche_id: ficheIds[i % ficheIds.length], author_id: editorId, noted_on: notedOn, created_at: `${notedOn}T10:00:00.000Z`, body: `Point ${i + 1}`, status_before: null, status_after: null };
    }));
    await auditSnapshots(trx, planId, fiches, editorId, day);
    const [meeting] = await trx('meetings').insert({
      plan_id: planId, title: 'Comité national', kind: 'suivi', starts_at: `${day(10)}T14:00`, ends_at: `${day(10)}T16:00`, place: 'Paris',
      covers_all: true, section_order: '[]', created_at: iso, updated_at: iso,
    }).returning('id');
    await trx('meetings').insert({
      plan_id: planId, title: 'Comité précédent', kind: 'suivi', starts_at: `${day(-60)}T14:00`, ends_at: `${day(-60)}T16:00`, place: 'Paris',
      covers_all: true, section_order: '[]', created_at: iso, updated_at: iso,
    });
    return { planId, ficheIds, meetingId: Number(typeof meeting === 'object' ? meeting.id : meeting), userEmail: 'editor@synthetique.example.org', password: SYNTHETIC_PASSWORD };
  });
}

export interface SyntheticHomologations {
  /** The homologations created, in order. */
  ids: number[];
  /** Those given a decision (a signature row), and those with a meeting to come. */
  decided: number[];
  withMeeting: number[];
}

/**
 * Adds `count` small homologations to a database that already has its organisation (teams, services, instances:
 * the demo's, or a synthetic plan's), reproducibly: each covers a few instances and has a few fiches; about half have
 * a decision (valid, expiring soon, expired, refused or under conditions, whose first fiche is then a condition),
 * one in three a meeting to come and a past one, one in five a member, one in ten is archived, one in eight renews
 * the one before it. Bulk inserts, as generateSyntheticPlan.
 */
export async function generateSyntheticHomologations(
  db: Knex, o: { count: number; fichesEach: number; stepsEach: number; seed: number; now: Date },
): Promise<SyntheticHomologations> {
  const rnd = prng(o.seed);
  const day = (offset: number) => format(addDays(o.now, offset), 'yyyy-MM-dd');
  const iso = o.now.toISOString();
  return db.transaction(async (trx) => {
    const instanceIds = (await trx('instances').select('id').orderBy('id')).map((r) => Number(r.id));
    const teamIds = (await trx('teams').select('id').orderBy('id')).map((r) => Number(r.id));
    const users = (await trx('users').whereIn('role', ['editor', 'viewer']).select('id').orderBy('id')).map((r) => Number(r.id));
    const organisation = String((await trx('plans').orderBy('id').first())?.organisation ?? 'Organisation (synthétique)');
    if (!instanceIds.length || !teamIds.length) throw new Error('Générer des homologations demande des instances et des équipes');
    const out: SyntheticHomologations = { ids: [], decided: [], withMeeting: [] };
    let previous: number | null = null;
    for (let h = 0; h < o.count; h++) {
      const renewed: number | null = h % 8 === 7 ? previous : null;
      const [row]: ({ id: number } | number)[] = await trx('plans').insert({
        title: `Homologation synthétique ${h + 1}`, organisation, reminder: '', is_demo: false, description: `Homologation générée n°${h + 1}.`,
        created_at: iso, previous_id: renewed, archived_at: h % 10 === 9 ? iso : null, archived_reason: h % 10 === 9 ? 'manuel' : null,
      }).returning('id');
      const planId: number = Number(typeof row === 'object' ? row.id : row);
      // a renewal archives the homologation it replaces
      if (renewed !== null) await trx('plans').where('id', renewed).update({ archived_at: iso, archived_reason: 'remplacee' });
      out.ids.push(planId);
      previous = planId;

      const start = Math.floor(rnd() * instanceIds.length);
      const perimeter = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, k) => instanceIds[(start + k * 7) % instanceIds.length]!))];
      await bulk(trx, 'plan_instances', perimeter.map((instanceId) => ({ plan_id: planId, instance_id: instanceId })));
      if (h % 5 === 0 && users.length) await trx('plan_members').insert({ plan_id: planId, user_id: users[h % users.length], role: h % 2 ? 'viewer' : 'editor' });

      let signatureId: number | null = null;
      if (h % 2 === 0) {
        const kind = (h / 2) % 5;
        const outcome = (['homologuee', 'sous_conditions', 'provisoire', 'refusee', 'homologuee'] as const)[kind];
        // valid, under conditions, provisional (ends in two months: expiring soon), refused, expired
        const decidedOn = kind === 4 ? day(-1200) : day(-30 - h);
        const months = kind === 2 ? 3 : 36;
        const endsOn = outcome === 'refusee' ? null : format(addDays(new Date(`${decidedOn}T12:00:00Z`), Math.round(months * 30.4)), 'yyyy-MM-dd');
        const [sig] = await trx('signatures').insert({
          plan_id: planId, meeting_id: null, signed: outcome !== 'refusee', authority: 'Directeur général des services', decided_on: decidedOn,
          duration_months: outcome === 'refusee' ? null : months, conditions: outcome === 'sous_conditions' ? 'Lever la condition.' : '',
          author_id: null, created_at: iso, outcome, ends_on: endsOn, authority_email: 'dgs@organisation.example.org',
        }).returning('id');
        signatureId = Number(typeof sig === 'object' ? sig.id : sig);
        out.decided.push(planId);
      }
      const { fiches } = await insertFiches(trx, planId, {
        fiches: o.fichesEach, steps: o.stepsEach * o.fichesEach, scopeFrom: perimeter, teamIds, rnd, day, iso,
        conditionOf: signatureId !== null && h % 10 === 2 ? signatureId : null,
      });
      await auditSnapshots(trx, planId, fiches, null, day);
      if (h % 3 === 0) {
        out.withMeeting.push(planId);
        await trx('meetings').insert([
          { plan_id: planId, title: `Comité ${h + 1}`, kind: 'suivi', starts_at: `${day(5 + (h % 40))}T14:00`, ends_at: `${day(5 + (h % 40))}T15:00`, place: 'Salle', covers_all: true, section_order: '[]', created_at: iso, updated_at: iso },
          { plan_id: planId, title: `Comité ${h + 1} précédent`, kind: 'suivi', starts_at: `${day(-40)}T14:00`, ends_at: `${day(-40)}T15:00`, place: 'Salle', covers_all: true, section_order: '[]', created_at: iso, updated_at: iso },
        ]);
      }
    }
    return out;
  });
}
