import { expect } from 'chai';
import { up as fillProgress } from '../db/migrations/016_fiche_progress';
import { applyBulkChange } from '../src/data/bulk-changes';
import { loadDashboard } from '../src/data/dashboard';
import { getFiche } from '../src/data/fiches';
import { ficheStatesAt } from '../src/data/meetings';
import type { Actor } from '../src/domain/roles';
import { aFiche, aHomologation, aTeam, aUser } from './builders';
import { ENGINE, freshApp, NOW, type TestApp } from './helpers';

/**
 * A fiche over time: the compact history of steps done the dashboard's trend reads, written with each change; and its
 * state at an instant, rebuilt from the audit trail, which the agenda's "depuis la dernière séance" and the digest compare.
 */
describe(`a fiche over time (${ENGINE})`, () => {
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

  it('has a state at an instant that follows bulk changes of its steps and of its status or date, not only its form\u2019s saves', async () => {
    const hom = await aHomologation().insert(t.db);
    const ficheId = await aFiche().inHomologation(hom).ownedBy(await aTeam().insert(t.db)).due('2026-06-30').withSteps(2).insert(t.db);
    const fiche = (await getFiche(t.db, ficheId))!;
    const later = new Date(NOW.getTime() + 60_000);
    const opts = { actor, at: later, today: '2026-03-16', evidenceRequired: false };
    const steps = await applyBulkChange(t.db, hom, 'actions', [{ id: fiche.steps[0]!.id, seenVersion: fiche.version }], { kind: 'status', status: 'fait' }, opts);
    expect(steps.ok, JSON.stringify(steps)).to.equal(true);
    const bumped = (await getFiche(t.db, ficheId))!;
    const status = await applyBulkChange(t.db, hom, 'fiches', [{ id: ficheId, seenVersion: bumped.version }], { kind: 'status', status: 'en_cours' }, opts);
    expect(status.ok, JSON.stringify(status)).to.equal(true);

    const before = (await ficheStatesAt(t.db, [ficheId], NOW.toISOString())).get(ficheId)!;
    expect([before.status, before.targetDate, before.steps.map((s) => s.status)]).to.deep.equal(['non_demarre', '2026-06-30', ['non_demarre', 'non_demarre']]);
    const now = (await ficheStatesAt(t.db, [ficheId], later.toISOString())).get(ficheId)!;
    // the fiche's partial entry (its status only) keeps its steps; the step's own entry moves that step
    expect([now.status, now.targetDate, now.steps.map((s) => s.status)]).to.deep.equal(['en_cours', '2026-06-30', ['fait', 'non_demarre']]);
  });
});
