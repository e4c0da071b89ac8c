import { expect } from 'chai';
import type { Express } from 'express';
import type { Knex } from 'knex';
import { generateSyntheticPlan } from '../db/seeds/synthetic';
import { createApp } from '../src/app';
import { lateStepsOf, loadDashboard } from '../src/data/dashboard';
import { visibleTo } from '../src/data/fiches';
import { migrate } from '../src/db';
import { lateFiches, lateStepsDue, readiness, totalStepCounts } from '../src/domain/dashboard';
import { LATE_SHOWN, MATRIX_ROWS } from '../src/services/dashboard';
import { aUser } from './builders';
import { type Agent, emptyDatabase, ENGINE, NOW, signIn, textOf, TEST_PASSWORDS } from './helpers';

/** The rows of the fiche list on a page of the homologation: the fiche numbers, in order. */
function listedNumbers(html: string): number[] {
  const section = html.slice(html.indexOf('aria-labelledby="fiches"'), html.indexOf('aria-labelledby="exporter"'));
  return [...section.matchAll(/<tr>\s*<td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
}

/** The pagination's links (href, text), as a reader's browser would follow them. */
function pageLinks(html: string): { href: string; text: string }[] {
  const nav = /<nav role="navigation" class="fr-pagination[^>]*>([^]*?)<\/nav>/.exec(html)?.[1] ?? '';
  return [...nav.matchAll(/<a class="fr-pagination__link[^"]*" href="([^"]+)">([^<]+)<\/a>/g)].map((m) => ({ href: m[1]!.replace(/&amp;/g, '&'), text: m[2]! }));
}

/** The CSV's rows, cells split (no quoted separator in these exports). */
const csvRows = (text: string) => text.replace(/^\ufeff/, '').trim().split(/\r?\n/).map((l) => l.split(';'));

/**
 * The homologation's page and its dashboard on a national-scale plan (1,000 communes, 5,000 instances, 500 fiches,
 * 10,000 actions): the fiche list comes a page at a time with its filters and search kept, the long blocks are
 * summarised with a link to the full table and its CSV, and no page weighs more than 150 KiB.
 */
describe(`the homologation's page and dashboard at national scale (${ENGINE})`, function () {
  this.timeout(180_000);
  const today = NOW.toISOString().slice(0, 10);
  let db: Knex;
  let app: Express;
  let drop: () => Promise<void>;
  let planId: number;
  let editor: Agent;
  let commune: { id: number; name: string };
  let base: string;

  before(async () => {
    const empty = await emptyDatabase('pages-scale');
    drop = empty.drop;
    db = empty.open();
    await migrate(db);
    const plan = await generateSyntheticPlan(db, { communes: 1000, instances: 5000, fiches: 500, steps: 10000, notes: 100, seed: 42, now: NOW });
    planId = plan.planId;
    base = `/homologations/${planId}`;
    app = createApp({ db, config: { ...empty.config, demo: false }, now: () => NOW, passwords: TEST_PASSWORDS });
    editor = await signIn(app, plan.userEmail, plan.password);
    // a commune with a few instances in the perimeter (the synthetic commune agent's own has none)
    const row = await db('instances').join('communes', 'communes.id', 'instances.commune_id').where('instances.name', 'Instance 2').select('communes.id', 'communes.name').first();
    commune = { id: Number(row.id), name: String(row.name) };
  });
  after(async () => {
    await db?.destroy();
    await drop?.();
  });

  describe('the fiche list', () => {
    it('shows the first 50 fiches, the count, and an accessible pagination in French', async () => {
      const res = await editor.get(base).expect(200);
      expect(listedNumbers(res.text)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      const text = textOf(res.text);
      expect(text).to.contain('Fiches actions (500)').and.contain('500 fiches, 1 à 50 affichées.');
      expect(res.text).to.match(/<nav role="navigation" class="fr-pagination[^"]*" aria-label="Pages de la liste des fiches">/);
      expect(res.text).to.contain('<a class="fr-pagination__link" aria-current="page">Page 1 sur 10</a>');
      expect(res.text).to.match(/fr-pagination__link--prev[^"]*" aria-disabled="true" role="link">Page précédente</);
      expect(pageLinks(res.text)).to.deep.equal([
        { href: `${base}?page=2#fiches`, text: 'Page suivante' }, { href: `${base}?page=10#fiches`, text: 'Dernière page' },
      ]);
      // the full table is one click away
      expect(res.text).to.contain(`href="${base}/export/fiches.csv"`);
    });

    it('shows fiches 51 to 100 on page 2, and the last page with its own count', async () => {
      const two = await editor.get(`${base}?page=2`).expect(200);
      expect(listedNumbers(two.text)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 51));
      expect(textOf(two.text)).to.contain('500 fiches, 51 à 100 affichées.');
      expect(pageLinks(two.text).map((l) => l.text)).to.deep.equal(['Première page', 'Page précédente', 'Page suivante', 'Dernière page']);
      expect(pageLinks(two.text)[1]!.href).to.equal(`${base}#fiches`);
      const last = await editor.get(`${base}?page=10`).expect(200);
      expect(listedNumbers(last.text)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 451));
      expect(last.text).to.contain('aria-current="page">Page 10 sur 10<');
      expect(last.text).to.match(/fr-pagination__link--next[^"]*" aria-disabled="true" role="link">Page suivante</);
    });

    it('keeps the filters and the search in every page link, and lists only what they keep', async () => {
      // "synthetique" without its accent, upper case: every title
      const res = await editor.get(`${base}?q=SYNTHETIQUE&avancement=en_cours&page=1`).expect(200);
      const all = await db('fiches').where({ plan_id: planId, status: 'en_cours' }).count({ n: '*' }).first();
      expect(Number(all!.n), 'fiches in progress: more than a page').to.be.within(51, 200);
      expect(textOf(res.text)).to.contain(`${Number(all!.n)} fiches correspondent à la recherche et aux filtres, sur 500, 1 à 50 affichées.`);
      const links = pageLinks(res.text);
      expect(links.length).to.be.greaterThan(0);
      for (const link of links) expect(link.href).to.match(new RegExp(`^${base}\\?q=SYNTHETIQUE&avancement=en_cours(&page=\\d+)?#fiches$`));
      // following "Page suivante" keeps them
      const next = await editor.get(links.find((l) => l.text === 'Page suivante')!.href.replace('#fiches', '')).expect(200);
      const expectedSecond = (await db('fiches').where({ plan_id: planId, status: 'en_cours' }).orderBy('number').pluck('number')).slice(50, 100).map(Number);
      expect(listedNumbers(next.text)).to.deep.equal(expectedSecond);
      expect(next.text).to.contain('value="SYNTHETIQUE"').and.match(/<option value="en_cours"\s+selected>/);
      // a number finds its fiche, not those whose number contains it
      const one = await editor.get(`${base}?q=${encodeURIComponent('n°123')}`).expect(200);
      expect(listedNumbers(one.text)).to.deep.equal([123]);
      expect(textOf(one.text)).to.contain('1 fiche correspond à la recherche et aux filtres, sur 500.');
    });

    it('filters the late fiches and a team in SQL, with the same meaning as the late mark', async () => {
      const late = (await db('fiches').where('plan_id', planId).whereNot('status', 'fait').where('target_date', '<', today).orderBy('number').pluck('number')).map(Number);
      const res = await editor.get(`${base}?retard=1`).expect(200);
      expect(listedNumbers(res.text)).to.deep.equal(late.slice(0, 50));
      const rows = res.text.slice(res.text.indexOf('aria-labelledby="fiches"')).split('<tr>').slice(2);
      expect(rows).to.have.length(50);
      expect(rows.every((r) => r.includes('En retard'))).to.equal(true);
      const team = await db('teams').where('name', 'Équipe 3').first();
      const owned = (await db('fiches').where('plan_id', planId).whereIn('id', db('fiche_owners').where('team_id', team.id).select('fiche_id')).orderBy('number').pluck('number')).map(Number);
      expect(listedNumbers((await editor.get(`${base}?equipe=${team.id}`).expect(200)).text)).to.deep.equal(owned.slice(0, 50));
    });

    it('shows the last page, with a message, for a page beyond it; refuses a page that is not a number', async () => {
      const beyond = await editor.get(`${base}?page=99`).expect(200);
      expect(textOf(beyond.text)).to.contain("La page 99 n'existe pas : la liste compte 10 pages. Voici la dernière.");
      expect(listedNumbers(beyond.text)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 451));
      const none = await editor.get(`${base}?q=introuvable&page=3`).expect(200);
      expect(textOf(none.text)).to.contain('Aucune fiche ne correspond à la recherche et aux filtres.');
      for (const bad of ['page=abc', 'page=0', 'page=-2', 'avancement=presque', 'equipe=999999', 'retard=oui']) {
        const res = await editor.get(`${base}?${bad}`);
        expect(res.status, bad).to.equal(400);
        expect(textOf(res.text), bad).to.match(/Numéro de page invalide|Filtre inconnu/);
      }
    });

    it("never shows a commune's staff another commune's fiche, on any page", async () => {
      const user = await aUser().withRole('commune').inCommune(commune.id).insert(db);
      const agent = await signIn(app, user.email, user.password);
      const expected = (await visibleTo(db('fiches').where('fiches.plan_id', planId), db, commune.id).orderBy('fiches.number').pluck('fiches.number')).map(Number);
      expect(expected.length, 'fiches the commune sees').to.be.within(101, 499);
      const seen: number[] = [];
      let url: string | undefined = base;
      let pages = 0;
      while (url) {
        const html: string = (await agent.get(url).expect(200)).text;
        seen.push(...listedNumbers(html));
        url = pageLinks(html).find((l) => l.text === 'Page suivante')?.href.replace('#fiches', '');
        pages += 1;
      }
      expect(pages).to.equal(Math.ceil(expected.length / 50));
      expect(seen).to.deep.equal(expected);
      // filtered and searched, still its own only
      const searched = await agent.get(`${base}?q=synth%C3%A9tique&page=2`).expect(200);
      expect(listedNumbers(searched.text)).to.deep.equal(expected.slice(50, 100));
      const text = textOf(searched.text);
      expect(text).to.contain(`Fiches actions (${expected.length})`).and.contain(`Communes partenaires (1) ${commune.name}`);
      expect([...new Set(text.match(/Commune \d{4}/g))]).to.deep.equal([commune.name]);
    });
  });

  describe('the dashboard', () => {
    it('shows the communes with the most late, then not done, fiches first, and links to the whole matrix in CSV', async () => {
      const res = await editor.get(`${base}/tableau-de-bord`).expect(200);
      const section = res.text.slice(res.text.indexOf('aria-labelledby="communes"'), res.text.indexOf('aria-labelledby="calendrier-titre"'));
      const shown = [...section.matchAll(/<tr><th scope="row">([^<]+)<\/th><td>(\d+)<\/td><td>(\d+) \/ (\d+)<\/td>/g)]
        .map((m) => ({ name: m[1]!, late: Number(m[2]), open: Number(m[3]) }));
      expect(shown).to.have.length(MATRIX_ROWS);
      expect(textOf(section)).to.contain(`900 communes ont des instances dans ce périmètre : voici les ${MATRIX_ROWS} qui ont le plus de fiches en retard`);
      expect(section).to.contain(`href="${base}/tableau-de-bord?export=communes"`);
      // the CSV has every commune and every fiche; the rows shown are its most late, then most open, in French order
      const csv = csvRows((await editor.get(`${base}/tableau-de-bord?export=communes`).expect(200)).text);
      expect(csv).to.have.length(901);
      expect(csv[0]).to.have.length(501);
      const dates = new Map((await db('fiches').where('plan_id', planId).select('number', 'target_date')).map((f) => [`Fiche ${f.number}`, f.target_date as string | null]));
      const standing = csv.slice(1).map((row) => {
        const cells = row.slice(1).map((c, i) => ({ status: c.replace(/ \(.*\)$/, ''), date: dates.get(csv[0]![i + 1]!) ?? null })).filter((c) => c.status !== '');
        const open = cells.filter((c) => c.status !== 'Fait');
        return { name: row[0]!, late: open.filter((c) => c.date !== null && c.date < today).length, open: open.length };
      });
      const ranked = [...standing].sort((a, b) => b.late - a.late || b.open - a.open);
      expect(shown).to.deep.equal(ranked.slice(0, MATRIX_ROWS));
      // filtered on a commune, that commune comes first; by its name when typed in the field
      const filtered = await editor.get(`${base}/tableau-de-bord?commune=${encodeURIComponent(commune.name.toUpperCase())}`).expect(200);
      expect(filtered.text).to.contain(`id="f-commune" name="commune" value="${commune.name}"`);
      const first = /aria-labelledby="communes"[^]*?<tr><th scope="row">([^<]+)<\/th>/.exec(filtered.text)![1];
      expect(first).to.equal(commune.name);
      const unknown = await editor.get(`${base}/tableau-de-bord?commune=Nulle%20part`).expect(400);
      expect(textOf(unknown.text)).to.contain("Filtre inconnu : la commune « Nulle part » n'existe pas.");
    });

    it('lists the oldest late fiches, their first late actions, the count of all and the CSV that has them all', async () => {
      const res = await editor.get(`${base}/tableau-de-bord`).expect(200);
      const csv = csvRows((await editor.get(`${base}/tableau-de-bord?export=retards`).expect(200)).text).slice(1);
      const section = res.text.slice(res.text.indexOf('aria-labelledby="retards"'), res.text.indexOf('aria-labelledby="risques"'));
      const shown = [...section.matchAll(/<tr><td><a href="[^"]+">N°(\d+) :/g)].map((m) => m[1]);
      expect(shown).to.deep.equal(csv.slice(0, LATE_SHOWN).map((r) => r[0]));
      expect(textOf(res.text)).to.contain(`En retard (${csv.length})`).and.contain(`Les ${LATE_SHOWN} fiches en retard depuis le plus longtemps, sur ${csv.length}`);
      // a fiche with many late actions shows five and counts the others
      const many = csv.find((r) => r[5]!.split(' | ').length > 5)!;
      expect(textOf(section)).to.contain(`et ${many[5]!.split(' | ').length - 5} autres actions en retard`);
    });

    it('computes the same figures from the late actions counted in SQL as from every action read', async () => {
      const counted = await loadDashboard(db, planId, null, { today, lateSteps: 'summary' });
      const late = await loadDashboard(db, planId, null, { today });
      const full = await loadDashboard(db, planId, null);
      for (const data of [counted, late]) {
        expect(totalStepCounts(data.fiches)).to.deep.equal(totalStepCounts(full.fiches)).and.deep.equal({ done: totalStepCounts(full.fiches).done, total: 10_000 });
        expect(readiness(data.fiches, today)).to.deep.equal(readiness(full.fiches, today));
      }
      const every = lateFiches(full.fiches, today);
      expect(every.length, 'late fiches').to.be.above(100);
      expect(counted.fiches.every((f) => f.steps.length === 0), 'no step read').to.equal(true);
      expect(lateFiches(counted.fiches, today).map((l) => [l.fiche.id, l.since, l.lateStepCount])).to.deep.equal(every.map((l) => [l.fiche.id, l.since, l.lateSteps.length]));
      expect(lateFiches(late.fiches, today).map((l) => [l.fiche.id, l.since, l.lateSteps])).to.deep.equal(every.map((l) => [l.fiche.id, l.since, l.lateSteps]));
      // the late actions read afterwards for the fiches shown are those of a full read
      const shown = every.slice(0, 20);
      const read = await lateStepsOf(db, shown.map((l) => l.fiche.id), today);
      expect(shown.map((l) => lateStepsDue(l.fiche, read.get(l.fiche.id) ?? [], today))).to.deep.equal(shown.map((l) => l.lateSteps));
    });
  });

  it('weighs under 150 KiB per page, the project team’s and a commune’s', async () => {
    const user = await aUser().withRole('commune').inCommune(commune.id).insert(db);
    const agent = await signIn(app, user.email, user.password);
    for (const [who, a] of [['editor', editor], ['commune', agent]] as const) {
      for (const url of [base, `${base}?page=5&q=fiche`, `${base}/tableau-de-bord`]) {
        const res = await a.get(url).expect(200);
        expect(Buffer.byteLength(res.text), `${url} as ${who}`).to.be.below(150 * 1024);
      }
    }
    // the homologation's page counts the communes and links to their table rather than naming 900 of them
    const text = textOf((await editor.get(base).expect(200)).text);
    expect(text).to.contain('Communes partenaires (900)').and.contain('900 communes ont des instances dans ce périmètre');
  });
});
