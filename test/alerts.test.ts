import { expect } from 'chai';
import { smtpMailer } from '../src/mail/transport';
import { deliverDue } from '../src/mail/worker';
import { createUser } from '../src/data/users';
import { scanAlerts } from '../src/services/alerts';
import { ACCOUNTS, csrfOf, ficheIdByNumber, freshApp, NOW, signIn, type TestApp, textOf, TEST_PASSWORDS } from './helpers';
import { startSmtp, tally } from './smtp';

const DAY = 86_400_000;

describe('late-fiche alerts and their acknowledgement', function () {
  this.timeout(30_000);
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => t.close());

  it("alerts the owner team's members once, reminds them until one acknowledges, then stops", async () => {
    const smtp = await startSmtp();
    const mailer = smtpMailer(smtp.url);
    try {
      // fiche 2 (owner PWN, whose member is the editor) is past its target date and not done
      const first = await scanAlerts(t.db, t.config.mail, NOW);
      expect(first.created).to.equal(1);
      await deliverDue(t.db, mailer, t.config.mail, () => NOW);
      expect([...tally(smtp.received).entries()]).to.deep.equal([[ACCOUNTS.editor, 1]]);
      const alertMail = smtp.received[0]!;
      expect(alertMail.subject).to.match(/^fiche n°2 en retard \(date cible du \d\d\/\d\d\/2026 dépassée\) — .+$/);
      expect(alertMail.subject).to.contain(String((await t.db('plans').where('id', 1).first()).title));
      expect(alertMail.text).to.contain('Informer les administrateurs fonctionnels').and.match(/Accuser réception de l'alerte : https:\/\/plan\.metropole\.example\.org\/alertes\/\d+/);

      // scanning again sends nothing; after the reminder delay (7 days by default), a reminder
      expect(await scanAlerts(t.db, t.config.mail, new Date(NOW.getTime() + DAY))).to.deep.equal({ created: 0, reminded: 0, resolved: 0 });
      const later = new Date(NOW.getTime() + 7 * DAY);
      expect((await scanAlerts(t.db, t.config.mail, later)).reminded).to.equal(1);
      await deliverDue(t.db, mailer, t.config.mail, () => later);
      expect(smtp.received).to.have.length(2);
      expect(smtp.received[1]!.subject).to.match(/^Rappel : fiche n°2/);

      // the dashboard shows it unacknowledged; the editor acknowledges it through the link
      const editor = await signIn(t.app, ACCOUNTS.editor);
      expect(textOf((await editor.get('/homologations/1/tableau-de-bord').expect(200)).text)).to.contain('Alertes de retard non acquittées (1)');
      const alertId = Number(/\/alertes\/(\d+)/.exec(alertMail.text)![1]);
      const page = await editor.get(`/alertes/${alertId}`).expect(200);
      await editor.post(`/alertes/${alertId}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
      expect(textOf((await editor.get(`/alertes/${alertId}`).expect(200)).text)).to.contain('Acquittée par Julien Petit');
      expect(textOf((await editor.get('/homologations/1/tableau-de-bord').expect(200)).text)).to.contain('Alertes de retard non acquittées (0)');
      const audit = await t.db('audit_log').where({ entity_type: 'alert', entity_id: alertId }).first();
      expect(audit.actor).to.contain('Julien Petit');

      // acknowledged: never sent again
      const muchLater = new Date(NOW.getTime() + 30 * DAY);
      expect((await scanAlerts(t.db, t.config.mail, muchLater)).reminded).to.equal(0);
      await deliverDue(t.db, mailer, t.config.mail, () => muchLater);
      expect(smtp.received).to.have.length(2);
    } finally {
      mailer.close();
      await smtp.close();
    }
  });

  it('raises no alert on the fiches of an archived homologation, kept as it was; its renewal’s carried fiche takes over', async () => {
    const alertedPlans = async () => (await t.db('alerts').join('fiches', 'fiches.id', 'alerts.fiche_id').select('fiches.plan_id')).map((r) => Number(r.plan_id)).sort();
    await t.db('plans').where('id', 1).update({ archived_at: NOW.toISOString(), archived_reason: 'manuel' });
    expect((await scanAlerts(t.db, t.config.mail, NOW)).created).to.equal(1);
    // the late fiche 2 continues in the renewal (homologation 2): alerted there, not in the archived one
    expect(await alertedPlans()).to.deep.equal([2]);
    await t.db('plans').where('id', 1).update({ archived_at: null, archived_reason: null });
    expect((await scanAlerts(t.db, t.config.mail, NOW)).created).to.equal(1);
    expect(await alertedPlans()).to.deep.equal([1, 2]);
  });

  it('closes the alert when the fiche gets a new date, and raises a new one if that date passes too', async () => {
    await scanAlerts(t.db, t.config.mail, NOW);
    const id = await ficheIdByNumber(t.db, 2);
    await t.db('fiches').where({ id }).update({ target_date: '2026-04-01' });
    expect((await scanAlerts(t.db, t.config.mail, NOW)).resolved).to.equal(1);
    // a reminder is not sent for a closed alert
    expect((await scanAlerts(t.db, t.config.mail, new Date(NOW.getTime() + 10 * DAY))).reminded).to.equal(0);
    expect((await scanAlerts(t.db, t.config.mail, new Date('2026-04-02T09:00:00Z'))).created).to.equal(1);
    expect(await t.db('alerts').where({ fiche_id: id }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(2);
  });

  it('sends nothing while alerts are switched off, and only acknowledges for those allowed', async () => {
    await t.db('mail_settings').update({ alerts_enabled: false });
    expect((await scanAlerts(t.db, t.config.mail, NOW)).created).to.equal(0);
    await t.db('mail_settings').update({ alerts_enabled: true });
    await scanAlerts(t.db, t.config.mail, NOW);
    const alert = await t.db('alerts').first();
    const commune = await signIn(t.app, ACCOUNTS.commune);
    await commune.get('/alertes').expect(403);
    await commune.get(`/alertes/${alert.id}`).expect(403);
    expect(textOf((await commune.get('/homologations/1/tableau-de-bord').expect(200)).text)).not.to.contain('Alertes de retard');
    // the viewer (committee) is in no team: reads, may not acknowledge
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    const page = await viewer.get(`/alertes/${alert.id}`).expect(200);
    expect(textOf(page.text)).to.contain('Seuls les membres des équipes responsables');
    const home = await viewer.get('/alertes').expect(200);
    await viewer.post(`/alertes/${alert.id}/acquitter`).type('form').send({ _csrf: csrfOf(home.text) }).expect(403);
    expect((await t.db('alerts').where('id', alert.id).first()).acknowledged_at).to.equal(null);
    await viewer.get('/alertes/999999').expect(404);
  });

  it("lets the homologation's project team acknowledge, by its role there rather than the global one", async () => {
    await scanAlerts(t.db, t.config.mail, NOW);
    const alert = await t.db('alerts').orderBy('id').first();
    // an editor in no owner team of the fiche, listed as committee (viewer) of the homologation: may not
    await createUser(t.db, { email: 'redacteur@metropole.example.org', name: 'Rédacteur', role: 'editor', communeId: null, active: true, passwordHash: await TEST_PASSWORDS.hash('une-longue-phrase-de-passe') }, { id: null, name: 'test' }, NOW);
    const other = await t.db('users').where({ email: 'redacteur@metropole.example.org' }).first();
    await t.db('plan_members').insert({ plan_id: 1, user_id: other.id, role: 'viewer' });
    const listedViewer = await signIn(t.app, 'redacteur@metropole.example.org', 'une-longue-phrase-de-passe');
    let page = await listedViewer.get(`/alertes/${alert.id}`).expect(200);
    await listedViewer.post(`/alertes/${alert.id}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(403);
    expect((await t.db('alerts').where('id', alert.id).first()).acknowledged_at).to.equal(null);
    // the global viewer, listed as project team (editor) of the homologation: may
    const viewerRow = await t.db('users').where({ email: ACCOUNTS.viewer }).first();
    await t.db('plan_members').insert({ plan_id: 1, user_id: viewerRow.id, role: 'editor' });
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    page = await viewer.get(`/alertes/${alert.id}`).expect(200);
    await viewer.post(`/alertes/${alert.id}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    expect((await t.db('alerts').where('id', alert.id).first()).acknowledged_by).to.equal(viewerRow.id);
  });
});
