import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, freshApp, signIn, type TestApp } from './helpers';

describe(`the legal pages and the two renderings of the page frame (${ENGINE})`, () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => t.close());

  it('serves the accessibility statement, the legal notice and the personal data page before sign-in, naming the organisation', async () => {
    for (const url of ['/accessibilite', '/mentions-legales', '/donnees-personnelles']) {
      const res = await request(t.app).get(url).expect(200);
      expect(res.text, url).to.contain('Métropole (démonstration)');
    }
    expect((await request(t.app).get('/accessibilite')).text).to.contain('non conforme');
  });

  it('gives the retention the administrator set, and what personal data the tool holds', async () => {
    await t.db('security_settings').where({ id: 1 }).update({ audit_retention_months: 18 });
    const { text } = await request(t.app).get('/donnees-personnelles').expect(200);
    expect(text).to.contain('18 mois');
    for (const what of ['adresse électronique', 'rôle', 'commune', "Journal d'audit", 'Cookie de session', 'Contacts des communes']) expect(text).to.contain(what);
  });

  it('links them from the footer of both renderings; the neutral one carries nothing of the State', async () => {
    const neutral = (await request(t.app).get('/connexion').expect(200)).text;
    for (const href of ['/accessibilite', '/mentions-legales', '/donnees-personnelles']) expect(neutral).to.contain(`href="${href}"`);
    expect(neutral).to.contain('/static/css/neutral.css').and.contain('/identite/theme.css');
    expect(neutral).not.to.contain('/dsfr/').and.not.contain('fr-logo').and.not.contain('fr-header__brand').and.not.match(/République\s*(<br>)?\s*Française/i);

    await t.db('organisation_identity').where({ id: 1 }).update({ nature: 'etat' });
    const state = (await request(t.app).get('/connexion').expect(200)).text;
    for (const href of ['/accessibilite', '/mentions-legales', '/donnees-personnelles', 'https://legifrance.gouv.fr']) expect(state).to.contain(`href="${href}"`);
    expect(state).to.contain('/dsfr/dsfr.min.css').and.contain('République<br>Française').and.not.contain('/static/css/neutral.css');
  });

  it('gives a signed-in person one navigation list, the account link and the sign-out in either rendering', async () => {
    const admin = await signIn(t.app, 'admin@metropole.example.org');
    for (const nature of ['autre', 'etat']) {
      await t.db('organisation_identity').where({ id: 1 }).update({ nature });
      const { text } = await admin.get('/homologations').expect(200);
      expect(text.match(/href="\/admin\/journal"/g), nature).to.have.length(1);
      expect(text, nature).to.contain('href="/compte"').and.contain('Se déconnecter').and.contain('id="bouton-menu"').and.contain('aria-controls="menu-principal"');
    }
  });
});
