import { expect } from 'chai';
import { moveSection, normaliseOrder } from '../src/domain/agenda';
import { changesSince, type FicheState } from '../src/domain/changes';

describe('changes since the last meeting', () => {
  const before: FicheState = {
    status: 'non_demarre', targetDate: '2026-06-30',
    steps: [{ id: 1, label: 'Inventorier', status: 'en_cours' }, { id: 2, label: 'Chiffrer', status: 'non_demarre' }],
    sideEffects: [{ level: 'faible', description: 'Gêne' }],
  };

  it('names status changes, moved target dates, steps done or added and new side effects', () => {
    const after: FicheState = {
      status: 'en_cours', targetDate: '2026-09-30',
      steps: [{ id: 1, label: 'Inventorier', status: 'fait' }, { id: 2, label: 'Chiffrer', status: 'en_cours' }, { id: 3, label: 'Déployer', status: 'non_demarre' }],
      sideEffects: [{ level: 'faible', description: 'Gêne' }, { level: 'fort', description: 'Refus du centre de contact' }],
    };
    expect(changesSince(before, after, [{ notedOn: '2026-03-01', body: 'Lancé.', authorName: 'Julien Petit' }])).to.deep.equal([
      'Avancement : Non démarré → En cours.',
      'Date cible déplacée du 30/06/2026 au 30/09/2026.',
      'Action faite : Inventorier.',
      'Nouvelle action : Déployer.',
      'Nouvel effet de bord (fort) : Refus du centre de contact',
      'Point du 01/03/2026 (Julien Petit) : Lancé.',
    ]);
  });

  it('says nothing when nothing changed, and flags a fiche created since', () => {
    expect(changesSince(before, structuredClone(before), [])).to.deep.equal([]);
    expect(changesSince(undefined, before, [])).to.deep.equal(['Nouvelle fiche depuis la dernière séance.']);
  });

  it('keeps a valid section order whatever is stored, and moves sections within bounds', () => {
    const order = normaliseOrder(['questions', 'inconnu', 'questions', 'objectif']);
    expect(order.slice(0, 2)).to.deep.equal(['questions', 'objectif']);
    expect(order).to.have.length(7);
    expect(moveSection(order, 'questions', 'up')).to.deep.equal(order);
    expect(moveSection(order, 'questions', 'down').slice(0, 2)).to.deep.equal(['objectif', 'questions']);
  });
});

describe('changes since the last meeting, with many notes', () => {
  it('lists the five latest notes and counts the older ones', () => {
    const state: FicheState = { status: 'en_cours', targetDate: null, steps: [], sideEffects: [] };
    const notes = Array.from({ length: 8 }, (_, i) => ({ notedOn: `2026-03-0${i + 1}`, body: `n${i + 1}`, authorName: 'A' }));
    const out = changesSince(state, state, notes);
    expect(out[0]).to.match(/^3 points d'avancement plus anciens/);
    expect(out.slice(1).map((l) => l.slice(-2))).to.deep.equal(['n4', 'n5', 'n6', 'n7', 'n8']);
  });
});
