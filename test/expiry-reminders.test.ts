import { addDays, format } from 'date-fns';
import { expect } from 'chai';
import { AUTHORITY, at, day, decide, mails, newHomologation, reminders } from './fixtures/expiry';
import { tick } from '../src/services/scheduler';
import { scanExpiryReminders } from '../src/services/expiry-reminders';
import { ACCOUNTS, csrfOf, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

describe('expiry reminders of homologation decisions', function () {
  this.timeout(60_000);
  let t: TestApp;
  beforeEach(async () => {
    t = await freshApp();
    // only this suite's decisions: whatever the demo decided is set aside
    await t.db('expiry_reminders').del();
    await t.db('fiches').update({ condition_of: null });
    await t.db('signatures').del();
  });
  afterEach(async () => t.close());

  it('sends only the most recent threshold when several are due at once, and says the day itself', async () => {
    // a decision recorded late: 20 days left, so the 6-, 3- and 1-month thresholds are all past
    const hid = await newHomologation(t.db, 'Intranet');
    await decide(t.db, hid, { decidedOn: '2023-04-05', endsOn: day(20) });
    expect(await scanExpiryReminders(t.db, t.config.mail, NOW)).to.deep.equal({ sent: 1, skipped: 2, closed: 0 });
    const rows = await reminders(t.db, hid);
    expect(rows.map((r) => [r.months_before, r.closed_at !== null])).to.deep.equal([[6, true], [3, true], [1, false]]);
    const sent = await mails(t.db, hid);
    // no editor member: the users whose global role is editor (the demo has one); no authority address
    expect(sent.map((m) => [m.months_before, m.to_address])).to.deep.equal([[1, ACCOUNTS.editor]]);
    expect(sent[0].subject).to.match(/expire dans 20 jours/);
    // the day itself, through the scheduler's round
    await tick({ db: t.db, mail: t.config.mail, now: () => at(20), mailer: null });
    const last = (await mails(t.db, hid)).at(-1);
    expect([last.months_before, last.subject]).to.deep.equal([0, `Homologation « Intranet » : expire aujourd'hui (le ${format(addDays(new Date('2026-03-16T12:00:00Z'), 20), 'dd/MM/yyyy')})`]);
    expect(last.text).to.contain("La décision cesse d'être valide ce soir.");
    // the page of a skipped threshold says why nothing was sent
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const page = textOf((await agent.get(`/homologations/${hid}/rappels/${rows[0].id}`).expect(200)).text);
    expect(page).to.contain('aucun courriel (un rappel plus récent était dû au même moment)').and.contain('remplacé par un rappel plus récent');

    // a short decision (45 days): the thresholds falling before it are recorded unsent; the 1-month one goes when due
    const short = await newHomologation(t.db, 'Téléservice provisoire');
    await decide(t.db, short, { decidedOn: day(0), endsOn: day(45), outcome: 'provisoire' });
    expect((await scanExpiryReminders(t.db, t.config.mail, NOW)).sent).to.equal(0);
    expect((await reminders(t.db, short)).map((r) => [r.months_before, r.closed_at !== null])).to.deep.equal([[6, true], [3, true]]);
    expect(await mails(t.db, short)).to.have.length(0);
    expect((await scanExpiryReminders(t.db, t.config.mail, at(15))).sent).to.equal(1);
    expect((await mails(t.db, short)).map((m) => m.months_before)).to.deep.equal([1]);
    const skipped = (await reminders(t.db, short))[0];
    expect(textOf((await agent.get(`/homologations/${short}/rappels/${skipped.id}`).expect(200)).text)).to.contain('aucun courriel (ce seuil tombait avant la décision)');
  });

  it('records one acknowledgement, refuses those who may not edit, and keeps each reminder within its homologation', async () => {
    // the demo homologation (touching Villeurbanne) with 100 days left
    await decide(t.db, 1, { decidedOn: '2023-06-24', endsOn: day(100) });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    const reminder = (await reminders(t.db, 1))[0];
    const url = `/homologations/1/rappels/${reminder.id}`;

    // listed on the alerts page above the late fiches
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const alerts = (await editor.get('/alertes').expect(200)).text;
    expect(alerts).to.contain(`href="${url}"`);
    expect(textOf(alerts)).to.contain("Rappels d'échéance des homologations à acquitter (1)").and.contain('6 mois avant la fin de validité');

    // and on the homologation's own page, for the Métropole's people only
    expect((await editor.get('/homologations/1').expect(200)).text).to.contain(`href="${url}"`);
    const commune = await signIn(t.app, ACCOUNTS.commune);
    await commune.get(url).expect(403);
    expect((await commune.get('/homologations/1').expect(200)).text).not.to.contain('/rappels/');
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    const seen = await viewer.get(url).expect(200);
    expect(textOf(seen.text)).to.contain("Seuls l'équipe projet de l'homologation et les administrateurs peuvent accuser réception");
    await viewer.post(`${url}/acquitter`).type('form').send({ _csrf: csrfOf(seen.text) }).expect(403);
    // another homologation's reminder under this one is not found
    const other = await newHomologation(t.db, 'Autre');
    await editor.get(`/homologations/${other}/rappels/${reminder.id}`).expect(404);
    expect((await t.db('expiry_reminders').where('id', reminder.id).first()).acknowledged_at).to.equal(null);

    const page = await editor.get(url).expect(200);
    const done = await editor.post(`${url}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    expect(done.headers.location).to.equal(`${url}?acquitte=1`);
    expect(textOf((await editor.get(`${url}?acquitte=1`).expect(200)).text)).to.contain('Accusé de réception enregistré').and.contain('Acquitté par Julien Petit');
    const twice = await editor.post(`${url}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(409);
    expect(textOf(twice.text)).to.contain('Ce rappel a déjà été acquitté par Julien Petit');
    const audit = await t.db('audit_log').where({ entity_type: 'expiry_reminder', entity_id: reminder.id });
    expect(audit).to.have.length(1);
    expect(audit[0].actor).to.contain('Julien Petit');
    expect(textOf((await editor.get('/alertes').expect(200)).text)).to.contain("Rappels d'échéance des homologations à acquitter (0)");
    expect((await editor.get('/homologations/1').expect(200)).text).not.to.contain(`href="${url}"`);
  });

  it('lets the project team acknowledge on an expired (read-only) homologation, nothing else', async () => {
    const hid = await newHomologation(t.db, 'Ancien portail');
    await decide(t.db, hid, { decidedOn: '2023-03-10', endsOn: day(-6) });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    const rows = await reminders(t.db, hid);
    const open = rows.find((r) => r.closed_at === null);
    expect(open.months_before).to.equal(0);
    expect((await mails(t.db, hid))[0].subject).to.match(/^Homologation « Ancien portail » : expirée depuis 6 jours \(fin de validité le /);
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const page = await editor.get(`/homologations/${hid}/rappels/${open.id}`).expect(200);
    await editor.post(`/homologations/${hid}/fiches`).type('form').send({ _csrf: csrfOf(page.text) }).expect(409);
    await editor.post(`/homologations/${hid}/rappels/${open.id}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    expect((await t.db('expiry_reminders').where('id', open.id).first()).acknowledged_by_name).to.equal('Julien Petit');
    // a reminder recorded closed cannot be acknowledged
    const closed = rows.find((r) => r.closed_at !== null);
    const refused = await editor.post(`/homologations/${hid}/rappels/${closed.id}/acquitter`).type('form').send({ _csrf: csrfOf(page.text) }).expect(409);
    expect(textOf(refused.text)).to.contain('Ce rappel est clos');
  });

  it('stops when the renewal is decided (a refused renewal does not count) or the homologation is archived', async () => {
    const hid = await newHomologation(t.db, 'Portail citoyen');
    await decide(t.db, hid, { decidedOn: '2023-06-24', endsOn: day(100), authorityEmail: AUTHORITY });
    const renewal = await newHomologation(t.db, 'Portail citoyen (renouvellement)', { previous_id: hid });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    // a refused renewal: the old decision still ends, its reminders go on
    await decide(t.db, renewal, { decidedOn: day(10), endsOn: null, outcome: 'refusee' });
    expect((await scanExpiryReminders(t.db, t.config.mail, at(15))).sent).to.equal(1);
    const open = (await reminders(t.db, hid)).filter((r) => r.closed_at === null);
    expect(open.map((r) => r.months_before)).to.deep.equal([3]);

    // the renewal is granted: the open reminder is closed, nothing more is sent (the renewal's own end is far)
    await decide(t.db, renewal, { decidedOn: day(20), endsOn: '2029-04-05', outcome: 'sous_conditions' });
    expect(await scanExpiryReminders(t.db, t.config.mail, at(21))).to.deep.equal({ sent: 0, skipped: 0, closed: 1 });
    const count = (await mails(t.db, hid)).length;
    for (const d of [70, 90, 100, 101]) await scanExpiryReminders(t.db, t.config.mail, at(d));
    expect((await mails(t.db, hid)).length).to.equal(count);
    expect((await reminders(t.db, hid)).every((r) => r.closed_at !== null)).to.equal(true);
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    expect(textOf((await viewer.get(`/homologations/${hid}/rappels/${open[0].id}`).expect(200)).text)).to.contain('le renouvellement a été décidé');

    // archived: its open reminders close, none is created
    const archived = await newHomologation(t.db, 'Archivée');
    await decide(t.db, archived, { decidedOn: '2023-06-24', endsOn: day(100) });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    await t.db('plans').where('id', archived).update({ archived_at: at(1).toISOString(), archived_reason: 'manuel' });
    expect((await scanExpiryReminders(t.db, t.config.mail, at(1))).closed).to.equal(1);
    for (const d of [15, 80, 100]) await scanExpiryReminders(t.db, t.config.mail, at(d));
    expect((await reminders(t.db, archived)).map((r) => [r.months_before, r.closed_at !== null])).to.deep.equal([[6, true]]);
    const never = await newHomologation(t.db, 'Archivée avant', { archived_at: NOW.toISOString(), archived_reason: 'manuel' });
    await decide(t.db, never, { decidedOn: '2023-06-24', endsOn: day(10) });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    expect(await reminders(t.db, never)).to.have.length(0);
  });

  it("follows the admin's thresholds, refusing a list that is not one next to the field", async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const form = { frequency: 'none', week: '1', weekday: '1', time: '09:00', alertsEnabled: 'on', alertReminderDays: '7' };
    const page = textOf((await admin.get('/admin/points').expect(200)).text);
    expect(page).to.contain("Rappels d'échéance des homologations (mois avant la date de fin, 0 = le jour même)");
    const bad = await postForm(admin, '/admin/points', '/admin/points/reglages', { ...form, expiryReminderMonths: 'abc' });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.contain('value="abc"').and.match(/aria-describedby="expiryReminderMonths-error"/);
    expect(textOf(bad.text)).to.contain('Saisissez des nombres entiers de mois entre 0 et 36');
    expect((await t.db('mail_settings').first()).expiry_reminder_months).to.equal('6,3,1,0');
    expect((await postForm(admin, '/admin/points', '/admin/points/reglages', { ...form, expiryReminderMonths: '40' })).status).to.equal(422);

    const ok = await postForm(admin, '/admin/points', '/admin/points/reglages', { ...form, expiryReminderMonths: ' 1, 12 ' });
    expect(ok.status).to.equal(303);
    expect((await t.db('mail_settings').first()).expiry_reminder_months).to.equal('12,1');
    expect((await admin.get('/admin/points').expect(200)).text).to.contain('value="12,1"');
    const audit = await t.db('audit_log').where({ entity_type: 'mail_settings' }).orderBy('id', 'desc').first();
    expect(JSON.parse(audit.before).expiryReminderMonths).to.deep.equal([6, 3, 1, 0]);
    expect(JSON.parse(audit.after).expiryReminderMonths).to.deep.equal([12, 1]);

    // 100 days left: with 12 and 1 month, the 12-month reminder goes (not a 6-month one); the 1-month one later
    const hid = await newHomologation(t.db, 'Portail RH');
    await decide(t.db, hid, { decidedOn: '2023-06-24', endsOn: day(100) });
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    await scanExpiryReminders(t.db, t.config.mail, at(75));
    expect((await mails(t.db, hid)).map((m) => m.months_before)).to.deep.equal([12, 1]);
  });
});
