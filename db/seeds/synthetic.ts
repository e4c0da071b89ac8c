import { addDays, format } from 'date-fns';
import type { Knex } from 'knex';
import { hashPassword } from '../../src/security/passwords';

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
  const statuses = ['non_demarre', 'en_cours', 'bloque', 'fait'] as const;

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

    await bulk(trx, 'fiches', Array.from({ length: o.fiches }, (_, i) => ({
      plan_id: planId, number: i + 1, title: `Fiche synthétique ${i + 1}`, finding: `Constat ${i + 1}`, target_date: day(Math.floor(rnd() * 1080) - 540),
      status: pick(statuses), conclusion: '', cost_amount: i % 7 === 0 ? 1000 + i : null, cost_source: '', scope_all: i % 3 !== 0,
      version: 1, created_at: iso, updated_at: iso,
    })));
    const fiches = await trx('fiches').where('plan_id', planId).select('id', 'status', 'target_date', 'scope_all', 'title', 'number').orderBy('number');
    const ficheIds = fiches.map((f) => Number(f.id));
    const perFiche = Math.max(1, Math.round(o.steps / o.fiches));
    await bulk(trx, 'steps', ficheIds.flatMap((id) => Array.from({ length: perFiche }, (_, p) => ({ fiche_id: id, position: p + 1, label: `Action ${p + 1}`, status: pick(statuses) }))));
    await bulk(trx, 'side_effects', ficheIds.flatMap((id, i) => (i % 4 === 0 ? [{ fiche_id: id, position: 1, level: i % 8 === 0 ? 'fort' : 'faible', description: `Effet ${i}` }] : [])));
    await bulk(trx, 'fiche_owners', ficheIds.map((id) => ({ fiche_id: id, team_id: pick(teamIds), service_id: null })));
    await bulk(trx, 'conclusion_counts', ficheIds.flatMap((id, i) => (i % 5 === 0 ? [{ fiche_id: id, position: 1, count: 3, total: 10, label: 'formulaires' }] : [])));
    await bulk(trx, 'fiche_instances', fiches.filter((f) => !f.scope_all).flatMap((f) => {
      const chosen = new Set(Array.from({ length: 1 + Math.floor(rnd() * 50) }, () => pick(instanceIds)));
      return [...chosen].map((instanceId) => ({ fiche_id: f.id, instance_id: instanceId }));
    }));

    const hash = await hashPassword(SYNTHETIC_PASSWORD);
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
    // one audit snapshot per fiche, in the shape the app writes, so history-based views work
    const steps = await trx('steps').whereIn('fiche_id', trx('fiches').where('plan_id', planId).select('id')).select('id', 'fiche_id', 'position', 'label', 'status');
    const stepsBy = new Map<number, typeof steps>();
    for (const s of steps) {
      const list = stepsBy.get(Number(s.fiche_id));
      if (list) list.push(s); else stepsBy.set(Number(s.fiche_id), [s]);
    }
    await bulk(trx, 'audit_log', fiches.map((f) => ({
      at: day(-600) + 'T09:00:00.000Z', user_id: editorId, actor: 'Génération synthétique', action: 'create', entity_type: 'fiche', entity_id: f.id,
      summary: `Fiche n°${f.number}`, before: null,
      after: JSON.stringify({ number: f.number, title: f.title, status: f.status, targetDate: f.target_date, steps: (stepsBy.get(Number(f.id)) ?? []).map((s) => ({ id: s.id, position: s.position, label: s.label, status: s.status })), sideEffects: [] }),
    })));
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
