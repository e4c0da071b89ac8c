import { expect } from 'chai';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../src/app';
import { countQueries } from '../src/data/query-count';
import { readRevision } from '../src/data/revision';
import { ACCOUNTS, csrfOf, ENGINE, freshApp, NOW, postForm, signIn, type TestApp, textOf, TEST_PASSWORDS } from './helpers';

/**
 * Pages are reused until the data changes (src/web/page-cache.ts). A second app over the same database stands for
 * another process: its own connection pool, its own cache; they share only the database.
 */
describe(`pages reused until the data changes (${ENGINE})`, () => {
  let t: TestApp;
  let second: Express;
  let clock = NOW;
  let cookie: string;
  let editor: ReturnType<typeof request.agent>;
  let ficheId: number;
  before(async () => {
    t = await freshApp({}, () => clock);
    second = createApp({ db: t.openAnother(), config: t.config, now: () => clock, passwords: TEST_PASSWORDS });
    editor = await signIn(t.app, ACCOUNTS.editor);
    const c = editor.jar.getCookie('plan.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false });
    cookie = `plan.sid=${c!.value}`;
    ficheId = Number((await t.db('fiches').where('plan_id', 1).orderBy('number').first()).id);
  });
  after(() => t.close());
  beforeEach(() => { clock = NOW; });

  const viaFirst = (url: string) => editor.get(url);
  const viaSecond = (url: string) => request(second).get(url).set('Cookie', cookie);

  it('serves a repeat view without computing the page again, with an ETag and a 304 for the same page', async () => {
    const url = '/homologations/1/tableau-de-bord';
    // the first page of a session writes the session's form token: seen once before
    await viaFirst('/homologations').expect(200);
    const first = await viaFirst(url).expect(200);
    expect(first.headers['cache-control']).to.equal('private, no-cache');
    const etag = first.headers.etag as string;
    expect(etag).to.match(/^W\/"/);
    const counter = countQueries(t.db);
    const again = await viaFirst(url).expect(200);
    const statements = counter.count();
    counter.stop();
    expect(again.text).to.equal(first.text);
    expect(again.headers.etag).to.equal(etag);
    // the revision and the session: the dashboard's own reads are not made again
    expect(statements).to.be.at.most(3);
    const conditional = await viaFirst(url).set('If-None-Match', etag);
    expect(conditional.status).to.equal(304);
    expect(conditional.text ?? '').to.equal('');
  });

  // Each kind of write, made as the app makes it or straight into the database as another process (the command
  // line, another server) would: the next view, on this app and on the other, shows it.
  const writes: { kind: string; url: () => string; write: () => Promise<string> }[] = [
    {
      kind: 'fiche (form)', url: () => `/homologations/1`,
      write: async () => {
        const page = await editor.get(`/homologations/1/fiches/${ficheId}/modifier`).expect(200);
        const fields = new URLSearchParams(formFields(page.text));
        fields.set('title', 'Titre changé par le formulaire');
        fields.set('_action', 'save');
        const res = await editor.post(`/homologations/1/fiches/${ficheId}`).type('form').send(fields.toString());
        expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
        return 'Titre changé par le formulaire';
      },
    },
    {
      kind: 'step', url: () => `/homologations/1/fiches/${ficheId}`,
      write: async () => {
        const step = await t.db('steps').where('fiche_id', ficheId).first();
        await t.db('steps').where('id', step.id).update({ label: 'Étape renommée ailleurs' });
        return 'Étape renommée ailleurs';
      },
    },
    {
      kind: 'progress note (form)', url: () => `/homologations/1/fiches/${ficheId}`,
      write: async () => {
        const res = await postForm(editor, `/homologations/1/fiches/${ficheId}`, `/homologations/1/fiches/${ficheId}/notes`, { body: 'Point noté à l’instant.', notedOn: '2026-03-16', status: 'en_cours' });
        expect(res.status).to.equal(303);
        return 'Point noté à l’instant.';
      },
    },
    {
      kind: 'meeting', url: () => '/homologations/1/seances',
      write: async () => {
        await t.db('meetings').insert({
          plan_id: 1, title: 'Comité ajouté ailleurs', kind: 'suivi', starts_at: '2026-04-10T14:00', ends_at: '2026-04-10T16:00', place: 'Lyon',
          covers_all: true, section_order: '[]', created_at: NOW.toISOString(), updated_at: NOW.toISOString(),
        });
        return 'Comité ajouté ailleurs';
      },
    },
    {
      kind: 'decision', url: () => '/homologations/1',
      write: async () => {
        await t.db('plans').where('id', 1).update({ title: 'Homologation au titre changé' });
        return 'Homologation au titre changé';
      },
    },
    {
      kind: 'referential (team renamed)', url: () => `/homologations/1/fiches/${ficheId}`,
      write: async () => {
        const owner = await t.db('fiche_owners').where('fiche_id', ficheId).first();
        await t.db('teams').where('id', owner.team_id).update({ name: 'Équipe renommée ailleurs' });
        return 'Équipe renommée ailleurs';
      },
    },
    {
      kind: 'risk', url: () => '/homologations/1/risques',
      write: async () => {
        const number = Number((await t.db('risks').where('plan_id', 1).max({ n: 'number' }).first())?.n ?? 0) + 1;
        const existing = await t.db('risks').where('plan_id', 1).first();
        const { id: _id, ...copy } = existing;
        await t.db('risks').insert({ ...copy, number, title: 'Risque ajouté ailleurs' });
        return 'Risque ajouté ailleurs';
      },
    },
    {
      kind: 'rollout', url: () => `/homologations/1`,
      write: async () => {
        await t.db('fiches').where('id', ficheId).update({ rollout: true });
        const instance = await t.db('plan_instances').where('plan_id', 1).first();
        await t.db('fiche_rollouts').insert({ fiche_id: ficheId, instance_id: instance.instance_id, status: 'fait', due_on: null, note: '', version: 1, updated_at: NOW.toISOString() })
          .onConflict(['fiche_id', 'instance_id']).merge({ status: 'fait' });
        return `déploiement de la fiche n°${(await t.db('fiches').where('id', ficheId).first()).number}`;
      },
    },
  ];

  for (const { kind, url, write } of writes) {
    it(`shows a ${kind} written after the page was kept, on this app and on the other`, async () => {
      // both apps keep the page…
      const before1 = await viaFirst(url()).expect(200);
      const before2 = await viaSecond(url()).expect(200);
      expect((await viaFirst(url())).headers.etag).to.equal(before1.headers.etag);
      expect((await viaSecond(url())).headers.etag).to.equal(before2.headers.etag);
      const revision = await readRevision(t.db);
      const expected = await write();
      expect(await readRevision(t.db), 'the write moved the revision').to.be.above(revision);
      // …and neither serves it again: the next view of each shows the change
      for (const [name, view] of [['this app', viaFirst], ['the other app', viaSecond]] as const) {
        const after = await view(url()).expect(200);
        expect(textOf(after.text), `${name} after the ${kind}`).to.contain(expected);
        expect(after.headers.etag, name).to.not.equal(before1.headers.etag);
      }
    });
  }

  it('shows an imported plan on this app and on the other', async () => {
    await viaFirst('/homologations/1').expect(200);
    await viaSecond('/homologations/1').expect(200);
    const team = (await t.db('teams').first()).name;
    const csv = `Numéro;Titre;Constat;Échéance;Statut;Porteurs\n901;Fiche importée du tableur;Constat importé;31/12/2026;À faire;${team}\n`;
    const page = await editor.get('/homologations/1/import').expect(200);
    const uploaded = await editor.post('/homologations/1/import').field('_csrf', csrfOf(page.text)).attach('fichier', Buffer.from(csv), 'plan.csv');
    expect(uploaded.status, textOf(uploaded.text).slice(0, 300)).to.equal(303);
    const preview = await editor.get(uploaded.headers.location!).expect(200);
    const expected = /name="expected" value="([^"]+)"/.exec(preview.text)?.[1];
    expect(expected, textOf(preview.text).slice(0, 1500)).to.be.a('string');
    await editor.post(`${uploaded.headers.location}/confirmer`).type('form').send({ _csrf: csrfOf(preview.text), expected }).expect(303);
    for (const view of [viaFirst, viaSecond]) expect(textOf((await view('/homologations/1').expect(200)).text)).to.contain('Fiche importée du tableur');
  });

  it('computes the page again when the minute changes (lateness is counted on the clock)', async () => {
    const fiche = await t.db('fiches').where('plan_id', 1).whereNot('status', 'fait').first();
    await t.db('fiches').where('id', fiche.id).update({ target_date: '2026-03-16' });
    // half a minute before and after midnight, on the process's clock (the day the pages count lateness on)
    const midnight = new Date(2026, 2, 17, 0, 0, 0).getTime();
    clock = new Date(midnight - 30_000);
    const late = await signIn(t.app, ACCOUNTS.viewer);
    await late.get(`/homologations/1/fiches/${fiche.id}`).expect(200);
    const before = await late.get(`/homologations/1/fiches/${fiche.id}`).expect(200);
    expect(textOf(before.text)).to.not.contain('En retard');
    clock = new Date(midnight + 30_000);
    const after = await late.get(`/homologations/1/fiches/${fiche.id}`).expect(200);
    expect(textOf(after.text)).to.contain('En retard');
  });

  it('never hands a commune agent a page computed for the project team, nor the other way round', async () => {
    const commune = await signIn(t.app, ACCOUNTS.commune);
    const url = '/homologations/1';
    const forTeam = await viaFirst(url).expect(200);
    const forCommune = await commune.get(url).expect(200);
    expect(forCommune.text).to.not.equal(forTeam.text);
    // the team's page lists fiches the commune does not see
    const teamFiches = new Set([...forTeam.text.matchAll(/\/fiches\/(\d+)"/g)].map((m) => m[1]));
    const communeFiches = new Set([...forCommune.text.matchAll(/\/fiches\/(\d+)"/g)].map((m) => m[1]));
    expect(teamFiches.size).to.be.above(communeFiches.size);
    // asked again, each gets their own page, on either app
    expect((await commune.get(url)).text).to.equal(forCommune.text);
    expect((await viaFirst(url)).text).to.equal(forTeam.text);
    const communeCookie = commune.jar.getCookie('plan.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false })!;
    const viaOther = await request(second).get(url).set('Cookie', `plan.sid=${communeCookie.value}`).expect(200);
    expect(new Set([...viaOther.text.matchAll(/\/fiches\/(\d+)"/g)].map((m) => m[1]))).to.deep.equal(communeFiches);
  });

  it('does not keep a page that showed a notice, nor serve one to a signed-out browser', async () => {
    // a page this session keeps on the first app
    await viaFirst('/homologations/1').expect(200);
    expect((await request(t.app).get('/homologations/1').set('Cookie', cookie)).status).to.equal(200);
    const res = await postForm(editor, `/homologations/1/fiches/${ficheId}`, `/homologations/1/fiches/${ficheId}/notes`, { body: 'Encore un point.', notedOn: '2026-03-16', status: 'en_cours' });
    expect(res.status).to.equal(303);
    const withNotice = await editor.get(res.headers.location!).set('Sec-Fetch-Dest', 'document').expect(200);
    expect(withNotice.text).to.contain('role="status"');
    const next = await editor.get(res.headers.location!).set('Sec-Fetch-Dest', 'document').expect(200);
    expect(textOf(next.text)).to.not.contain(textOf(/role="status"[^>]*>([\s\S]*?)<\//.exec(withNotice.text)?.[1] ?? 'x'));
    // signed out: the session is gone, on both apps
    const out = await editor.get('/homologations').expect(200);
    await editor.post('/deconnexion').type('form').send({ _csrf: csrfOf(out.text) }).expect(302);
    expect((await request(second).get('/homologations/1').set('Cookie', cookie)).status).to.equal(302);
    // the page this session kept on the first app is not served to its cookie any more
    expect((await request(t.app).get('/homologations/1').set('Cookie', cookie)).status).to.equal(302);
    editor = await signIn(t.app, ACCOUNTS.editor);
    const c = editor.jar.getCookie('plan.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false });
    cookie = `plan.sid=${c!.value}`;
  });
});

/** The fields of the first form with a `version` field, as a browser would send them untouched. */
function formFields(html: string): [string, string][] {
  const form = [...html.matchAll(/<form[\s\S]*?<\/form>/gi)].map((m) => m[0]).find((f) => f.includes('name="version"')) ?? html;
  const fields: [string, string][] = [];
  for (const m of form.matchAll(/<input([^>]*)>/g)) {
    const attrs = m[1]!;
    const name = /name="([^"]+)"/.exec(attrs)?.[1];
    if (!name) continue;
    const type = /type="([^"]+)"/.exec(attrs)?.[1] ?? 'text';
    if ((type === 'checkbox' || type === 'radio') && !/\schecked/.test(attrs)) continue;
    if (type === 'submit' || type === 'button') continue;
    fields.push([decode(name), decode(/value="([^"]*)"/.exec(attrs)?.[1] ?? '')]);
  }
  for (const m of form.matchAll(/<textarea([^>]*)>([\s\S]*?)<\/textarea>/g)) {
    const name = /name="([^"]+)"/.exec(m[1]!)?.[1];
    if (name) fields.push([decode(name), decode(m[2]!.replace(/^\n/, ''))]);
  }
  for (const m of form.matchAll(/<select([^>]*)>([\s\S]*?)<\/select>/g)) {
    const name = /name="([^"]+)"/.exec(m[1]!)?.[1];
    if (!name) continue;
    const selected = /<option[^>]*value="([^"]*)"[^>]*selected/.exec(m[2]!)?.[1] ?? /<option[^>]*value="([^"]*)"/.exec(m[2]!)?.[1] ?? '';
    fields.push([decode(name), decode(selected)]);
  }
  return fields;
}

function decode(s: string): string {
  return s.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
