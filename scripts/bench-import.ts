// The import's figure for `npm run bench`: the synthetic plan (500 fiches, 10,000 steps) exported as XLSX through the
// app, then imported into an empty homologation with the same perimeter as a user would (upload, preview, confirm),
// each phase timed, with the process's peak memory (RSS) while it runs.
import type { Knex } from 'knex';

interface Phase { name: string; ms: number; peak: number; before: number }

export async function benchImport(db: Knex, url: string, cookie: string, planId: number): Promise<{ rows: string[]; summary: string }> {
  const get = async (path: string) => {
    const res = await fetch(url + path, { headers: { cookie } });
    if (res.status !== 200) throw new Error(`${path} : ${res.status}`);
    return res;
  };
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  const phases: Phase[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const before = process.memoryUsage().rss;
    peak = before;
    const t0 = performance.now();
    const out = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    phases.push({ name, ms: performance.now() - t0, peak, before });
    return out;
  };

  const file = await timed('Export XLSX', async () => Buffer.from(await (await get(`/homologations/${planId}/export.xlsx`)).arrayBuffer()));
  // an empty homologation with the same perimeter
  const [target] = await db('plans').insert({ title: 'Cible du banc d’import', organisation: 'Banc', created_at: new Date().toISOString() }).returning('id');
  const targetId = Number(typeof target === 'object' ? (target as { id: number }).id : target);
  await db.raw('insert into plan_instances (plan_id, instance_id) select ?, instance_id from plan_instances where plan_id = ?', [targetId, planId]);

  const page = await (await get(`/homologations/${targetId}/import`)).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  const previewUrl = await timed('Envoi et lecture du fichier', async () => {
    const form = new FormData();
    form.set('_csrf', csrf);
    form.set('fichier', new Blob([file]), 'plan.xlsx');
    const res = await fetch(`${url}/homologations/${targetId}/import`, { method: 'POST', body: form, headers: { cookie }, redirect: 'manual' });
    if (res.status !== 303) throw new Error(`envoi : ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res.headers.get('location')!;
  });
  const preview = await timed('Aperçu', async () => (await get(previewUrl)).text());
  const expected = /name="expected" value="([^"]+)"/.exec(preview)?.[1];
  if (!expected) throw new Error(`aperçu sans confirmation : ${preview.replace(/<[^>]+>/g, ' ').slice(0, 600)}`);
  await timed('Confirmation (une transaction)', async () => {
    const res = await fetch(`${url}${previewUrl}/confirmer`, {
      method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, expected }),
    });
    if (res.status !== 303) throw new Error(`confirmation : ${res.status}`);
  });
  clearInterval(sampler);
  const [fiches, steps] = await Promise.all([
    db('fiches').where('plan_id', targetId).count({ n: '*' }).first(),
    db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').where('fiches.plan_id', targetId).count({ n: '*' }).first(),
  ]);
  const mb = (b: number) => (b / (1024 * 1024)).toFixed(0);
  const total = phases.slice(1).reduce((s, p) => s + p.ms, 0);
  const rows = phases.map((p) => `| ${p.name} | ${(p.ms / 1000).toFixed(2)} s | ${mb(p.peak)} Mo (+${mb(p.peak - p.before)} Mo) |`);
  const summary = `Fichier de ${(file.length / 1024).toFixed(0)} Kio ; importé : ${Number(fiches?.n)} fiches, ${Number(steps?.n)} étapes, en ${(total / 1000).toFixed(1)} s de l'envoi à la confirmation ; mémoire du processus (RSS) au plus haut ${mb(Math.max(...phases.map((p) => p.peak)))} Mo (le serveur et le banc dans le même processus).`;
  return { rows, summary };
}
