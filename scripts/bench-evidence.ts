// The evidence figure for `npm run bench`: a 20 MB document attached to a fiche through the upload form, then downloaded
// 20 times at once; the process's memory (RSS, and the heap with Buffers) sampled every 10 ms while it runs. The server
// and the 20 clients share the process: the clients read each body as a stream and keep only its SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

const SIZE = 20_000_000;
const PARALLEL = 20;

export async function benchEvidence(db: Knex, url: string, cookie: string, planId: number): Promise<{ rows: string[]; summary: string }> {
  const fiche = Number((await db('fiches').where('plan_id', planId).orderBy('id').first('id')).id);
  const page = await fetch(`${url}/homologations/${planId}/pieces/nouvelle?objet=fiche&id=${fiche}`, { headers: { cookie } });
  if (page.status !== 200) throw new Error(`formulaire d'ajout : ${page.status}`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const data = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(SIZE - 9)]);
  const expected = createHash('sha256').update(data).digest('hex');

  const mb = (b: number) => (b / (1024 * 1024)).toFixed(0);
  const measure = async (work: () => Promise<void>) => {
    global.gc?.();
    const before = process.memoryUsage();
    let rss = before.rss;
    let heap = before.heapUsed + before.arrayBuffers;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      heap = Math.max(heap, m.heapUsed + m.arrayBuffers);
    }, 10);
    const t0 = performance.now();
    await work();
    clearInterval(sampler);
    return { ms: performance.now() - t0, rss, rssRise: rss - before.rss, heap, heapRise: heap - (before.heapUsed + before.arrayBuffers) };
  };

  const upload = await measure(async () => {
    const form = new FormData();
    form.set('_csrf', csrf);
    form.set('objet', 'fiche');
    form.set('id', String(fiche));
    form.set('title', 'Rapport de 20 Mo (banc d’essai)');
    form.set('fichier', new Blob([data]), 'rapport.pdf');
    const res = await fetch(`${url}/homologations/${planId}/pieces`, { method: 'POST', body: form, headers: { cookie }, redirect: 'manual' });
    if (res.status !== 303) throw new Error(`envoi : ${res.status} ${(await res.text()).replace(/<[^>]+>/g, ' ').slice(0, 400)}`);
  });
  const doc = Number((await db('documents').orderBy('id', 'desc').first('id')).id);

  const download = await measure(async () => {
    const one = async () => {
      const res = await fetch(`${url}/homologations/${planId}/pieces/${doc}`, { headers: { cookie } });
      if (res.status !== 200 || !res.body) throw new Error(`téléchargement : ${res.status}`);
      const hash = createHash('sha256');
      for await (const chunk of res.body) hash.update(chunk as Uint8Array);
      if (hash.digest('hex') !== expected) throw new Error('téléchargement : contenu différent');
    };
    await Promise.all(Array.from({ length: PARALLEL }, one));
  });

  const row = (name: string, m: typeof upload) =>
    `| ${name} | ${(m.ms / 1000).toFixed(2)} s | ${mb(m.rss)} Mo (+${mb(m.rssRise)} Mo) | +${mb(m.heapRise)} Mo |`;
  return {
    rows: [row(`Envoi d'un document de ${SIZE / 1_000_000} Mo`, upload), row(`${PARALLEL} téléchargements simultanés du document`, download)],
    summary: `${PARALLEL} téléchargements de ${SIZE / 1_000_000} Mo (${(PARALLEL * SIZE / 1_000_000).toFixed(0)} Mo servis, contenu vérifié par SHA-256) : ` +
      `la mémoire du processus (RSS) monte de ${mb(download.rssRise)} Mo au plus, le tas et les Buffers de ${mb(download.heapRise)} Mo — ` +
      `chaque téléchargement lit quatre morceaux de 256 Kio par requête et attend que le client les prenne (le serveur et les clients dans le même processus).`,
  };
}
