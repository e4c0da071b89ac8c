import { expect } from 'chai';
import { buildDigest } from '../src/domain/digest';
import { cronOf, describeSchedule, dueOccurrence, nextOccurrence, periodLabel, periodOf } from '../src/domain/schedule';

const PARIS = 'Europe/Paris';

describe('digest schedule (domain)', () => {
  const firstMonday = { frequency: 'monthly' as const, weekday: 1, week: '1' as const, time: '09:00' };

  it('turns "monthly, the first Monday at 09:00" into the right instants, in Paris time across DST', () => {
    expect(cronOf(firstMonday)).to.equal('0 9 * * 1#1');
    expect(describeSchedule(firstMonday)).to.equal('Chaque mois, le premier lundi du mois à 09 h 00');
    // winter: UTC+1; summer: UTC+2
    expect(nextOccurrence(firstMonday, new Date('2026-11-25T00:00:00Z'), PARIS)!.toISOString()).to.equal('2026-12-07T08:00:00.000Z');
    expect(nextOccurrence(firstMonday, new Date('2026-05-05T00:00:00Z'), PARIS)!.toISOString()).to.equal('2026-06-01T07:00:00.000Z');
    const lastFriday = { frequency: 'monthly' as const, weekday: 5, week: 'L' as const, time: '17:30' };
    expect(nextOccurrence(lastFriday, new Date('2026-11-01T00:00:00Z'), PARIS)!.toISOString()).to.equal('2026-11-27T16:30:00.000Z');
    const sundays = { frequency: 'weekly' as const, weekday: 7, week: '1' as const, time: '08:00' };
    expect(cronOf(sundays)).to.equal('0 8 * * 0');
    expect(nextOccurrence({ ...firstMonday, frequency: 'none' }, new Date(), PARIS)).to.equal(null);
  });

  it('finds the occurrence due since the last look, once, catching up only the latest after downtime', () => {
    const checked = new Date('2026-11-30T00:00:00Z');
    expect(dueOccurrence(firstMonday, checked, new Date('2026-12-07T07:59:00Z'), PARIS)).to.equal(null);
    expect(dueOccurrence(firstMonday, checked, new Date('2026-12-07T08:00:00Z'), PARIS)!.toISOString()).to.equal('2026-12-07T08:00:00.000Z');
    // down from December to mid-February: one digest (February's), not three
    expect(dueOccurrence(firstMonday, checked, new Date('2027-02-15T00:00:00Z'), PARIS)!.toISOString()).to.equal('2027-02-01T08:00:00.000Z');
  });

  it('names periods by month, or ISO week for a weekly schedule, in the plan’s time zone', () => {
    // 31 Dec 23:30 UTC is already 1 January in Paris
    expect(periodOf(new Date('2026-12-31T23:30:00Z'), 'monthly', PARIS)).to.equal('2027-01');
    expect(periodOf(new Date('2026-12-31T12:00:00Z'), 'weekly', PARIS)).to.equal('2026-S53');
    expect(periodOf(new Date('2027-01-04T12:00:00Z'), 'weekly', PARIS)).to.equal('2027-S01');
    expect(periodLabel('2026-12')).to.equal('décembre 2026');
    expect(periodLabel('2026-S49')).to.equal('semaine du 30 novembre au 6 décembre 2026');
    expect(periodLabel('comite-juin')).to.equal('comite-juin');
  });

  it('builds a commune digest: a section per homologation, coming dates within 60 days, its own steps, strong effects of unfinished fiches', () => {
    const digest = buildDigest({
      organisation: 'Métropole', commune: { id: 1, name: 'Bron' }, period: '2026-03', since: '2026-02-16T09:00:00.000Z', firstDigest: false, today: '2026-03-16',
      sections: [{
        homologation: { id: 1, title: 'Téléservices', state: 'expire_bientot', decision: { outcome: 'sous_conditions', decidedOn: '2023-06-16', endsOn: '2026-06-15' }, url: 'https://plan/homologations/1' },
        fiches: [
          { id: 1, number: 1, title: 'A', status: 'en_cours', targetDate: '2026-04-01', owners: [], instances: ['Toodego Bron'],
            steps: [{ position: 1, label: 'Former les agents', status: 'en_cours', forCommunes: true }, { position: 2, label: 'Coder', status: 'fait' }],
            sideEffects: [{ level: 'fort', description: 'Gêne des agents' }, { level: 'faible', description: 'Rien' }] },
          { id: 2, number: 2, title: 'B', status: 'fait', targetDate: '2026-04-10', owners: [], instances: [],
            steps: [{ position: 1, label: 'Déjà fait par la commune', status: 'fait', forCommunes: true }], sideEffects: [{ level: 'fort', description: 'Passé' }] },
          { id: 3, number: 3, title: 'C', status: 'non_demarre', targetDate: '2026-03-01', owners: [], instances: [], steps: [], sideEffects: [] },
        ],
        changes: new Map([[1, ['Avancement : Non démarré → En cours.']]]),
        milestones: [{ dueDate: '2026-05-10', title: 'Signature', done: false }, { dueDate: '2026-09-01', title: 'Trop loin', done: false }],
        nextMeeting: null,
      }, {
        homologation: { id: 2, title: 'Renouvellement', state: 'en_cours', decision: null, url: 'https://plan/homologations/2' },
        fiches: [{ id: 4, number: 1, title: 'A (suite)', status: 'non_demarre', targetDate: null, owners: [], instances: ['Toodego Bron'], steps: [], sideEffects: [] }],
        changes: new Map(), milestones: [], nextMeeting: { title: 'Comité', startsAt: '2026-04-02T10:00', place: 'Salle 1' },
      }],
      signInUrl: 'https://plan/connexion',
    });
    expect(digest.subject).to.equal("Plan d'action RGS : point d'avancement pour Bron (mars 2026)");
    expect(digest.summary).to.deep.equal({ total: 4, done: 1, late: 1, inProgress: 1 });
    expect(digest.heading).to.equal('2 homologations vous concernent');
    const [first, second] = digest.sections;
    expect(first!.summary).to.deep.equal({ total: 3, done: 1, late: 1, inProgress: 1 });
    expect(first!.state).to.equal('Expire bientôt');
    expect(first!.validity).to.equal("Homologuée sous conditions le 16/06/2023, valable jusqu'au 15/06/2026 (expire dans 91 jours).");
    expect(first!.communeSteps.map((s) => s.label)).to.deep.equal(['Former les agents']);
    expect(first!.upcoming.map((u) => u.label)).to.deep.equal(['Date cible de la fiche n°1 : A', 'Signature']);
    expect(first!.strongEffects.map((e) => e.description)).to.deep.equal(['Gêne des agents']);
    expect(first!.fiches[0]!.changes).to.deep.equal(['Avancement : Non démarré → En cours.']);
    expect(first!.fiches[2]!.late).to.equal(true);
    expect(first!.nextMeeting).to.equal(null);
    expect(second!.validity).to.equal("Pas encore de décision d'homologation.");
    expect(second!.fiches.map((f) => f.targetDate)).to.deep.equal(['non fixée']);
    expect(second!.nextMeeting).to.deep.equal({ title: 'Comité', date: '02/04/2026 à 10h00', place: 'Salle 1' });
    expect(digest.sinceLabel).to.equal('depuis le précédent point, envoyé le 16/02/2026');
  });

  it('says where a fiche carried over by a renewal comes from, and where the old one goes on', () => {
    const fiche = (id: number, link: Partial<{ carriedFrom: { homologation: string; number: number }; continuedIn: { homologation: string; number: number } }>) => ({
      id, number: id, title: 'A', status: 'en_cours' as const, targetDate: null, owners: [], instances: ['Toodego Bron'], steps: [], sideEffects: [], ...link,
    });
    const digest = buildDigest({
      organisation: 'Métropole', commune: { id: 1, name: 'Bron' }, period: '2026-03', since: '2026-02-16T09:00:00.000Z', firstDigest: true, today: '2026-03-16',
      sections: [{
        homologation: { id: 1, title: 'Téléservices', state: 'en_cours', decision: null, url: 'https://plan/homologations/1' },
        fiches: [fiche(1, {}), fiche(3, { continuedIn: { homologation: 'Téléservices 2026', number: 3 } }), fiche(4, { carriedFrom: { homologation: 'Téléservices 2020', number: 7 } })],
        changes: new Map(), milestones: [], nextMeeting: null,
      }],
      signInUrl: 'https://plan/connexion',
    });
    expect(digest.sections[0]!.fiches.map((f) => f.renewal)).to.deep.equal([
      null, 'Reprise dans le renouvellement « Téléservices 2026 » (fiche n°3).', "Reprise de la fiche n°7 de l'homologation « Téléservices 2020 ».",
    ]);
    expect(digest.heading).to.equal('Téléservices');
  });
});
