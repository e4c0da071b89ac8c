import { expect } from 'chai';
import { applyBulkChange } from '../src/data/bulk-changes';
import { getFiche } from '../src/data/fiches';
import { ficheStatesAt } from '../src/data/meetings';
import type { Actor } from '../src/domain/roles';
import { aFiche, aHomologation, aTeam, aUser } from './builders';
import { ENGINE, freshApp, NOW, type TestApp } from './helpers';

/** The state of a fiche at an instant, as the agenda's "depuis la dernière séance" and the digest compare it. */
describe(`a fiche's state at an instant, from the audit trail (${ENGINE})`, () => {
  let t: TestApp;
  let actor: Actor;
  before(async () => {
    t = await freshApp();
    const u = await aUser().withRole('editor').insert(t.db);
    actor = { id: u.id, name: u.name, email: u.email, role: u.role, communeId: null };
  });
  after(() => t.close());

  it('follows bulk changes of its steps and of its status or date, not only its form\u2019s saves', async () => {
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
