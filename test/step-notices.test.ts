import { expect } from 'chai';
import request from 'supertest';
import { getFiche } from '../src/data/fiches';
import { scanStepNotices } from '../src/services/step-notices';
import { aFiche, aHomologation, aTeam, aUser, type BuiltUser } from './builders';
import { csrfOf, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

const DAY = 86_400_000;
const day = (offset: number) => new Date(NOW.getTime() + offset * DAY).toISOString().slice(0, 10);

describe('notices of named people, and the link of a person without an account', () => {
  let t: TestApp;
  let team: number;
  let user: BuiltUser;
  let personId: number;

  before(async () => {
    t = await freshApp();
    team = await aTeam().insert(t.db);
    user = await aUser().withRole('editor').named('Camille Martin').insert(t.db);
    personId = (await t.db('people').insert({ name: 'Dominique Prestataire', email: 'dominique@infogerant.example', function: 'Infogérant', created_at: NOW.toISOString() }).returning('id'))
      .map((r: { id: number } | number) => Number(typeof r === 'object' ? r.id : r))[0]!;
  });
  after(() => t.close());

  const scan = (at = NOW) => scanStepNotices(t.db, t.config.mail, at);
  const messages = (to: string) => t.db('outbox').where({ kind: 'step', to_address: to }).orderBy('id');
  /** A fiche due far ahead with one step, assigned as given; its step's id. */
  async function aStep(assign: { user?: number; person?: number }, targetDate: string | null = null): Promise<number> {
    const hom = await aHomologation().insert(t.db);
    const fiche = await aFiche().inHomologation(hom).titled('Centraliser les journaux').due(day(200)).ownedBy(team).withSteps(1).insert(t.db);
    const step = (await getFiche(t.db, fiche))!.steps[0]!;
    await t.db('steps').where({ id: step.id }).update({ assignee_user_id: assign.user ?? null, assignee_person_id: assign.person ?? null, target_date: targetDate });
    return step.id;
  }

  it('tells the responsible person of an assignment once, and the next one when the step changes hands', async () => {
    const step = await aStep({ user: user.id });
    const before = (await messages(user.email)).length;
    await Promise.all([scan(), scan()]);
    await scan();
    const mine = (await messages(user.email)).slice(before);
    expect(mine.map((m) => m.subject)).to.deep.equal(['Action confiée : Action 1 — fiche n°1, ' + (await t.db('plans').orderBy('id', 'desc').first()).title]);
    expect(mine[0]!.text).to.include('/mes-actions');
    await t.db('steps').where({ id: step }).update({ assignee_user_id: null, assignee_person_id: personId });
    await scan();
    const theirs = await messages('dominique@infogerant.example');
    expect(theirs).to.have.length(1);
    expect(theirs[0]!.text).to.match(/\/action\/[A-Za-z0-9_-]{43}/);
    expect((await messages(user.email)).length - before, 'the former responsible is not told again').to.equal(1);
  });

  it('reminds seven days before the step\u2019s own date, and again for a new date; says once when it passes', async () => {
    const other = await aUser().withRole('editor').insert(t.db);
    const step = await aStep({ user: other.id }, day(5));
    await scan();
    await scan();
    const subjects = async () => (await messages(other.email)).map((m) => String(m.subject).split(' : ')[0]!);
    expect(await subjects()).to.deep.equal(['Action confiée', `Échéance le ${day(5).split('-').reverse().join('/')}`]);
    await t.db('steps').where({ id: step }).update({ target_date: day(6) });
    await scan();
    expect((await subjects()).filter((s) => s.startsWith('Échéance'))).to.have.length(2);
    await scan(new Date(NOW.getTime() + 7 * DAY));
    await scan(new Date(NOW.getTime() + 8 * DAY));
    expect((await subjects()).filter((s) => s === 'En retard')).to.have.length(1);
    // done: nothing more
    await t.db('steps').where({ id: step }).update({ status: 'fait', target_date: day(1) });
    await scan(new Date(NOW.getTime() + 9 * DAY));
    expect((await subjects()).filter((s) => s === 'En retard')).to.have.length(1);
  });

  it('reminds a late step after the alerts\u2019 delay until it is acknowledged, as a late fiche\u2019s alert', async () => {
    const late = await aUser().withRole('editor').insert(t.db);
    const step = await aStep({ user: late.id }, day(-1));
    const { alertReminderDays } = (await t.db('mail_settings').where({ id: 1 }).first('alert_reminder_days as alertReminderDays'));
    const after = (days: number) => new Date(NOW.getTime() + days * DAY);
    await scan();
    await scan(after(alertReminderDays - 1));
    const lateSubjects = async () => (await messages(late.email)).map((m) => String(m.subject)).filter((x) => /En retard/.test(x));
    expect(await lateSubjects()).to.have.length(1);
    await Promise.all([scan(after(alertReminderDays)), scan(after(alertReminderDays))]);
    expect((await lateSubjects()).filter((x) => x.startsWith('Rappel : '))).to.have.length(1);
    // acknowledged in "Mes actions": no more reminders
    const agent = await signIn(t.app, late.email, late.password);
    const page = await agent.get('/mes-actions').expect(200);
    expect(page.text).to.include(`/mes-actions/etapes/${step}/retard-vu`);
    await agent.post(`/mes-actions/etapes/${step}/retard-vu`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    await scan(after(3 * alertReminderDays));
    expect(await lateSubjects()).to.have.length(2);
    // a new date that passes again starts over
    await t.db('steps').where({ id: step }).update({ target_date: day(3 * alertReminderDays) });
    await scan(after(3 * alertReminderDays + 1));
    expect(await lateSubjects()).to.have.length(3);
  });

  it('lets a person without an account mark their step done with a note through their link, and nothing else', async () => {
    const step = await aStep({ person: personId }, day(3));
    await scan();
    const mail = (await messages('dominique@infogerant.example')).pop()!;
    const url = /\/action\/[A-Za-z0-9_-]{43}/.exec(String(mail.text))![0];
    const agent = request.agent(t.app);
    const page = await agent.get(url).expect(200);
    expect(textOf(page.text)).to.include('Bonjour Dominique Prestataire');
    const empty = await agent.post(url).type('form').send({ _csrf: csrfOf(page.text), note: '' });
    expect(empty.status).to.equal(422);
    expect(empty.text).to.include('id="note-error"');
    const done = await agent.post(url).type('form').send({ _csrf: csrfOf(page.text), done: '1', note: 'Collecteur installé sur les deux serveurs.' }).expect(200);
    expect(textOf(done.text)).to.include("c'est enregistré");
    const after = await t.db('steps').where({ id: step }).first();
    expect(after.status).to.equal('fait');
    const note = await t.db('progress_notes').where({ fiche_id: after.fiche_id }).orderBy('id', 'desc').first();
    expect(note.body).to.equal('Action « Action 1 » : Non démarré → Fait.\nCollecteur installé sur les deux serveurs.\n(Dominique Prestataire (sans compte, par le lien reçu))');
    // the link opens nothing else, and ends when the step changes hands or when it expires
    await agent.get(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))).expect(404);
    await t.db('steps').where({ id: step }).update({ assignee_person_id: null, assignee_user_id: user.id });
    const gone = await agent.get(url).expect(404);
    expect(textOf(gone.text)).to.include("Ce lien n'est plus valable");
  });

  it('expires the link after thirty days', async () => {
    await aStep({ person: personId }, day(100));
    await scan();
    const mail = (await messages('dominique@infogerant.example')).pop()!;
    const token = /\/action\/([A-Za-z0-9_-]{43})/.exec(String(mail.text))![1]!;
    const { stepOfLink } = await import('../src/data/step-notices');
    expect(await stepOfLink(t.db, token, new Date(NOW.getTime() + 29 * DAY))).to.not.equal(undefined);
    expect(await stepOfLink(t.db, token, new Date(NOW.getTime() + 31 * DAY))).to.equal(undefined);
  });

  it('sends the digest of one\u2019s own actions as chosen, once a day, late ones first', async () => {
    const reader = await aUser().withRole('viewer').insert(t.db);
    await aStep({ user: reader.id }, day(30));
    await aStep({ user: reader.id }, day(-2));
    await t.db('users').where({ id: reader.id }).update({ actions_digest: 'daily' });
    await scan();
    await scan(new Date(NOW.getTime() + 3_600_000));
    const digests = (await messages(reader.email)).filter((m) => String(m.subject).startsWith('Vos actions'));
    expect(digests.map((m) => m.subject)).to.deep.equal(['Vos actions : 2 à faire, dont 1 en retard']);
    await scan(new Date(NOW.getTime() + DAY));
    expect((await messages(reader.email)).filter((m) => String(m.subject).startsWith('Vos actions'))).to.have.length(2);
  });
});
