import { expect } from 'chai';
import { readiness, stepsTrend, type DashFiche } from '../src/domain/dashboard';
import { signedIn } from './builders';
import { ACCOUNTS, freshApp, signIn, type TestApp, textOf } from './helpers';

const fiche = (over: Partial<DashFiche>): DashFiche => ({
  id: 1, number: 1, title: 'F', status: 'en_cours', targetDate: '2026-06-30', owners: [], steps: [], strongEffects: [], instanceIds: 'all', ...over,
});

describe('dashboard', () => {
  describe('readiness index', () => {
    it('weighs steps done, fiches on time, strong side effects settled and fiches done', () => {
      const r = readiness([
        fiche({ id: 1, status: 'fait', steps: [{ label: 'a', status: 'fait' }, { label: 'b', status: 'fait' }], strongEffects: ['x'] }),
        fiche({ id: 2, status: 'en_cours', targetDate: '2026-01-01', steps: [{ label: 'c', status: 'fait' }, { label: 'd', status: 'en_cours' }], strongEffects: ['y'] }),
      ], '2026-03-16');
      // steps 3/4, on time 1/2, strong settled 1/2, done 1/2
      const expected = 5 * (0.4 * 0.75 + 0.25 * 0.5 + 0.2 * 0.5 + 0.15 * 0.5);
      expect(r.index).to.be.closeTo(expected, 1e-9);
      expect(r.components.map((c) => c.key)).to.deep.equal(['steps', 'onTime', 'strong', 'done']);
      expect(r.components[0]!.gain).to.be.closeTo(5 * 0.4 * 0.25, 1e-9);
    });
    it('is 5 when everything is done, and counts "no strong effect" as settled', () => {
      expect(readiness([fiche({ status: 'fait', steps: [{ label: 'a', status: 'fait' }] })], '2026-03-16').index).to.be.closeTo(5, 1e-9);
      expect(readiness([], '2026-03-16').index).to.be.closeTo(1, 1e-9);
    });
  });

  it('builds the monthly trend of steps done from successive snapshots', () => {
    const trend = stepsTrend([
      { ficheId: 1, at: '2026-01-10T10:00:00Z', stepsDone: 1 },
      { ficheId: 2, at: '2026-01-20T10:00:00Z', stepsDone: 0 },
      { ficheId: 1, at: '2026-03-02T10:00:00Z', stepsDone: 3 },
    ], '2026-03-16');
    expect(trend).to.deep.equal([{ month: '2026-01', done: 1 }, { month: '2026-02', done: 1 }, { month: '2026-03', done: 3 }]);
  });

  describe('page', () => {
    let t: TestApp;
    before(async () => { t = await freshApp(); });
    after(() => t.close());

    it('shows the overview, the late fiches, the charts with their data tables, for every role', async () => {
      for (const role of ['admin', 'editor', 'viewer'] as const) {
        const agent = await signedIn(t, role);
        const res = await agent.get('/homologations/1/tableau-de-bord').expect(200);
        const text = textOf(res.text);
        expect(text).to.contain('Maturité pour la signature');
        // fiche 2 is late; fiche 1 is not, but one of its steps is, by its own date
        expect(text).to.match(/En retard \(2\)/);
        expect(text).to.match(/N°2 : Formaliser/);
        expect(text).to.match(/N°1 : Sécuriser[^]*Demander à l'usager un champ supplémentaire[^]*Julien Petit/);
        expect(res.text).to.match(/<svg class="app-chart"[^>]*role="img"/);
        expect(text).to.contain('Fiches par avancement');
        expect(text).to.contain('Effets de bord forts encore ouverts (2)');
        expect(text).to.contain('Villeurbanne');
      }
    });

    it('keeps filters in the URL, and refuses unknown values with a 400', async () => {
      const agent = await signedIn(t, 'viewer');
      const done = textOf((await agent.get('/homologations/1/tableau-de-bord?avancement=fait').expect(200)).text);
      expect(done).to.contain('En retard (0)');
      expect(done).to.contain('Effets de bord forts encore ouverts (0)');
      const pwn = (await t.db('teams').where({ name: 'PWN' }).first()).id;
      const byTeam = await agent.get(`/homologations/1/tableau-de-bord?equipe=${pwn}`).expect(200);
      expect(byTeam.text).to.contain(`<option value="${pwn}" selected>`);
      expect(textOf(byTeam.text)).to.match(/En retard \(1\)/);
      for (const bad of ['equipe=9999', 'environnement=preprod', 'avancement=presque', 'commune=abc', 'export=tout']) {
        const res = await agent.get(`/homologations/1/tableau-de-bord?${bad}`);
        expect(res.status, bad).to.equal(400);
        expect(textOf(res.text)).to.match(/inconnu/);
      }
    });

    it('exports each table to CSV, with the filters applied', async () => {
      const agent = await signedIn(t, 'viewer');
      const res = await agent.get('/homologations/1/tableau-de-bord?export=retards').expect(200);
      expect(res.headers['content-type']).to.contain('text/csv');
      const lines = res.text.replace(/^\ufeff/, '').trim().split('\n');
      expect(lines[0]).to.equal('Fiche;Intitulé;Date cible;Jours de retard;Responsable;Actions en retard');
      expect(lines).to.have.length(3);
      // the oldest first: fiche 1's step (ten days late) after fiche 2 (late since its date, earlier)
      expect(lines.slice(1).map((l) => l.split(';')[0]).sort()).to.deep.equal(['1', '2']);
      expect(lines.find((l) => l.startsWith('1;'))).to.match(/Demander à l'usager un champ supplémentaire en plus du code de suivi \(\d{4}-\d{2}-\d{2}, Julien Petit\)/);
      const filtered = await agent.get('/homologations/1/tableau-de-bord?export=statuts&avancement=fait').expect(200);
      expect(filtered.text).to.contain('Fait;1').and.contain('En cours;0');
      const matrix = await agent.get('/homologations/1/tableau-de-bord?export=communes').expect(200);
      expect(matrix.text.split('\n').filter(Boolean)).to.have.length(17);
    });

    it("restricts a commune agent's dashboard to its own instances", async () => {
      const agent = await signIn(t.app, ACCOUNTS.commune);
      const res = await agent.get('/homologations/1/tableau-de-bord').expect(200);
      const text = textOf(res.text);
      expect(text).not.to.contain('Vénissieux');
      expect(text).not.to.contain('Formaliser une procédure');
      expect(text).to.contain('Villeurbanne');
      const other = (await t.db('communes').where({ name: 'Bron' }).first()).id;
      expect((await agent.get(`/homologations/1/tableau-de-bord?commune=${other}`)).status).to.equal(400);
      const csv = await agent.get('/homologations/1/tableau-de-bord?export=communes').expect(200);
      expect(csv.text).not.to.contain('Bron');
    });
  });
});
