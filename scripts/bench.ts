// npm run bench: a national-scale synthetic plan, then requests/s and latency per page under concurrent
// load on localhost, SQL statements per page, and the same load on a bare route returning a prebuilt
// string of the same size (the stack's own floor). Results go to bench/RESULTS.md.
import { writeFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import express from 'express';
import { generateSyntheticHomologations, generateSyntheticPlan } from '../db/seeds/synthetic';
import { createApp } from '../src/app';
import { loadMailConfig } from '../src/config';
import { countQueries } from '../src/data/query-count';
import { migrate, openDatabase } from '../src/db';
import { benchImport } from './bench-import';
import { benchEvidence } from './bench-evidence';
import { benchRollout } from './bench-rollout';
import { type Goal, goalsTable, type PageFigure, pageGoals, serverProcess, topOfProfile } from './bench-goals';
import { findUser } from '../src/data/users';
import { getHomologation } from '../src/data/homologations';
import { getMeeting } from '../src/data/meetings';
import { holdMeetingNow } from '../src/services/agenda';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 10;
const SIZE = { communes: 1000, instances: 5000, fiches: 500, steps: 10000, notes: 100000, seed: 42 };
const now = new Date('2026-11-24T09:00:00Z');

const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-bench-'));
const db = openDatabase(path.join(dir, 'plan.sqlite'));
await migrate(db);
const t0 = Date.now();
const plan = await generateSyntheticPlan(db, { ...SIZE, now });
const generation = (Date.now() - t0) / 1000;
console.log(`Plan synthétique généré en ${generation.toFixed(1)} s`);

const app = createApp({
  db, now: () => now,
  config: { port: 0, dataDir: dir, databaseFile: path.join(dir, 'plan.sqlite'), databaseUrl: null, production: false, demo: false, sessionSecret: 'secret-de-banc-d-essai-suffisamment-long-0123', mail: loadMailConfig({}), schedulerIntervalSeconds: 60 },
});
const listen = (a: express.Express) => new Promise<{ url: string; close: () => void }>((resolve) => {
  const s = a.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => s.close() }));
});
const server = await listen(app);

// sign in as the editor, as a browser would
async function signInAs(url: string, email: string, password: string): Promise<string> {
  const login = await fetch(`${url}/connexion`);
  const first = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
  const signed = await fetch(`${url}/connexion`, {
    method: 'POST', redirect: 'manual', headers: { cookie: first, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: token, email, password }),
  });
  if (signed.status !== 302) throw new Error(`connexion impossible (${signed.status})`);
  return (signed.headers.get('set-cookie') ?? '').split(';')[0]!;
}
const cookie = await signInAs(server.url, plan.userEmail, plan.password);

const busiestRow = await db('steps').select('fiche_id').count({ n: '*' }).groupBy('fiche_id').orderBy('n', 'desc').first();
const busiest = Number((busiestRow as { fiche_id: number }).fiche_id);
// a meeting covering 50 fiches (live agenda), and the previous meeting held (its agenda frozen)
const editor = (await findUser(db, Number((await db('users').where('email', plan.userEmail).first()).id)))!;
const [m50] = await db('meetings').insert({
  plan_id: plan.planId, title: 'Comité restreint (50 fiches)', kind: 'suivi', starts_at: '2026-12-10T14:00', ends_at: '2026-12-10T16:00', place: 'Paris',
  covers_all: false, section_order: '[]', created_at: now.toISOString(), updated_at: now.toISOString(),
}).returning('id');
const meeting50 = Number(typeof m50 === 'object' ? m50.id : m50);
await db('meeting_fiches').insert(plan.ficheIds.slice(0, 50).map((id) => ({ meeting_id: meeting50, fiche_id: id })));
const previous = Number((await db('meetings').where({ plan_id: plan.planId, title: 'Comité précédent' }).first()).id);
await holdMeetingNow(db, (await getHomologation(db, plan.planId))!, (await getMeeting(db, previous))!, editor, now);
const pages = [
  ['Accueil « Homologations »', '/homologations'],
  ['Tableau de bord', '/homologations/1/tableau-de-bord'],
  ['Liste du plan', '/homologations/1'],
  ['Page d’une fiche', `/homologations/1/fiches/${busiest}`],
  ['Ordre du jour (500 fiches, en direct)', `/homologations/1/seances/${plan.meetingId}/ordre-du-jour`],
  ['Ordre du jour d’une séance tenue (500 fiches, figé)', `/homologations/1/seances/${previous}/ordre-du-jour`],
  // a long agenda is read a page at a time: its second page details 20 fiches, the heaviest of its pages
  ['Ordre du jour (50 fiches, en direct, page des fiches détaillées)', `/homologations/1/seances/${meeting50}/ordre-du-jour?page=2`],
] as const;
const REPEAT = ['/homologations', '/homologations/1/tableau-de-bord', '/homologations/1', `/homologations/1/fiches/${busiest}`, '/tableau-de-bord'];

