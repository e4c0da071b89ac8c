import { expect } from 'chai';
import { up as fillProgress } from '../db/migrations/016_fiche_progress';
import { applyBulkChange } from '../src/data/bulk-changes';
import { loadDashboard } from '../src/data/dashboard';
import { getFiche } from '../src/data/fiches';
import type { Actor } from '../src/domain/roles';
import { aFiche, aHomologation, aTeam, aUser } from './builders';
import { ENGINE, freshApp, NOW, type TestApp } from './helpers';

/** The dashboard's trend reads a compact history of steps done, written with each change. */
describe(`the steps done of each fiche over time (${ENGINE})`, () => {
  let t: TestApp;
  let actor: Actor;
  before(async () => {
    t = await freshApp();
    const u = await aUser().withRole('editor').insert(t.db);
    actor = { id: u.id, name: u.name, email: u.email, role: u.role, communeId: null };
  });
  after(() => t.close());

  it('records a fiche\u2019s creation and a bulk change of its steps; the dashboard\u2019s trend follows both', async () => {
    const hom = await aHomologation().insert(t.db);
    const ficheId = await aFiche().inHomologation(hom).ownedBy(await aTeam().insert(t.db)).withSteps(3).insert(t.db);
    const fiche = (await getFiche(t.db, ficheId))!;
    const later = new Date(NOW.getTime() + 3_600_000);
    const res = await applyBulkChange(t.db, hom, 'actions', fiche.steps.slice(0, 2).map((s) => ({ id: s.id, seenVersion: fiche.version })),
      { kind: 'status', status: 'fait' }, { actor, at: later, today: '2026-03-16', evidenceRequired: false });
    expect(res.ok, JSON.stringify(res)).to.equal(true);
    const events = (await loadDashboard(t.db, hom, null)).stepEvents;
    expect(events).to.deep.equal([
      { ficheId, at: NOW.toISOString(), stepsDone: 0 },
      { ficheId, at: later.toISOString(), stepsDone: 2 },
    ]);
  });

  it('is filled, when the table is made, from the audit trail\u2019s snapshots of the fiches (a database of before)', async () => {
    const hom = await aHomologation().insert(t.db);
    const ficheId = await aFiche().inHomologation(hom).ownedBy(await aTeam().insert(t.db)).withSteps(2, 'fait').insert(t.db);
    const before = (await loadDashboard(t.db, hom, null)).stepEvents;
    await t.db.schema.dropTable('fiche_progress');
    await fillProgress(t.db);
    expect((await loadDashboard(t.db, hom, null)).stepEvents).to.deep.equal(before).and.to.deep.equal([{ ficheId, at: NOW.toISOString(), stepsDone: 2 }]);
  });
});
