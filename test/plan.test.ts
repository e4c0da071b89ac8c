import { expect } from 'chai';
import { signedIn } from './builders';
import { ACCOUNTS, ficheIdByNumber, freshApp, signIn, type TestApp, textOf } from './helpers';

describe('the plan page', () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('shows the perimeter counts with the managing teams, and the communes', async () => {
    const agent = await signedIn(t, 'viewer');
    const text = textOf((await agent.get('/homologations/1').expect(200)).text);
    expect(text).to.match(/Toodego 14 16 SNU 1 et les communes/);
    expect(text).to.match(/Intranet 1 1 PWN/);
    expect(text).to.contain('Communes partenaires (16)');
    expect(text).to.contain('Vénissieux');
  });

  it('shows the calendar split between done and still to do', async () => {
    const agent = await signedIn(t, 'viewer');
    const text = textOf((await agent.get('/homologations/1').expect(200)).text);
    const done = text.indexOf('Réalisé');
    const toDo = text.indexOf('Reste à faire');
    expect(done).to.be.greaterThan(-1);
    expect(toDo).to.be.greaterThan(done);
    expect(text.slice(done, toDo)).to.contain("Construction du plan d'action");
    expect(text.slice(toDo)).to.contain("Signature de l'homologation");
  });

  it('lists the fiches with status, target date, owner, steps done and a late mark', async () => {
    const agent = await signedIn(t, 'viewer');
    const html = (await agent.get('/homologations/1').expect(200)).text;
    const rows = html.split('<tr>').slice(1).map(textOf);
    const row = (n: number) => rows.find((r) => r.trim().startsWith(`${n} `))!;
    expect(row(1)).to.contain('En cours').and.contain('SNU 1').and.contain('1 / 3');
    // fiche 2's target date is a month before the clock and it has not started
    expect(row(2)).to.contain('Non démarré').and.contain('En retard');
    // fiche 5 is done: its past date is not late
    expect(row(5)).to.contain('Fait').and.not.contain('En retard');
    expect(row(4)).to.contain('SNU 1 pour Toodego et SAU ; PWN pour Intranet et Extranet');
  });

  it("shows a commune agent only the fiches touching its instances, and nothing of other communes", async () => {
    const agent = await signIn(t.app, ACCOUNTS.commune);
    const text = textOf((await agent.get('/homologations/1').expect(200)).text);
    expect(text).to.contain('Fiches actions (4)');
    expect(text).not.to.contain("Formaliser une procédure d'anonymisation");
    expect(text).to.contain('Villeurbanne');
    expect(text).not.to.contain('Vénissieux');
    expect(text).not.to.contain('Communes partenaires (16)');
    expect(text).to.match(/Toodego 1 1 SNU 1 et votre commune/);
    expect(text).not.to.match(/Intranet 1 1/);
  });

  it('shows a commune without instances no homologation and no fiche, not even those on the whole perimeter', async () => {
    // signedIn gives a commune role a new commune of its own, without instances
    const agent = await signedIn(t, 'commune');
    const home = textOf((await agent.get('/homologations').expect(200)).text);
    expect(home).to.contain('Aucune homologation pour l').and.not.contain(String((await t.db('plans').first()).title));
    expect((await agent.get('/homologations/1')).status).to.equal(403);
    const whole = await ficheIdByNumber(t.db, 4);
    expect((await agent.get(`/homologations/1/fiches/${whole}`)).status).to.equal(403);
  });
});

// The settings of each homologation (formerly /admin/plan) are tested in homologations.test.ts.
