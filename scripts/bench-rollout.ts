// The rollout figure for `npm run bench`: a fiche of the national-scale plan followed per instance over 1,000 instances,
// updated "par lot" through the pages as a user does it: the grid filtered to the instances not done, the preview of
// all 1,000, the confirmation; then the same write called directly. Time and SQL statements of each step.
import type { Knex } from 'knex';
import { countQueries } from '../src/data/query-count';

const COUNT = 1000;

export async function benchRollout(db: Knex, url: string, cookie: string, planId: number): Promise<{ rows: string[]; summary: string }> {
  const fiche = await db('fiches').where('plan_id', planId).orderBy('id').first('id', 'number');
  const ficheId = Number(fiche.id);
  const instances = (await db('plan_instances').where('plan_id', planId).orderBy('instance_id').limit(COUNT).select('instance_id')).map((r) => Number(r.instance_id));
  if (instances.length < COUNT) throw new Error(`${instances.length} instances seulement dans le périmètre`);
  // the fiche's scope becomes these 1,000 instances, followed per instance, none started
  await db.transaction(async (trx) => {
    await trx('fiche_instances').where('fiche_id', ficheId).delete();
    for (let i = 0; i < instances.length; i += 200) await trx('fiche_instances').insert(instances.slice(i, i + 200).map((id) => ({ fiche_id: ficheId, instance_id: id })));
    await trx('fiches').where('id', ficheId).update({ scope_all: false, rollout: true });
    await trx('fiche_rollouts').where('fiche_id', ficheId).delete();
  });
  const grid = `${url}/homologations/${planId}/fiches/${ficheId}/deploiement`;
  const rows: string[] = [];
  const step = async (name: string, work: () => Promise<Response | void>, expected?: number) => {
    const counter = countQueries(db);
    const t0 = performance.now();
    const res = await work();
    const ms = performance.now() - t0;
    const queries = counter.count();
    counter.stop();
    if (res && expected !== undefined && res.status !== expected) throw new Error(`${name} : ${res.status} au lieu de ${expected}`);
    rows.push(`| ${name} | ${ms.toFixed(0)} ms | ${queries} |`);
    return res;
  };
  const page = (await step('Grille filtrée « pas encore fait » (1 000 lignes)', () => fetch(`${grid}?etat=pas_fait`, { headers: { cookie } }), 200)) as Response;
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  const seen = [...html.matchAll(/name="(v_\d+)" value="(\d+)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]);
  if (seen.length !== COUNT) throw new Error(`${seen.length} lignes dans la grille au lieu de ${COUNT}`);
  const body = (fields: [string, string][]) => new URLSearchParams([['_csrf', csrf], ['status', 'en_cours'], ['etat', 'pas_fait'], ...fields]).toString();
  const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
  const preview = (await step('Aperçu des 1 000 instances affichées', () => fetch(`${grid}/apercu`, { method: 'POST', headers, body: body([['selection', 'affichees'], ...seen]) }), 200)) as Response;
  const previewHtml = await preview.text();
  if (!previewHtml.includes('1000 instances passeront')) throw new Error('aperçu inattendu');
  const confirmFields = [...previewHtml.matchAll(/name="(instanceIds|v_\d+)" value="(\d+)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]);
  await step('Confirmation : 1 000 instances écrites, 1 000 entrées du journal', () => fetch(`${grid}`, { method: 'POST', headers, redirect: 'manual', body: body([['selection', 'cochees'], ...confirmFields]) }), 303);
  const done = Number((await db('fiche_rollouts').where({ fiche_id: ficheId, status: 'en_cours' }).count({ n: '*' }))[0]!.n);
  const entries = Number((await db('audit_log').where({ entity_type: 'deploiement', entity_id: ficheId }).count({ n: '*' }))[0]!.n);
  if (done !== COUNT || entries !== COUNT) throw new Error(`${done} instances en cours, ${entries} entrées du journal`);
  return {
    rows,
    summary: `Après la confirmation : ${done} instances « en cours », ${entries} entrées du journal regroupées sous une opération par lot. ` +
      "L'écriture elle-même tient en quelques requêtes quel que soit le nombre d'instances (une insertion des lignes manquantes et une mise à jour gardée par version vue, par tranche de 400 ; le journal par tranche de 80).",
  };
}
