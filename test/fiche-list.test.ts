import { expect } from 'chai';
import { FICHES_PER_PAGE, matchesSearch, pageQuery, pageWindow, readFicheListQuery, searchWords } from '../src/domain/fiche-list';

const NONE = { q: '', avancement: '', equipe: '', retard: '', page: '' };
const TEAMS = [{ id: 3, name: 'SNU 1' }, { id: 7, name: 'PWN' }];

describe("the homologation's fiche list: filters, search and pages (domain)", () => {
  describe('reading the address', () => {
    it('keeps the known filters and the search for the links, page aside, and starts at page 1', () => {
      const read = readFicheListQuery({ q: '  pare-feu   Bron ', avancement: 'en_cours', equipe: '7', retard: '1', page: '' }, TEAMS);
      if (typeof read === 'string') throw new Error(read);
      expect(read.page).to.equal(1);
      expect(read.query).to.deep.equal({ q: 'pare-feu Bron', avancement: 'en_cours', equipe: '7', retard: '1' });
      expect(read.filter).to.deep.equal({ words: ['pare-feu', 'bron'], status: 'en_cours', teamId: 7, late: true });
      expect(read.filtered).to.equal(true);
      const none = readFicheListQuery({ ...NONE, page: '3' }, TEAMS);
      expect(none).to.deep.include({ page: 3, query: {}, filtered: false });
    });

    it('refuses a page that is not a whole number from 1, and unknown filters, each with its French message', () => {
      for (const page of ['abc', '0', '-1', '2.5', '1e3', '99999999999']) {
        expect(readFicheListQuery({ ...NONE, page }, TEAMS), page).to.equal(`Numéro de page invalide : « ${page} ». Indiquez un nombre entier à partir de 1.`);
      }
      expect(readFicheListQuery({ ...NONE, avancement: 'presque' }, TEAMS)).to.equal(
        "Filtre inconnu : l'avancement « presque » n'existe pas. Choisissez-en un dans la liste des filtres : Non démarré, En cours, Bloqué ou Fait.",
      );
      expect(readFicheListQuery({ ...NONE, equipe: '4' }, TEAMS)).to.match(/^Filtre inconnu : l'équipe « 4 » ne porte aucune fiche/);
      expect(readFicheListQuery({ ...NONE, equipe: 'PWN' }, TEAMS)).to.match(/^Filtre inconnu : l'équipe « PWN »/);
      expect(readFicheListQuery({ ...NONE, retard: 'oui' }, TEAMS)).to.match(/^Filtre inconnu : « retard=oui »/);
      expect(readFicheListQuery({ ...NONE, q: 'x'.repeat(201) }, TEAMS)).to.equal('Recherche trop longue : 200 caractères au plus.');
      expect(readFicheListQuery({ ...NONE, q: 'x'.repeat(200) }, TEAMS)).to.be.an('object');
    });
  });

  describe('the search', () => {
    const fiche = { number: 12, title: 'Sécuriser l’échéance des cœurs de réseau', finding: 'Le pare-feu de Bron laisse passer 1200 connexions.' };

    it('ignores case and accents, reads parts of words, and every word must match', () => {
      expect(matchesSearch(fiche, searchWords('ECHEANCE'))).to.equal(true);
      expect(matchesSearch(fiche, searchWords('coeurs securis'))).to.equal(true);
      expect(matchesSearch(fiche, searchWords('pare-feu bron'))).to.equal(true);
      expect(matchesSearch(fiche, searchWords('pare-feu lyon'))).to.equal(false);
      expect(matchesSearch(fiche, [])).to.equal(true);
    });

    it("takes a number for the fiche's number or a whole word, not a part of a longer number", () => {
      expect(searchWords('n°12')).to.deep.equal(['12']);
      expect(searchWords('N° 12')).to.deep.equal(['12']);
      expect(searchWords('#12')).to.deep.equal(['12']);
      expect(matchesSearch(fiche, ['12'])).to.equal(true);
      expect(matchesSearch({ ...fiche, number: 13 }, ['12'])).to.equal(false);
      expect(matchesSearch({ ...fiche, number: 13 }, ['1200'])).to.equal(true);
      expect(matchesSearch({ ...fiche, number: 120 }, ['12'])).to.equal(false);
    });
  });

  describe('the pages', () => {
    it('shows the page asked for, or the last when it is beyond, with the ranks shown', () => {
      expect(FICHES_PER_PAGE).to.equal(50);
      expect(pageWindow(500, 2)).to.deep.equal({ page: 2, pages: 10, first: 51, last: 100, beyond: false });
      expect(pageWindow(120, 3)).to.deep.equal({ page: 3, pages: 3, first: 101, last: 120, beyond: false });
      expect(pageWindow(120, 9)).to.deep.equal({ page: 3, pages: 3, first: 101, last: 120, beyond: true });
      expect(pageWindow(0, 1)).to.deep.equal({ page: 1, pages: 1, first: 0, last: 0, beyond: false });
      expect(pageWindow(0, 2)).to.deep.include({ page: 1, beyond: true });
    });

    it('writes the address of a page with the same filters and search, page 1 without a page', () => {
      expect(pageQuery({ q: 'pare-feu & co', avancement: 'fait' }, 3)).to.equal('?q=pare-feu+%26+co&avancement=fait&page=3');
      expect(pageQuery({ q: 'x' }, 1)).to.equal('?q=x');
      expect(pageQuery({}, 1)).to.equal('');
    });
  });
});