async function load(url: string, headers: Record<string, string>) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p90: r.latency.p90, p97_5: r.latency.p97_5, errors: r.errors + r.non2xx };
}

// A change, as the project team makes them all day: a progress note on the busiest fiche. It moves the data's revision,
// so the next view of every page is computed again ("first view after a change").
let notes = 0;
async function change(target: typeof db, ficheId: number) {
  await target('progress_notes').insert({ fiche_id: ficheId, author_id: null, noted_on: '2026-11-24', created_at: now.toISOString(), body: `Point du banc n°${++notes}.` });
}

/**
 * Each page: its statements and its first view after a change, with no load running (requests still in flight at the
 * end of a load run would otherwise be counted with the next page); then repeat views under load, against the floor.
 */
async function measure(target: typeof db, url: string, session: string, list: readonly (readonly [string, string])[], changeFiche: number) {
  const single = new Map<string, { body: string; queries: number; ms: number }>();
  for (const [, path] of list) {
    await change(target, changeFiche);
    const counter = countQueries(target);
    const t1 = performance.now();
    const res = await fetch(url + path, { headers: { cookie: session } });
    const body = await res.text();
    const ms = Math.round(performance.now() - t1);
    const queries = counter.count();
    counter.stop();
    if (res.status !== 200) throw new Error(`${path} : ${res.status}`);
    single.set(path, { body, queries, ms });
  }
  const lines: string[] = [];
  const out: PageFigure[] = [];
  for (const [name, path] of list) {
    const { body, queries, ms } = single.get(path)!;
    const page = await load(url + path, { cookie: session });
    // the floor: a bare Express route sending a prebuilt string of the same size
    const bare = express();
    bare.get('/', (_req, r) => { r.type('html').send(body); });
    const floor = await listen(bare);
    const base = await load(floor.url + '/', {});
    floor.close();
    const line = `| ${name} | ${(body.length / 1024).toFixed(0)} Kio | ${queries} | ${ms} ms | ${page.rps.toFixed(1)} | ${page.p50} | ${page.p90} | ${page.p97_5} | ${base.rps.toFixed(0)} | ${base.rps ? `${(page.rps / base.rps * 100).toFixed(2)} %` : "n/a (aucune réponse du plancher pendant la mesure)"} | ${page.errors} |`;
    console.log(line);
    lines.push(line);
    out.push({ name, url: path, bytes: Buffer.byteLength(body), firstMs: ms, ratio: base.rps ? page.rps / base.rps : 0 });
  }
  return { lines, out };
}

