import { expect } from 'chai';
import { getFiche, listFiches } from '../src/data/fiches';
import { currentPlan } from '../src/data/plans';
import { instances, milestones } from '../src/data/referentials';
import { listUsers } from '../src/data/users';
import { perimeterLines } from '../src/domain/perimeter';
import { freshApp, type TestApp } from './helpers';

describe('demonstration plan', () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('has the five fiches of the deck, each with steps', async () => {
    const plan = await currentPlan(t.db);
    expect(plan.isDemo).to.equal(true);
    const fiches = await listFiches(t.db, plan.id, null);
    expect(fiches.map((f) => f.number)).to.deep.equal([1, 2, 3, 4, 5]);
    for (const f of fiches) expect(f.stepsTotal, `fiche ${f.number}`).to.be.greaterThan(0);
    expect(fiches.find((f) => f.number === 5)!.status).to.equal('fait');
  });

  it('keeps conclusions with counts, cost, owners per part of the scope and side effects by level', async () => {
    const plan = await currentPlan(t.db);
    const byNumber = new Map((await listFiches(t.db, plan.id, null)).map((f) => [f.number, f.id]));
    const f1 = (await getFiche(t.db, byNumber.get(1)!))!;
    expect(f1.conclusionCounts.map((c) => `${c.count}/${c.total}`)).to.deep.equal(['52/84', '28/84', '3/84']);
    expect(f1.sideEffects.map((e) => e.level)).to.deep.equal(['fort', 'faible']);
    expect(f1.steps[0]!.status).to.equal('fait');
    const f3 = (await getFiche(t.db, byNumber.get(3)!))!;
    expect(f3.costAmount).to.equal(1500);
    expect(f3.sideEffects.some((e) => e.level === 'fort')).to.equal(true);
    const f4 = (await getFiche(t.db, byNumber.get(4)!))!;
    expect(f4.owners.map((o) => `${o.teamName}:${o.serviceName}`)).to.deep.equal(['SNU 1:Toodego', 'SNU 1:SAU', 'PWN:Intranet', 'PWN:Extranet']);
    const f2 = (await getFiche(t.db, byNumber.get(2)!))!;
    expect(f2.sideEffects).to.have.length(0);
    expect(f2.scopeAll).to.equal(false);
    expect(new Set(f2.scope.map((s) => s.serviceName))).to.deep.equal(new Set(['Intranet', 'Extranet']));
  });

  it('has the perimeter of the deck: 14 communal production instances and 16 test instances', async () => {
    const lines = perimeterLines(await instances.list(t.db));
    const toodego = lines.find((l) => l.serviceName === 'Toodego')!;
    expect([toodego.prod, toodego.recette]).to.deep.equal([14, 16]);
    expect(toodego.communes).to.have.length(16);
    for (const name of ['Intranet', 'Extranet', 'SAU']) {
      const line = lines.find((l) => l.serviceName === name)!;
      expect([line.prod, line.recette], name).to.deep.equal([1, 1]);
    }
  });

  it('has a calendar with milestones done and still to do, and one account per role', async () => {
    const list = await milestones.list(t.db);
    expect(list.filter((m) => m.done).length).to.be.greaterThan(0);
    expect(list.filter((m) => !m.done).length).to.be.greaterThan(0);
    const roles = (await listUsers(t.db)).map((u) => u.role).sort();
    expect(roles).to.deep.equal(['admin', 'commune', 'commune_admin', 'editor', 'viewer']);
  });

  it('records progress notes with their authors, moving the statuses', async () => {
    const rows = await t.db('progress_notes').join('users', 'users.id', 'progress_notes.author_id').select('users.name', 'progress_notes.status_after');
    expect(rows.length).to.be.greaterThan(3);
    expect(rows.some((r) => r.status_after === 'bloque')).to.equal(true);
  });
});
