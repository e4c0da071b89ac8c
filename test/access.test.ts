import { expect } from 'chai';
import request from 'supertest';
import { signedIn } from './builders';
import { ACCOUNTS, type Agent, ficheIdByNumber, freshApp, signIn, type TestApp } from './helpers';

type Role = keyof typeof ACCOUNTS;

/**
 * What each role gets on each page: 200 allowed, 403 refused.
 * Fiche 1 touches Villeurbanne's instances (the demo commune agent); fiche 2 only the Intranet and Extranet.
 */
const MATRIX: { url: (f: Record<number, number>) => string; expect: Record<Role, number> }[] = [
  { url: () => '/homologations/1', expect: { admin: 200, editor: 200, viewer: 200, commune: 200, communeAdmin: 200 } },
  { url: (f) => `/homologations/1/fiches/${f[1]}`, expect: { admin: 200, editor: 200, viewer: 200, commune: 200, communeAdmin: 200 } },
  { url: (f) => `/homologations/1/fiches/${f[2]}`, expect: { admin: 200, editor: 200, viewer: 200, commune: 403, communeAdmin: 403 } },
  { url: () => '/homologations/1/fiches/nouvelle', expect: { admin: 200, editor: 200, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: (f) => `/homologations/1/fiches/${f[1]}/modifier`, expect: { admin: 200, editor: 200, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: (f) => `/homologations/1/fiches/${f[1]}/supprimer`, expect: { admin: 200, editor: 200, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: () => '/homologations/1/seances', expect: { admin: 200, editor: 200, viewer: 200, commune: 200, communeAdmin: 200 } },
  { url: () => '/homologations/1/seances/nouvelle', expect: { admin: 200, editor: 200, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: () => '/admin', expect: { admin: 200, editor: 403, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: () => '/admin/journal', expect: { admin: 200, editor: 403, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: () => '/admin/utilisateurs', expect: { admin: 200, editor: 403, viewer: 403, commune: 403, communeAdmin: 403 } },
  { url: () => '/admin/instances', expect: { admin: 200, editor: 403, viewer: 403, commune: 403, communeAdmin: 403 } },
];

describe('access by role, enforced on the server', () => {
  let t: TestApp;
  const agents = {} as Record<Role, Agent>;
  const fiches: Record<number, number> = {};
  before(async () => {
    t = await freshApp();
    // the Métropole's roles see the whole homologation whoever holds them; the commune's are Villeurbanne's accounts
    for (const role of ['admin', 'editor', 'viewer'] as const) agents[role] = await signedIn(t, role);
    for (const role of ['commune', 'communeAdmin'] as const) agents[role] = await signIn(t.app, ACCOUNTS[role]);
    for (const n of [1, 2, 3]) fiches[n] = await ficheIdByNumber(t.db, n);
  });
  after(() => t.close());

  for (const row of MATRIX) {
    it(`GET ${row.url({ 1: 1, 2: 2 })} answers ${JSON.stringify(row.expect)}`, async () => {
      for (const role of Object.keys(ACCOUNTS) as Role[]) {
        const res = await agents[role].get(row.url(fiches));
        expect(res.status, `${role} on ${row.url(fiches)}`).to.equal(row.expect[role]);
        if (res.status === 403) expect(res.text).to.contain('Accès refusé');
      }
    });
  }

  it('refuses the writes of viewers and commune agents, with a valid CSRF token, and changes nothing', async () => {
    for (const role of ['viewer', 'commune'] as Role[]) {
      const page = await agents[role].get('/homologations/1');
      const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
      const attempts = [
        agents[role].post(`/homologations/1/fiches/${fiches[1]}/notes`).type('form').send({ _csrf: token, body: 'intrusion', notedOn: '2026-03-16', status: 'fait' }),
        agents[role].post(`/homologations/1/fiches/${fiches[1]}`).type('form').send({ _csrf: token, title: 'intrusion' }),
        agents[role].post('/homologations/1/fiches').type('form').send({ _csrf: token, title: 'intrusion' }),
        agents[role].post(`/homologations/1/fiches/${fiches[1]}/supprimer`).type('form').send({ _csrf: token }),
        agents[role].post('/admin/equipes').type('form').send({ _csrf: token, name: 'intrusion' }),
      ];
      for (const res of await Promise.all(attempts)) expect(res.status, role).to.equal(403);
    }
    expect(await t.db('progress_notes').where({ body: 'intrusion' })).to.have.length(0);
    expect(await t.db('teams').where({ name: 'intrusion' })).to.have.length(0);
    expect((await t.db('fiches').where({ id: fiches[1] }).first()).status).to.equal('en_cours');
  });

  it('shows a commune agent only its own instances in a fiche scope', async () => {
    const res = await agents.commune.get(`/homologations/1/fiches/${fiches[1]}`).expect(200);
    expect(res.text).to.contain('Toodego Villeurbanne');
    expect(res.text).not.to.contain('Toodego Bron');
    expect(res.text).not.to.contain('SAU production');
    const admin = await agents.admin.get(`/homologations/1/fiches/${fiches[1]}`).expect(200);
    expect(admin.text).to.contain('Toodego Bron');
  });

  it('sends anonymous visitors to the sign-in page for every page', async () => {
    for (const row of MATRIX) {
      const res = await request(t.app).get(row.url(fiches));
      expect(res.status).to.equal(302);
      expect(res.headers.location).to.match(/^\/connexion/);
    }
  });
});
