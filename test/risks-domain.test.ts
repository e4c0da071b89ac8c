import { expect } from 'chai';
import {
  byCriticality, criticality, criticalityChanges, DEFAULT_RISK_SCALES, heatMap, levelsOutOfScales, normaliseScales, type RiskLevels, type RiskScales, validateScales,
} from '../src/domain/risks';

const copy = (s: RiskScales): RiskScales => JSON.parse(JSON.stringify(s)) as RiskScales;
const risk = (over: Partial<RiskLevels>): RiskLevels => ({
  id: 1, planId: 1, number: 1, title: 'Risque', likelihood: 1, severity: 1, residualLikelihood: null, residualSeverity: null, ...over,
});

describe('risks: the criticality matrix (domain)', () => {
  it('reads the class of a likelihood × severity from the default matrix, and none outside the scales', () => {
    const s = DEFAULT_RISK_SCALES;
    expect(criticality(s, 1, 1)).to.equal(1);
    expect(criticality(s, 4, 4)).to.equal(4);
    expect(criticality(s, 3, 2)).to.equal(2);
    expect(criticality(s, 2, 4)).to.equal(3);
    expect(criticality(s, 0, 1)).to.equal(null);
    expect(criticality(s, 5, 1)).to.equal(null);
  });

  it('default matrix: every cell filled, and criticality never falls when likelihood or severity rises', () => {
    const s = DEFAULT_RISK_SCALES;
    expect(validateScales(s)).to.deep.equal({});
    for (let l = 1; l <= 4; l++) {
      for (let g = 1; g <= 4; g++) {
        if (l < 4) expect(criticality(s, l + 1, g)!).to.be.at.least(criticality(s, l, g)!);
        if (g < 4) expect(criticality(s, l, g + 1)!).to.be.at.least(criticality(s, l, g)!);
      }
    }
  });

  it('refuses a matrix with a hole, a class out of range, unnamed or repeated labels, and counts outside 2–6', () => {
    const holed = copy(DEFAULT_RISK_SCALES);
    holed.matrix[2]![1] = 0;
    const errors = validateScales(holed);
    expect(errors.matrix).to.equal('La matrice a un trou : une case est sans criticité.');
    expect(errors.cell_3_2).to.contain('« Probable » × « Grave »');

    const outOfRange = copy(DEFAULT_RISK_SCALES);
    outOfRange.matrix[0]![0] = 5;
    expect(validateScales(outOfRange)).to.have.property('cell_1_1');

    const labels = copy(DEFAULT_RISK_SCALES);
    labels.severity[1] = ' ';
    labels.classes[3] = 'faible';
    const e = validateScales(labels);
    expect(e.severity_2).to.equal('Nommez le niveau 2 de gravité.');
    expect(e.classes_4).to.contain('figure déjà plus haut');

    const tooMany = copy(DEFAULT_RISK_SCALES);
    tooMany.likelihood = ['1', '2', '3', '4', '5', '6', '7'];
    expect(validateScales(tooMany).likelihoodCount).to.equal('Choisissez entre 2 et 6 niveaux de vraisemblance.');
  });

  it('normalises typed scales: labels trimmed, matrix cut or padded (padding is a hole) to the scales', () => {
    const s = normaliseScales({ likelihood: [' a ', 'b', 'c'], severity: ['x', 'y'], classes: ['f', 'g'], matrix: [[1, 2, 2], [1, 2]] });
    expect(s.likelihood).to.deep.equal(['a', 'b', 'c']);
    expect(s.matrix).to.deep.equal([[1, 2], [1, 2], [0, 0]]);
    expect(validateScales(s).matrix).to.equal('La matrice a des trous : 2 cases sont sans criticité.');
  });

  it('lists the criticality changes a new matrix makes, initial and residual, and the risks a smaller scale would leave outside', () => {
    const after = copy(DEFAULT_RISK_SCALES);
    after.matrix[1]![2] = 4; // peu probable × majeur: modérée → très critique
    const risks = [
      risk({ id: 1, number: 1, likelihood: 2, severity: 3 }),
      risk({ id: 2, number: 2, likelihood: 4, severity: 4, residualLikelihood: 2, residualSeverity: 3 }),
      risk({ id: 3, number: 3, likelihood: 1, severity: 1 }),
    ];
    const changes = criticalityChanges(risks, DEFAULT_RISK_SCALES, after);
    expect(changes.map((c) => [c.risk.number, c.which, c.before, c.after])).to.deep.equal([
      [1, 'initial', 'Modérée', 'Très critique'],
      [2, 'residuel', 'Modérée', 'Très critique'],
    ]);
    const three = normaliseScales({ ...copy(DEFAULT_RISK_SCALES), likelihood: ['a', 'b', 'c'] });
    expect(levelsOutOfScales(risks, three).map((r) => r.number)).to.deep.equal([2]);
  });

  it('draws the heat map highest likelihood first, counting the risks of each cell, and sorts the register by criticality then number', () => {
    const rows = heatMap(DEFAULT_RISK_SCALES, [{ likelihood: 4, severity: 1 }, { likelihood: 4, severity: 1 }, { likelihood: 1, severity: 4 }, { likelihood: null, severity: null }]);
    expect(rows).to.have.length(4);
    expect(rows[0]![0]).to.deep.equal({ likelihood: 4, severity: 1, cls: 2, count: 2 });
    expect(rows[3]![3]).to.deep.equal({ likelihood: 1, severity: 4, cls: 2, count: 1 });
    const sorted = byCriticality(DEFAULT_RISK_SCALES, [
      { number: 1, likelihood: 1, severity: 1 }, { number: 3, likelihood: 4, severity: 4 }, { number: 2, likelihood: 4, severity: 4 },
    ]);
    expect(sorted.map((r) => r.number)).to.deep.equal([2, 3, 1]);
  });
});

describe('risks: a class renamed is no criticality change', () => {
  it('lists nothing when only labels change, and every risk whose class count changes', () => {
    const renamed = copy(DEFAULT_RISK_SCALES);
    renamed.classes[0] = 'Basse';
    const risks = [risk({ likelihood: 1, severity: 1 })];
    expect(criticalityChanges(risks, DEFAULT_RISK_SCALES, renamed)).to.deep.equal([]);
    const three = { ...copy(DEFAULT_RISK_SCALES), classes: ['Faible', 'Moyenne', 'Forte'], matrix: DEFAULT_RISK_SCALES.matrix.map((r) => r.map((c) => Math.min(c, 3))) };
    expect(criticalityChanges(risks, DEFAULT_RISK_SCALES, three)).to.deep.equal([]);
    expect(criticalityChanges([risk({ likelihood: 2, severity: 2 })], DEFAULT_RISK_SCALES, three).map((c) => c.after)).to.deep.equal(['Moyenne']);
  });
});