const rows: string[] = [];
const figures: PageFigure[] = [];
// BENCH_ONLY=import, evidence or rollout: that figure alone (written to bench/RESULTS-<name>.md, not over RESULTS.md)
const only = process.env.BENCH_ONLY ?? null;
if (!only) {
  const national = await measure(db, server.url, cookie, pages, busiest);
  rows.push(...national.lines);
  figures.push(...national.out);
}
// Many homologations in one organisation (a large ministry, a national operator's tenant): 200 of 50 fiches each, on
// their own database and app; the home page and the organisation's dashboard.
const MANY = { count: 200, fichesEach: 50, stepsEach: 5 };
const manyPages = [
  [`Accueil (${MANY.count} homologations)`, '/homologations'],
  [`Tableau de bord de l’organisation (${MANY.count} homologations)`, '/tableau-de-bord'],
] as const;
if (!only) {
  const manyDir = mkdtempSync(path.join(os.tmpdir(), 'plan-bench-many-'));
  const many = openDatabase(path.join(manyDir, 'plan.sqlite'));
  await migrate(many);
  const small = await generateSyntheticPlan(many, { communes: 100, instances: 500, fiches: 10, steps: 50, notes: 100, seed: 7, now });
  await generateSyntheticHomologations(many, { ...MANY, seed: 7, now });
  const manyApp = createApp({
    db: many, now: () => now,
    config: { port: 0, dataDir: manyDir, databaseFile: path.join(manyDir, 'plan.sqlite'), databaseUrl: null, production: false, demo: false, sessionSecret: 'secret-de-banc-d-essai-suffisamment-long-0123', mail: loadMailConfig({}), schedulerIntervalSeconds: 60 },
  });
  const manyServer = await listen(manyApp);
  const manyCookie = await signInAs(manyServer.url, small.userEmail, small.password);
  const measured = await measure(many, manyServer.url, manyCookie, manyPages, small.ficheIds[0]!);
  rows.push(...measured.lines);
  figures.push(...measured.out);
  manyServer.close();
  await many.destroy();
}
// the live 50-fiche agenda as PDF: the first request's time
let pdf50: number | null = null;
if (!only) {
  const t1 = Date.now();
  const pdf = await fetch(`${server.url}/homologations/1/seances/${meeting50}/ordre-du-jour.pdf`, { headers: { cookie } });
  await pdf.arrayBuffer();
  if (pdf.status !== 200) throw new Error(`PDF : ${pdf.status}`);
  pdf50 = Date.now() - t1;
}
// where the time goes: the dashboard and the 50-fiche agenda asked 20 times each, profiled
const profileLines = only ? [] : await topOfProfile(async () => {
  for (let i = 0; i < 20; i++) {
    for (const url of ['/homologations/1/tableau-de-bord', `/homologations/1/seances/${meeting50}/ordre-du-jour?page=2`]) {
      // each a first view after a change: what a reused page saves is not what is profiled
      await change(db, busiest);
      const res = await fetch(server.url + url, { headers: { cookie } });
      await res.arrayBuffer();
    }
  }
});
console.log(profileLines.join('\n'));
const goals: Goal[] = only ? [] : pageGoals(figures, REPEAT, `/homologations/1/seances/${previous}/ordre-du-jour`, `/homologations/1/seances/${meeting50}/ordre-du-jour?page=2`, pdf50);
const none = { rows: [] as string[], summary: '(non mesuré)' };
const imported = only && only !== 'import' ? none : await benchImport(db, server.url, cookie, 1);
console.log(imported.rows.join('\n'));
console.log(imported.summary);
const evidence = only && only !== 'evidence' ? none : await benchEvidence(db, server.url, cookie, 1);
console.log(evidence.rows.join('\n'));
console.log(evidence.summary);
const rollout = only && only !== 'rollout' ? none : await benchRollout(db, server.url, cookie, 1);
console.log(rollout.rows.join('\n'));
console.log(rollout.summary);
server.close();
if (!only) {
  const proc = await serverProcess(dir, { email: plan.userEmail, password: plan.password }, ['/homologations', '/homologations/1/tableau-de-bord', '/homologations/1', `/homologations/1/fiches/${busiest}`]);
  goals.push({ goal: 'Démarrage à froid jusqu’à la première page < 1,5 s', figure: `${proc.coldMs} ms`, ok: proc.coldMs < 1500 });
  goals.push({ goal: 'Mémoire (RSS) du serveur à l’échelle nationale < 250 Mo', figure: `${proc.rssMb} Mo`, ok: proc.rssMb < 250 });
  goals.push({ goal: 'Requêtes SQL par page constantes avec la taille', figure: 'vérifié par test/scale.test.ts (npm test)', ok: true });
}
console.log(goalsTable(goals));
await db.destroy();

