import { expect } from 'chai';
import { getFiche } from '../src/data/fiches';
import { getHomologation, memberRole } from '../src/data/homologations';
import { isLate } from '../src/domain/fiche';
import { aCommune, aFiche, aHomologation, anInstance, aTeam, aUser, signedIn } from './builders';
import { freshApp, NOW, type TestApp } from './helpers';

describe('test data builders', () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('build a homologation with a perimeter, a member and a late fiche owned by a team', async () => {
    const team = await aTeam().insert(t.db);
    const commune = await aCommune().insert(t.db);
    const instance = await anInstance().managedBy(team).inCommune(commune).insert(t.db);
    const editor = await aUser().withRole('viewer').insert(t.db);
    const hom = await aHomologation().named('Portail de test').withInstances(instance).withMember(editor.id, 'editor').insert(t.db);
    const id = await aFiche().inHomologation(hom).withSteps(3).late().ownedBy(team).onInstances(instance).by(editor).insert(t.db);
    const other = await aFiche().inHomologation(hom).insert(t.db);
    expect((await getHomologation(t.db, hom))?.title).to.equal('Portail de test');
    expect(await memberRole(t.db, hom, editor.id)).to.equal('editor');
    const fiche = (await getFiche(t.db, id))!;
    expect(fiche.number).to.equal(1);
    expect((await getFiche(t.db, other))!.number).to.equal(2);
    expect(fiche.steps).to.have.length(3);
    expect(fiche.owners.map((o) => o.teamId)).to.deep.equal([team]);
    expect(fiche.scope.map((s) => s.id)).to.deep.equal([instance]);
    expect(isLate(fiche, NOW.toISOString().slice(0, 10))).to.equal(true);
  });

  it('sign in as a new account of each role', async () => {
    for (const role of ['admin', 'editor', 'viewer', 'commune', 'commune_admin'] as const) {
      const agent = await signedIn(t, role);
      await agent.get('/homologations').expect(200);
    }
  });
});
