import { expect } from 'chai';
import { barChart, chartNumber, integerTicks, lineChart, timeline } from '../src/web/charts';
import { periodLabel } from '../src/domain/schedule';
import { de, plural, shorten, sortFrench, withEnvironment } from '../src/domain/words';
import { communes } from '../src/data/referentials';
import { aCommune, signedIn } from './builders';
import { freshApp, type TestApp, textOf } from './helpers';

describe('words shown to users', () => {
  it('says "1 fiche", "0 fiche" and "2 fiches", never "fiche(s)"', () => {
    expect(plural(0, 'fiche', 'fiches')).to.equal('0 fiche');
    expect(plural(1, 'fiche', 'fiches')).to.equal('1 fiche');
    expect(plural(2, 'fiche', 'fiches')).to.equal('2 fiches');
  });

  it('elides "de" before a vowel, an accented vowel or a mute h, not before a consonant', () => {
    expect(de('Oullins')).to.equal('d’Oullins');
    expect(de('Écully')).to.equal('d’Écully');
    expect(de('Hérouville-Saint-Clair')).to.equal('d’Hérouville-Saint-Clair');
    expect(de('Villeurbanne')).to.equal('de Villeurbanne');
    expect(de('Bron')).to.equal('de Bron');
  });

  it('sorts names in French order, accents and case ignored (Écully before Vénissieux)', () => {
    const names = sortFrench(['Vénissieux', 'bron', 'Écully', 'Villeurbanne', 'Ecuelles', 'Oullins'], (n) => n);
    expect(names).to.deep.equal(['bron', 'Ecuelles', 'Écully', 'Oullins', 'Vénissieux', 'Villeurbanne']);
  });

  it('names a weekly period by its dates, not its ISO week number', () => {
    expect(periodLabel('2026-S49')).to.equal('semaine du 30 novembre au 6 décembre 2026');
    expect(periodLabel('2026-S01')).to.equal('semaine du 29 décembre 2025 au 4 janvier 2026');
    expect(periodLabel('2027-S02')).to.equal('semaine du 11 au 17 janvier 2027');
    expect(periodLabel('2026-11')).to.equal('novembre 2026');
  });

  it('does not bracket an instance’s environment twice when its name already ends with it', () => {
    expect(withEnvironment('Toodego Bron (recette)', 'Recette')).to.equal('Toodego Bron (recette)');
    expect(withEnvironment('Toodego Bron', 'Recette')).to.equal('Toodego Bron (Recette)');
    expect(withEnvironment('Intranet préproduction', 'Préproduction')).to.equal('Intranet préproduction (Préproduction)');
  });

  it('shortens a label at a word, never mid-word', () => {
    expect(shorten('Inchangé (Non démarré)', 16)).to.equal('Inchangé (Non…');
    expect(shorten('Court', 16)).to.equal('Court');
    expect(shorten('Chiffrer les sauvegardes des instances de production', 30)).to.equal('Chiffrer les sauvegardes des…');
  });

  describe('charts', () => {
    it('writes numbers with the French decimal comma and thousands space', () => {
      expect(chartNumber(1.5)).to.equal('1,5');
      expect(chartNumber(1234).replace(/\s/g, ' ')).to.equal('1 234');
      expect(barChart([{ label: 'Fait', value: 2.5, css: '' }]).bars[0]!.text).to.equal('2,5');
    });

    it('puts only whole numbers on an axis that counts actions', () => {
      expect(integerTicks(1)).to.deep.equal([0, 1]);
      expect(integerTicks(2)).to.deep.equal([0, 1, 2]);
      for (const max of [1, 2, 3, 5, 7, 40]) expect(integerTicks(max).every(Number.isInteger), String(max)).to.equal(true);
      const chart = lineChart([{ month: '2026-01', value: 0 }, { month: '2026-02', value: 1 }]);
      expect(chart.yTicks.map((t) => t.label)).to.deep.equal(['0', '1']);
      const big = lineChart([{ month: '2026-01', value: 0 }, { month: '2026-02', value: 1500 }]);
      expect(big.yTicks.at(-1)!.label.replace(/\s/g, ' ')).to.equal('1 500');
    });

    it('anchors the last label of an axis at its end, so that it is not clipped', () => {
      const months = Array.from({ length: 7 }, (_, i) => ({ month: `2026-0${i + 1}`, value: i }));
      const chart = lineChart(months);
      expect(chart.xTicks.at(-1)!.anchor).to.equal('end');
      expect(chart.xTicks.at(-1)!.x).to.be.at.most(chart.width);
      const frise = timeline([{ label: 'F1', kind: 'fiche', date: '2026-01-10', late: false, done: false, href: null },
        { label: 'F2', kind: 'fiche', date: '2026-12-20', late: false, done: false, href: null }], '2026-06-01');
      const last = frise.ticks.reduce((a, b) => (b.x > a.x ? b : a));
      if (last.x > frise.width - 40) expect(last.anchor).to.equal('end');
      expect(frise.ticks.every((t) => t.anchor !== 'middle' || t.x <= frise.width - 40)).to.equal(true);
    });
  });

  describe('pages', () => {
    let t: TestApp;
    before(async () => { t = await freshApp(); });
    after(() => t.close());

    it('refuses an unknown status filter by listing the statuses in French, not their codes', async () => {
      const agent = await signedIn(t, 'viewer');
      const res = await agent.get('/homologations/1/tableau-de-bord?avancement=presque').expect(400);
      const text = textOf(res.text);
      expect(text).to.contain('Non démarré, En cours, Bloqué ou Fait');
      expect(text).not.to.match(/non_demarre|en_cours/);
    });

    it('lists communes in French order where the list is built, not in the database’s byte order', async () => {
      await aCommune().named('Vénissieux (essai)').insert(t.db);
      await aCommune().named('Écully (essai)').insert(t.db);
      const names = (await communes.list(t.db)).map((c) => c.name);
      expect(names.indexOf('Écully (essai)')).to.be.below(names.indexOf('Vénissieux (essai)'));
      const page = (await (await signedIn(t, 'admin')).get('/homologations/1/tableau-de-bord').expect(200)).text;
      expect(page.indexOf('Écully (essai)')).to.be.above(-1).and.below(page.indexOf('Vénissieux (essai)'));
    });

    it('shows no commune filter, section or box on an install without communes (a ministry’s)', async () => {
      const m = await freshApp();
      try {
        await m.db('instances').update({ commune_id: null });
        await m.db('users').whereNotNull('commune_id').update({ commune_id: null, role: 'viewer' });
        await m.db('communes').delete();
        const agent = await signedIn(m, 'admin');
        const dashboard = await agent.get('/homologations/1/tableau-de-bord').expect(200);
        expect(dashboard.text).not.to.contain('id="f-commune"');
        expect(textOf(dashboard.text)).not.to.contain('Par commune');
        const form = await agent.get('/homologations/1/fiches/nouvelle').expect(200);
        expect(textOf(form.text)).not.to.contain('à mener par les communes');
      } finally {
        await m.close();
      }
      // with communes, the same pages offer them
      const agent = await signedIn(t, 'admin');
      expect(textOf((await agent.get('/homologations/1/tableau-de-bord').expect(200)).text)).to.contain('Par commune');
      expect(textOf((await agent.get('/homologations/1/fiches/nouvelle').expect(200)).text)).to.contain('à mener par les communes');
    });

    it('says in plain French, on the mail page, that no mail server is configured', async () => {
      const agent = await signedIn(t, 'admin');
      const text = textOf((await agent.get('/admin/points').expect(200)).text);
      expect(text).to.contain("Les courriels ne partent pas : aucun serveur de messagerie n'est configuré pour cette installation.");
      expect(text).to.contain("L'administrateur technique de l'installation peut configurer l'envoi.");
      expect(text).not.to.contain("SMTP_URL n'est pas défini");
      expect(text).not.to.match(/S\d\d\)/);
    });
  });
});