const cpu = os.cpus()[0]?.model ?? 'inconnu';
const report = `# Banc d'essai (\`npm run bench\`)

Mesuré le ${new Date().toISOString().slice(0, 10)} sur ${cpu}, ${os.cpus().length} cœurs, Node ${process.version}, SQLite (fichier, WAL).
Plan synthétique (graine ${SIZE.seed}) : ${SIZE.communes} communes, ${SIZE.instances} instances, ${SIZE.fiches} fiches, ${SIZE.steps} actions, ${SIZE.notes} points d'avancement ; généré en ${generation.toFixed(1)} s.
Charge : autocannon, ${CONNECTIONS} connexions pendant ${SECONDS} s par page, sur 127.0.0.1, en session « équipe projet ».
Latences en millisecondes ; autocannon donne p50, p90 et p97,5 (pas de p95 : on donne les deux qui l'encadrent).
« Plancher » : une route Express nue renvoyant une chaîne préparée de la même taille ; le ratio rapporte la page à ce plancher.
« Première vue après un changement » : une demande seule, juste après l'ajout d'un point d'avancement (la révision des données change, rien n'est repris) ;
les vues répétées sous charge sont servies depuis le cache de pages tant que les données ne changent pas (src/web/page-cache.ts).

## Objectifs

${goals.length ? goalsTable(goals) : '(non mesurés : BENCH_ONLY)'}

## Où va le temps

Profil CPU (échantillonnage de l'inspecteur, dans le processus du banc) pendant 20 demandes du tableau de bord et de
l'ordre du jour de 50 fiches, chacune après un changement (une page reprise telle quelle ne coûte presque rien) ;
les fonctions qui prennent le plus de temps propre :

${profileLines.length ? profileLines.map((l) => `- ${l}`).join('\n') : '(non mesuré)'}

## Pages

| Page | Taille | Requêtes SQL | 1re vue après un changement | req/s | p50 | p90 | p97,5 | req/s plancher | ratio | erreurs |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

## Import d'un tableur (${SIZE.fiches} fiches, ${SIZE.steps} étapes)

Le plan synthétique exporté en XLSX par l'application, puis importé dans une homologation vide de même périmètre comme le ferait
un utilisateur : envoi, aperçu, confirmation.

| Étape | Durée | Mémoire (RSS) au plus haut, et sa hausse pendant l'étape |
|---|---|---|
${imported.rows.join('\n')}

${imported.summary}

## Pièces justificatives : un document de 20 Mo téléchargé 20 fois à la fois

| Étape | Durée | Mémoire (RSS) au plus haut, et sa hausse | Hausse du tas et des Buffers |
|---|---|---|---|
${evidence.rows.join('\n')}

${evidence.summary}

## Déploiement par lot : 1 000 instances d'une fiche

Une fiche suivie instance par instance sur 1 000 instances, mise à jour par les pages comme le fait l'équipe projet.

| Étape | Durée | Requêtes SQL |
|---|---|---|
${rollout.rows.join('\n')}

${rollout.summary}
`;
mkdirSync('bench', { recursive: true });
const output = only ? `bench/RESULTS-${only}.md` : 'bench/RESULTS.md';
writeFileSync(output, report);
console.log(`\nRésultats écrits dans ${output}`);
process.exit(0);
