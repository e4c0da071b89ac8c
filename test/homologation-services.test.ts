import { expect } from 'chai';
import { archiveHomologation } from '../src/data/lifecycle';
import { byAttention, calendarRefusal, homePage, type HomologationRow, lifecycleActions } from '../src/services/homologations';
import { aHomologation, aUser } from './builders';
import { freshApp, NOW, type TestApp } from './helpers';

// The home page's and the plan page's rules, without HTTP: filters, order of attention, life-cycle actions, and
// whether a milestone may join a homologation's calendar.

const row = (id: number, title: string, state: HomologationRow['state'], services: { id: number; name: string }[] = [], endsOn: string | null = null) =>
  ({ id, title, state, services, decision: endsOn ? { endsOn } : null } as unknown as HomologationRow);

describe('homologation services', () => {
  const rows = [
    row(1, 'Intranet', 'en_cours', [{ id: 10, name: 'Intranet' }]),
    row(2, 'Portail citoyen', 'expire_bientot', [{ id: 11, name: 'Portail' }], '2026-05-01'),
    row(3, 'Ancien extranet', 'archivee', [{ id: 12, name: 'Extranet' }]),
    row(4, 'Démarches', 'expiree', [{ id: 11, name: 'Portail' }], '2026-01-01'),
  ];

  it('shows what is not archived by default, the archived ones when asked by their state, and the services covered', () => {
    const all = homePage(rows, { etat: '', service: '' });
    if (!all.ok) throw new Error(all.message);
    expect(all.shown.map((r) => r.id)).to.deep.equal([1, 2, 4]);
    expect(all.archivedCount).to.equal(1);
    expect(all.services.map((s) => s.name)).to.deep.equal(['Extranet', 'Intranet', 'Portail']);
    const archived = homePage(rows, { etat: 'archivee', service: '' });
    expect(archived.ok && archived.shown.map((r) => r.id)).to.deep.equal([3]);
    const portal = homePage(rows, { etat: '', service: '11' });
    expect(portal.ok && portal.shown.map((r) => r.id)).to.deep.equal([2, 4]);
  });

  it('refuses a state or a service that does not exist, with a French message instead of an empty list', () => {
    expect(homePage(rows, { etat: 'perimee', service: '' })).to.deep.equal({ ok: false, message: "Filtre inconnu : l'état « perimee » n'existe pas. Choisissez un état dans la liste." });
    const unknown = homePage(rows, { etat: '', service: '99' });
    expect(unknown.ok).to.equal(false);
    expect(!unknown.ok && unknown.message).to.contain('le service « 99 »');
  });

  it('puts expired and soon-expiring homologations first, the earliest end first, then the others by title', () => {
    const sorted = [...rows].sort(byAttention).map((r) => r.id);
    expect(sorted).to.deep.equal([4, 2, 3, 1]);
  });

  it('offers renewal to editors of a homologation not renewed nor archived, archive and deletion of an empty draft to admins', () => {
    const open = { nextId: null, archivedAt: null };
    const empty = { fiches: 0, meetings: 0, decisions: 0, renewals: 0 };
    expect(lifecycleActions(open, { editor: true, admin: false }, null)).to.deep.equal({ canRenew: true, canArchive: false, canDelete: false });
    expect(lifecycleActions({ ...open, nextId: 7 }, { editor: true, admin: true }, empty)).to.deep.equal({ canRenew: false, canArchive: true, canDelete: true });
    expect(lifecycleActions({ nextId: null, archivedAt: '2026-01-01' }, { editor: true, admin: true }, { ...empty, fiches: 1 }))
      .to.deep.equal({ canRenew: false, canArchive: false, canDelete: false });
  });

  describe('a milestone in a calendar', () => {
    let t: TestApp;
    before(async () => { t = await freshApp(); });
    after(async () => t.close());

    it('may join an open homologation, not an archived one nor one that does not exist', async () => {
      const open = await aHomologation().named('Calendrier ouvert').insert(t.db);
      const closed = await aHomologation().named('Calendrier fermé').insert(t.db);
      const admin = await aUser().withRole('admin').insert(t.db);
      expect(await archiveHomologation(t.db, closed, admin, NOW)).to.equal('ok');
      expect(await calendarRefusal(t.db, open, NOW, 'Europe/Paris')).to.equal(null);
      expect(await calendarRefusal(t.db, closed, NOW, 'Europe/Paris')).to.equal('read_only');
      expect(await calendarRefusal(t.db, 999_999, NOW, 'Europe/Paris')).to.equal('unknown');
    });
  });
});
