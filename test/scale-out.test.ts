import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../src/app';
import { aFiche, aHomologation, aTeam, aUser, signedIn } from './builders';
import { ENGINE, freshApp, NOW, postForm, type TestApp, textOf, TEST_PASSWORDS } from './helpers';

// Several app processes behind a load balancer: each has its own connection pool; they share only the database.
describe(`two app instances on one database (${ENGINE})`, () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('share sessions and CSRF state, and see each other’s writes', async () => {
    const second = createApp({ db: t.openAnother(), config: t.config, now: () => NOW, passwords: TEST_PASSWORDS });
    const hid = await aHomologation().insert(t.db);
    const id = await aFiche().inHomologation(hid).insert(t.db);
    // signed in through the first instance…
    const agent = await signedIn(t, await aUser().withRole('editor').named('Julien Petit').insert(t.db));
    const cookie = agent.jar.getCookie('plan.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false });
    expect(cookie, 'session cookie').to.exist;
    const header = `plan.sid=${cookie!.value}`;
    // …the session is known to the second one
    const plan = await request(second).get(`/homologations/${hid}`).set('Cookie', header);
    expect(plan.status).to.equal(200);
    expect(plan.text).to.contain('Julien Petit');
    // a form served by the second instance is accepted by the first (the CSRF token lives in the shared session)
    const page = await request(second).get(`/homologations/${hid}/fiches/${id}`).set('Cookie', header);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    const posted = await agent.post(`/homologations/${hid}/fiches/${id}/notes`).type('form')
      .send({ _csrf: token, body: 'Écrit par la première instance.', notedOn: '2026-03-16', status: 'en_cours' });
    expect(posted.status).to.equal(303);
    // the write made through the first instance is read by the second
    const after = await request(second).get(`/homologations/${hid}/fiches/${id}`).set('Cookie', header);
    expect(textOf(after.text)).to.contain('Écrit par la première instance.');
    // and signing out on the second ends the session on the first
    const plan2 = await request(second).get(`/homologations/${hid}`).set('Cookie', header);
    await request(second).post('/deconnexion').set('Cookie', header).type('form').send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(plan2.text)![1] }).expect(302);
    expect((await agent.get(`/homologations/${hid}`)).status).to.equal(302);
  });

  it('keeps the version check across instances: a stale form from one is refused by the other', async () => {
    const second = createApp({ db: t.openAnother(), config: t.config, now: () => NOW, passwords: TEST_PASSWORDS });
    const team = { id: await aTeam().insert(t.db) };
    const hid = await aHomologation().insert(t.db);
    const id = await aFiche().inHomologation(hid).numbered(4).ownedBy(team.id).insert(t.db);
    const viaFirst = await signedIn(t, 'editor');
    const viaSecond = await signedIn({ app: second, db: t.db }, 'admin');
    const stale = await viaSecond.get(`/homologations/${hid}/fiches/${id}/modifier`);
    await postForm(viaFirst, `/homologations/${hid}/fiches/${id}`, `/homologations/${hid}/fiches/${id}/notes`, { body: 'Change la version.', notedOn: '2026-03-16', status: 'en_cours' });
    const version = /name="version" value="(\d+)"/.exec(stale.text)![1];
    const res = await viaSecond.post(`/homologations/${hid}/fiches/${id}`).type('form').send(
      `_csrf=${encodeURIComponent(/name="_csrf" value="([^"]+)"/.exec(stale.text)![1]!)}&_action=save&version=${version}&number=4&title=x&targetDate=2026-09-30&status=fait&scope=all&owners%5B0%5D%5BteamId%5D=${team.id}&owners%5B0%5D%5BserviceId%5D=`,
    );
    expect(res.status).to.equal(409);
  });
});
