import { format } from 'date-fns';
import { expect } from 'chai';
import { dashboardOf, type DashboardModel, type DashboardQuery, dashboardTable } from '../src/services/dashboard';
import { aCommune, aFiche, aHomologation, anInstance, aService, aTeam } from './builders';
import { freshApp, NOW, type TestApp } from './helpers';

/**
 * The dashboard's view model and CSV tables without HTTP, on a homologation built for the test: three fiches
 * (one late with a strong side effect, one done on a recette instance, one due in twenty days) over a commune's
 * production instance and a central recette instance.
 */
describe('dashboard model (services/dashboard)', function () {
  this.timeout(20_000);
  let t: TestApp;
  const today = format(NOW, 'yyyy-MM-dd');
  const NO_QUERY: DashboardQuery = { equipe: '', service: '', commune: '', environnement: '', avancement: '', export: '' };
  const inDays = (n: number) => format(new Date(NOW.getTime() + n * 86_400_000), 'yyyy-MM-dd');
  let built: { hom: number; team: number; commune: number; service: number; late: number; done: number; coming: number; teamName: string; communeName: string };

  before(async () => {
    t = await freshApp();
    const team = await aTeam().named(`Équipe réseau ${process.pid}`).insert(t.db);
    const commune = await aCommune().named(`Commune modèle ${process.pid}`).insert(t.db);
    const service = await aService().insert(t.db);
    const communal = await anInstance().ofService(service).managedBy(team).inCommune(commune).insert(t.db);
    const central = await anInstance().ofService(service).managedBy(team).inEnvironment('recette').insert(t.db);
    const hom = await aHomologation().withInstances(communal, central).insert(t.db);
    const late = await aFiche().inHomologation(hom).titled('Pare-feu').withStatus('en_cours').late().withSteps(3).ownedBy(team)
      .withSideEffect('fort', 'Coupure du service').insert(t.db);
    const done = await aFiche().inHomologation(hom).titled('Journalisation').withStatus('fait').due(inDays(-30)).withSteps(2, 'fait').onInstances(central).insert(t.db);
    const coming = await aFiche().inHomologation(hom).titled('Sauvegardes').due(inDays(20)).withSteps(1).insert(t.db);
    built = { hom, team, commune, service, late, done, coming, teamName: `Équipe réseau ${process.pid}`, communeName: `Commune modèle ${process.pid}` };
  });
  after(() => t.close());

  const modelOf = async (query: Partial<DashboardQuery> = {}, communeId: number | null = null): Promise<DashboardModel> => {
    const result = await dashboardOf(t.db, { planId: built.hom, communeId, query: { ...NO_QUERY, ...query }, today, base: `/homologations/${built.hom}` });
    if (!result.ok) throw new Error(result.message);
    return result.model;
  };

  it('counts, lists the late and coming fiches, groups by team and environment, and draws the commune matrix', async () => {
    const m = await modelOf();
    expect(m.fiches.map((f) => f.title)).to.deep.equal(['Pare-feu', 'Journalisation', 'Sauvegardes']);
    expect(m.statusCounts).to.deep.equal({ non_demarre: 1, en_cours: 1, bloque: 0, fait: 1, total: 3 });
    expect(m).to.include({ stepsDone: 2, stepsTotal: 6 });
    expect(m.late.map((l) => ({ id: l.fiche.id, daysLate: l.daysLate, owner: l.owner, steps: l.lateSteps.length })))
      .to.deep.equal([{ id: built.late, daysLate: 7, owner: built.teamName, steps: 3 }]);
    expect(m.soon.map((c) => [c.label, c.window])).to.deep.equal([['Fiche n°3 : Sauvegardes', 30]]);
    expect(m.byTeam).to.deep.equal([{ label: built.teamName, counts: { non_demarre: 0, en_cours: 1, bloque: 0, fait: 0, total: 1 } }]);
    expect(m.byEnv.map((g) => [g.label, g.counts.total])).to.deep.equal([['Production', 2], ['Recette', 3]]);
    expect(m.strong.map((e) => e.description)).to.deep.equal(['Coupure du service']);
    expect(m.matrix).to.deep.equal([{ communeId: built.commune, communeName: built.communeName, cells: ['en_cours', null, 'non_demarre'], counts: [null, null, null] }]);
    // by date: the done fiche's (a month ago), the late one's (a week ago), the coming one's
    expect(m.calendar.map((c) => [c.label, c.late, c.done])).to.deep.equal([
      ['Fiche n°2 : Journalisation', false, true], ['Fiche n°1 : Pare-feu', true, false], ['Fiche n°3 : Sauvegardes', false, false],
    ]);
    expect(m.ready.index).to.be.within(0, 5);
  });

  it('gives every CSV table its header and rows', async () => {
    const m = await modelOf();
    expect(dashboardTable(m, 'statuts')).to.deep.equal([['Avancement', 'Fiches'], ['Non démarré', 1], ['En cours', 1], ['Bloqué', 0], ['Fait', 1]]);
    expect(dashboardTable(m, 'retards')).to.deep.equal([
      ['Fiche', 'Intitulé', 'Date cible', 'Jours de retard', 'Responsable', 'Actions en retard'],
      [1, 'Pare-feu', inDays(-7), 7, built.teamName, `Action 1 (${inDays(-7)}) | Action 2 (${inDays(-7)}) | Action 3 (${inDays(-7)})`],
    ]);
    expect(dashboardTable(m, 'communes')).to.deep.equal([['Commune', 'Fiche 1', 'Fiche 2', 'Fiche 3'], [built.communeName, 'En cours', '', 'Non démarré']]);
    expect(dashboardTable(m, 'effets-forts')).to.deep.equal([['Fiche', 'Intitulé', 'Avancement', 'Effet de bord fort'], [1, 'Pare-feu', 'En cours', 'Coupure du service']]);
    const index = dashboardTable(m, 'indice');
    expect(index[0]).to.deep.equal(['Composante', 'Part', 'Poids', 'Points']);
    expect(index.at(-1)).to.deep.equal(['Indice', '', '', m.ready.index.toFixed(2)]);
    expect(dashboardTable(m, 'environnements').map((r) => r[0])).to.deep.equal(['Environnement', 'Production', 'Recette']);
  });

  it('applies the filters and keeps the known ones for the URL; refuses an unknown value or export with its message', async () => {
    const result = await dashboardOf(t.db, { planId: built.hom, communeId: null, query: { ...NO_QUERY, avancement: 'fait', environnement: 'recette' }, today, base: '' });
    if (!result.ok) throw new Error(result.message);
    expect(result.model.fiches.map((f) => f.id)).to.deep.equal([built.done]);
    expect(result.query).to.deep.equal({ environnement: 'recette', avancement: 'fait' });
    expect((await modelOf({ equipe: String(built.team) })).fiches.map((f) => f.id)).to.deep.equal([built.late]);
    expect((await modelOf({ commune: String(built.commune) })).fiches.map((f) => f.id)).to.deep.equal([built.late, built.coming]);
    const refused = async (query: Partial<DashboardQuery>) => dashboardOf(t.db, { planId: built.hom, communeId: null, query: { ...NO_QUERY, ...query }, today, base: '' });
    expect(await refused({ equipe: '999999' })).to.deep.equal({ ok: false, message: "Filtre inconnu : l'équipe « 999999 » n'existe pas. Choisissez une valeur dans la liste des filtres." });
    expect(await refused({ avancement: 'fini' })).to.have.property('ok', false);
    expect(await refused({ export: 'tout' })).to.deep.equal({ ok: false, message: 'Export inconnu : « tout ».' });
  });

  it("shows a commune's staff only the fiches touching their instances, and their commune only", async () => {
    const m = await modelOf({}, built.commune);
    expect(m.fiches.map((f) => f.id)).to.deep.equal([built.late, built.coming]);
    expect(m.matrix.map((r) => r.communeName)).to.deep.equal([built.communeName]);
    expect(m.data.communes.map((c) => c.id)).to.deep.equal([built.commune]);
  });
});
