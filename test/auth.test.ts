import { expect } from 'chai';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { ACCOUNTS, csrfOf, freshApp, postForm, signIn, type TestApp } from './helpers';

describe('sign in and out', () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(() => t.close());

  it('shows the demo accounts on the sign-in page in demo mode only', async () => {
    const res = await request(t.app).get('/connexion').expect(200);
    expect(res.text).to.contain('Comptes de démonstration');
    expect(res.text).to.contain(ACCOUNTS.commune);
    const prod = await freshApp({ demo: false, production: true });
    try {
      const page = await request(prod.app).get('/connexion').expect(200);
      expect(page.text).not.to.contain('Comptes de démonstration');
      expect(page.text).not.to.contain(DEMO_PASSWORD);
    } finally {
      await prod.close();
    }
  });

  it('signs in with a demo account and lands on the plan', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.editor.toUpperCase(), password: DEMO_PASSWORD });
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/homologations');
    const plan = await agent.get('/homologations/1').expect(200);
    expect(plan.text).to.contain('Julien Petit');
    const row = await t.db('users').where({ email: ACCOUNTS.editor }).first();
    expect(row.last_login_at).to.be.a('string');
  });

  it('renews the session id at sign-in', async () => {
    // No session before sign-in (test/resilience.test.ts); a session already open gets a new id at the next sign-in.
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const first = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.viewer, password: DEMO_PASSWORD });
    const before = /plan\.sid=([^;]+)/.exec(String(first.headers['set-cookie']))?.[1];
    const plan = await agent.get('/homologations/1');
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(plan.text), email: ACCOUNTS.viewer, password: DEMO_PASSWORD });
    const after = /plan\.sid=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
    expect(before).to.be.a('string');
    expect(after).to.be.a('string').and.not.equal(before);
  });

  it('says next to the field what is missing, keeping the e-mail typed', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.viewer, password: '' });
    expect(res.status).to.equal(422);
    expect(res.text).to.match(/id="password-error"[^>]*>[\s\S]*?Saisissez votre mot de passe\./);
    expect(res.text).not.to.contain('id="email-error"');
    expect(res.text).to.contain(`value="${ACCOUNTS.viewer}"`);
  });

  it('gives the same answer for a wrong password and an unknown account, keeping the e-mail typed', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const token = csrfOf(page.text);
    const wrong = await agent.post('/connexion').type('form').send({ _csrf: token, email: ACCOUNTS.admin, password: 'pas-le-bon-mot-de-passe' });
    const unknown = await agent.post('/connexion').type('form').send({ _csrf: token, email: 'personne@example.org', password: 'pas-le-bon-mot-de-passe' });
    expect(wrong.status).to.equal(401);
    expect(unknown.status).to.equal(401);
    expect(wrong.text).to.contain('Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué.');
    expect(unknown.text).to.contain('Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué.');
    expect(wrong.text).to.contain(`value="${ACCOUNTS.admin}"`);
    // said once, in the alert: not repeated under each field
    expect(wrong.text.split('Connexion refusée').length - 1).to.equal(1);
    const failures = await t.db('audit_log').where({ action: 'login_failed' }).count({ n: '*' }).first();
    expect(Number(failures!.n)).to.equal(2);
  });

  it('asks for both fields with a 422 when one is empty', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: 'x@example.org', password: '' });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('Saisissez votre adresse électronique et votre mot de passe.');
  });

  it('refuses a form without its CSRF token, or with a wrong one', async () => {
    const agent = request.agent(t.app);
    await agent.get('/connexion');
    const none = await agent.post('/connexion').type('form').send({ email: ACCOUNTS.admin, password: DEMO_PASSWORD });
    expect(none.status).to.equal(403);
    expect(none.text).to.contain('Le formulaire a expiré');
    const forged = await agent.post('/connexion').type('form').send({ _csrf: 'forge', email: ACCOUNTS.admin, password: DEMO_PASSWORD });
    expect(forged.status).to.equal(403);
    const signed = await signIn(t.app, ACCOUNTS.editor);
    const noteless = await signed.post('/homologations/1/fiches/1/notes').type('form').send({ body: 'sans jeton', notedOn: '2026-03-16', status: '' });
    expect(noteless.status).to.equal(403);
    const notes = await t.db('progress_notes').where({ body: 'sans jeton' });
    expect(notes).to.have.length(0);
  });

  it('sends visitors who are not signed in to the sign-in page, and back where they were going', async () => {
    const res = await request(t.app).get('/homologations/1/fiches/1').expect(302);
    expect(res.headers.location).to.equal('/connexion?retour=%2Fhomologations%2F1%2Ffiches%2F1');
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion?retour=%2Fhomologations%2F1%2Ffiches%2F1');
    const login = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.viewer, password: DEMO_PASSWORD, retour: '/homologations/1/fiches/1' });
    expect(login.headers.location).to.equal('/homologations/1/fiches/1');
  });

  it('never redirects outside the app after sign-in', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.viewer, password: DEMO_PASSWORD, retour: '//evil.example/x' });
    expect(res.headers.location).to.equal('/homologations');
  });

  it('signs out: the session no longer opens the plan', async () => {
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const res = await postForm(agent, '/homologations/1', '/deconnexion', {});
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/connexion');
    const after = await agent.get('/homologations/1');
    expect(after.status).to.equal(302);
  });

  it('sets security headers with a strict CSP and an HttpOnly session cookie', async () => {
    const res = await request(t.app).get('/connexion');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).to.contain("script-src 'self'");
    expect(csp).not.to.contain('unsafe-inline');
    expect(csp).to.contain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(String(res.headers['set-cookie'])).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
  });

  it('stores sessions in the database, not in memory', async () => {
    await signIn(t.app, ACCOUNTS.viewer);
    const rows = await t.db('sessions').select('sess');
    expect(rows.some((r) => String(typeof r.sess === 'string' ? r.sess : JSON.stringify(r.sess)).includes('passport'))).to.equal(true);
  });

  it('serves DSFR from the package to a State service (the demo, a Métropole, gets none: test/identity.test.ts)', async () => {
    await t.db('organisation_identity').where({ id: 1 }).update({ nature: 'etat' });
    const res = await request(t.app).get('/dsfr/dsfr.min.css').expect(200);
    expect(res.headers['content-type']).to.contain('text/css');
  });
});
