import { expect } from 'chai';
import { aFiche, aHomologation, aTeam, signedIn } from './builders';
import { csrfOf, ENGINE, formBody, freshApp, type TestApp } from './helpers';

describe(`posted fields with a NUL character (${ENGINE})`, () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('stores a progress note typed with a NUL without it (PostgreSQL cannot store one: never a 500)', async () => {
    const hom = await aHomologation().insert(t.db);
    const fiche = await aFiche().inHomologation(hom).ownedBy(await aTeam().insert(t.db)).insert(t.db);
    const editor = await signedIn(t, 'editor');
    const page = await editor.get(`/homologations/${hom}/fiches/${fiche}`).expect(200);
    const res = await editor.post(`/homologations/${hom}/fiches/${fiche}/notes`).type('form')
      .send(formBody({ _csrf: csrfOf(page.text), body: 'Point\u0000 fait', notedOn: '2026-03-16', status: '', 'x\u0000y': 'ignoré' }));
    expect(res.status).to.equal(303);
    const note = await t.db('progress_notes').where({ fiche_id: fiche }).first();
    expect(note.body).to.equal('Point fait');
  });
});
