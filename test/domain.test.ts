import { expect } from 'chai';
import { isLate, ownersSummary, renumberSteps, sideEffectsByLevel, stepsProgress } from '../src/domain/fiche';
import { passwordProblem } from '../src/domain/password';
import { perimeterLines } from '../src/domain/perimeter';
import { can, communeRestriction } from '../src/domain/roles';
import { auditChanges } from '../src/domain/audit';

describe('domain', () => {
  describe('isLate', () => {
    it('is late when the target date has passed and the fiche is not done', () => {
      expect(isLate({ targetDate: '2026-03-15', status: 'en_cours' }, '2026-03-16')).to.equal(true);
    });
    it('is not late on the target date itself, when done, or without a date', () => {
      expect(isLate({ targetDate: '2026-03-16', status: 'en_cours' }, '2026-03-16')).to.equal(false);
      expect(isLate({ targetDate: '2020-01-01', status: 'fait' }, '2026-03-16')).to.equal(false);
      expect(isLate({ targetDate: null, status: 'bloque' }, '2026-03-16')).to.equal(false);
    });
  });

  it('renumbers steps in the order of the typed positions, ties keeping their order', () => {
    const steps = renumberSteps([
      { label: 'c', position: 30 }, { label: 'a', position: 10 }, { label: 'b1', position: 20 }, { label: 'b2', position: 20 },
    ]);
    expect(steps.map((s) => `${s.position}:${s.label}`)).to.deep.equal(['1:a', '2:b1', '3:b2', '4:c']);
  });

  it('counts done steps', () => {
    expect(stepsProgress([{ status: 'fait' }, { status: 'en_cours' }, { status: 'fait' }])).to.deep.equal({ done: 2, total: 3 });
  });

  it('summarises owners per team and per part of the scope', () => {
    const owner = (teamName: string, serviceName: string | null) => ({ teamId: 0, teamName, serviceId: null, serviceName });
    expect(ownersSummary([owner('SNU 1', 'Toodego'), owner('SNU 1', 'SAU'), owner('PWN', 'Intranet'), owner('PWN', 'Extranet')]))
      .to.equal('SNU 1 pour Toodego et SAU ; PWN pour Intranet et Extranet');
    expect(ownersSummary([owner('PWN', null)])).to.equal('PWN');
  });

  it('splits side effects by level', () => {
    const split = sideEffectsByLevel([{ level: 'faible', description: 'x' }, { level: 'fort', description: 'y' }]);
    expect(split.fort.map((e) => e.description)).to.deep.equal(['y']);
    expect(split.faible.map((e) => e.description)).to.deep.equal(['x']);
  });

  it('counts the perimeter per service and environment with its teams and communes', () => {
    const row = (id: number, serviceId: number, serviceName: string, environment: 'prod' | 'recette', teamName: string, communeName: string | null) =>
      ({ id, serviceId, serviceName, environment, teamName, communeId: communeName ? id : null, communeName });
    const lines = perimeterLines([
      row(1, 1, 'Intranet', 'prod', 'PWN', null), row(2, 1, 'Intranet', 'recette', 'PWN', null),
      row(3, 2, 'Toodego', 'prod', 'SNU 1', 'Bron'), row(4, 2, 'Toodego', 'recette', 'SNU 1', 'Bron'), row(5, 2, 'Toodego', 'recette', 'SNU 1', 'Givors'),
    ]);
    expect(lines).to.deep.equal([
      { serviceId: 1, serviceName: 'Intranet', prod: 1, recette: 1, teams: ['PWN'], communes: [] },
      { serviceId: 2, serviceName: 'Toodego', prod: 1, recette: 2, teams: ['SNU 1'], communes: ['Bron', 'Givors'] },
    ]);
  });

  it('refuses short, common or e-mail-based passwords and accepts a passphrase', () => {
    expect(passwordProblem('court')).to.match(/12 caractères/);
    expect(passwordProblem('azertyuiop123')).to.match(/courant/);
    expect(passwordProblem('aaaaaaaaaaaaaaa')).to.match(/courant|répétitif/);
    expect(passwordProblem('camille.martin-2026!', { email: 'camille.martin@exemple.fr' })).to.match(/adresse/);
    expect(passwordProblem('cheval correct agrafe pile')).to.equal(null);
  });

  it('grants each role its permissions, and restricts only commune agents', () => {
    expect(can({ role: 'viewer' }, 'plan:read')).to.equal(true);
    expect(can({ role: 'viewer' }, 'fiche:edit')).to.equal(false);
    expect(can({ role: 'editor' }, 'fiche:edit')).to.equal(true);
    expect(can({ role: 'editor' }, 'admin')).to.equal(false);
    expect(can({ role: 'commune' }, 'fiche:edit')).to.equal(false);
    expect(communeRestriction({ role: 'commune', communeId: 7 })).to.equal(7);
    expect(communeRestriction({ role: 'commune', communeId: null })).to.equal(-1);
    expect(communeRestriction({ role: 'admin', communeId: null })).to.equal(null);
  });

  it('lists only the fields an audit entry changed', () => {
    expect(auditChanges({ status: 'a', title: 't', version: 1 }, { status: 'b', title: 't', version: 2 }))
      .to.deep.equal([{ field: 'status', before: 'a', after: 'b' }]);
  });
});
