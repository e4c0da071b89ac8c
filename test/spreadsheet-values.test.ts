import { expect } from 'chai';
import { columnFor, detectMapping } from '../src/domain/plan-import';
import { FICHE_COLUMNS, RISK_COLUMNS } from '../src/domain/plan-sheets';
import { cellText, parseAmount, parseBoolean, parseDay, parseNumber, parseStatus } from '../src/domain/spreadsheet-values';

const value = <T>(r: { ok: true; value: T } | { ok: false; error: string }) => (r.ok ? r.value : `erreur : ${r.error}`);

describe('reading the values people type in a spreadsheet', () => {
  it('reads French dates in their usual forms, a date cell and an Excel serial number', () => {
    const cases: [string | number | null, string | null][] = [
      ['31/12/2023', '2023-12-31'], ['1/3/2024', '2024-03-01'], ['31.12.2023', '2023-12-31'], ['31-12-23', '2023-12-31'],
      ['2023-12-31', '2023-12-31'], ['31 décembre 2023', '2023-12-31'], ['1er mars 2024', '2024-03-01'], ['lundi 4 mars 2024', '2024-03-04'],
      ['4 févr. 2024', '2024-02-04'], ['29 fevrier 2024', '2024-02-29'], [45291, '2023-12-31'], [45291.75, '2023-12-31'], ['', null], [null, null],
    ];
    for (const [typed, iso] of cases) expect(value(parseDay(typed)), String(typed)).to.equal(iso);
  });

  it('refuses a day that does not exist, a month it does not know and an absurd year, quoting what was typed', () => {
    expect(value(parseDay('31/02/2024'))).to.equal("erreur : « 31/02/2024 » n'est pas une date (écrivez par exemple 31/12/2026 ou 31 décembre 2026)");
    expect(value(parseDay('29/02/2023'))).to.match(/^erreur : « 29\/02\/2023 » n'est pas une date/);
    expect(value(parseDay('12 brumaire 2024'))).to.match(/^erreur/);
    expect(value(parseDay('31/12/1850'))).to.equal("erreur : « 31/12/1850 » : l'année doit être entre 1900 et 2100");
    expect(value(parseDay(9_999_999))).to.match(/^erreur/);
    expect(value(parseDay('bientôt'))).to.match(/^erreur : « bientôt »/);
  });

  it('reads statuses in French words, without case or accents', () => {
    const cases: [string, string | null][] = [
      ['Fait', 'fait'], ['FAIT', 'fait'], ['Terminé', 'fait'], ['réalisée', 'fait'], ['Non démarré', 'non_demarre'], ['non demarre', 'non_demarre'],
      ['À faire', 'non_demarre'], ['En cours', 'en_cours'], ['en-cours', 'en_cours'], ['Bloqué', 'bloque'], ['En attente', 'bloque'], ['', null],
    ];
    for (const [typed, status] of cases) expect(value(parseStatus(typed)), typed).to.equal(status);
    expect(value(parseStatus('Presque'))).to.match(/^erreur : « Presque » n'est pas un statut/);
  });

  it('reads amounts, numbers and yes/no as written', () => {
    expect(value(parseAmount('12 000 €'))).to.equal(12000);
    expect(value(parseAmount('12\u00a0000,50'))).to.equal(12001);
    expect(value(parseAmount(1500))).to.equal(1500);
    expect(value(parseAmount('beaucoup'))).to.match(/^erreur/);
    expect(value(parseNumber('n°3'))).to.equal(3);
    expect(value(parseNumber('Fiche 12'))).to.equal(12);
    expect(value(parseNumber(2.5))).to.match(/^erreur/);
    expect(value(parseBoolean('Oui'))).to.equal(true);
    expect(value(parseBoolean('non'))).to.equal(false);
    expect(value(parseBoolean('peut-être'))).to.match(/^erreur/);
  });

  it("takes off the apostrophe the CSV export puts before a text that looks like a formula, and only that one", () => {
    expect(cellText("'=1+1")).to.equal('=1+1');
    expect(cellText("'- une étape")).to.equal('- une étape');
    expect(cellText("'apostrophe")).to.equal("'apostrophe");
  });

  it('matches headers without case, accents, spaces, punctuation or a bracketed hint', () => {
    expect(columnFor(FICHE_COLUMNS, 'DATE  CIBLE')?.key).to.equal('targetDate');
    expect(columnFor(FICHE_COLUMNS, 'Echeance (jj/mm/aaaa)')?.key).to.equal('targetDate');
    expect(columnFor(FICHE_COLUMNS, 'n° fiche')?.key).to.equal('number');
    expect(columnFor(RISK_COLUMNS, 'Probabilité')?.key).to.equal('likelihood');
    expect(columnFor(FICHE_COLUMNS, 'Couleur préférée')).to.equal(undefined);
  });

  it('finds the header row under a title row, and tells a risk table from a fiche table by its headers', () => {
    const risks = detectMapping({ name: 'Feuil1', rows: [['Analyse de risques'], [], ['#', 'Risques identifiés', 'Probabilité', 'Gravité', 'Responsable']] }, 0);
    expect(risks).to.deep.include({ kind: 'risks', headerRow: 2 });
    expect(risks.columns).to.deep.equal(['number', 'title', 'likelihood', 'severity', 'owner']);
    const fiches = detectMapping({ name: 'Feuil1', rows: [['N°', 'Titre', 'Statut', 'Responsable']] }, 0);
    expect(fiches.kind).to.equal('fiches');
    expect(detectMapping({ name: 'Notes', rows: [['Bonjour'], ['Rien à voir']] }, 0).kind).to.equal(null);
  });
});
