import { expect } from 'chai';
import request from 'supertest';
import { getFiche } from '../src/data/fiches';
import { isStepLate } from '../src/domain/fiche';
import { lateFiches } from '../src/domain/dashboard';
import { stepLine } from '../src/domain/agenda';
import { aFiche, aHomologation, aTeam, aUser, type BuiltUser, signedIn } from './builders';
import { type Agent, csrfOf, formBody, freshApp, signIn, type TestApp, textOf } from './helpers';

describe('named people: who does each step, and "Mes actions"', () => {
  let t: TestApp;
  let hom: number;
  let team: number;
  let editor: Agent;
  let doer: BuiltUser;
  let doerAgent: Agent;

  before(async () => {
    t = await freshApp();
    team = await aTeam().insert(t.db);
    editor = await signedIn(t, 'editor');
    doer = await aUser().withRole('editor').named('Camille Martin').insert(t.db);
    doerAgent = await signIn(t.app, doer.email, doer.password);
  });
  beforeEach(async () => {
    hom = await aHomologation().insert(t.db);
  });
  after(() => t.close());

  /** Saves the fiche's form with its steps as given (each: label, status, assignee "u12"/"p3"/"", date). */
  async function saveSteps(ficheId: number, steps: { label: string; status?: string; assignee?: string; targetDate?: string }[]) {
    const fiche = (await getFiche(t.db, ficheId))!;
    const page = await editor.get(`/homologations/${hom}/fiches/${ficheId}/modifier`).expect(200);
    return editor.post(`/homologations/${hom}/fiches/${ficheId}`).type('form').send(formBody({
      _csrf: csrfOf(page.text), version: fiche.version, number: fiche.number, title: fiche.title, finding: '', targetDate: fiche.targetDate,
      status: fiche.status, conclusion: '', costAmount: '', costSource: '', scope: 'all', owners: [{ teamId: team, serviceId: '' }],
      steps: steps.map((s, i) => ({ id: fiche.steps[i]?.id ?? '', position: i + 1, label: s.label, status: s.status ?? 'non_demarre', assignee: s.assignee ?? '', targetDate: s.targetDate ?? '' })),
    }));
  }

  it('gives a step its responsible person and its own date; a date after the fiche\u2019s is a warning, not an error', async () => {
    const ficheId = await aFiche().inHomologation(hom).due('2026-06-30').ownedBy(team).insert(t.db);
    const res = await saveSteps(ficheId, [{ label: 'Choisir la solution', assignee: `u${doer.id}`, targetDate: '2026-04-15' }, { label: 'Déployer', targetDate: '2026-09-30' }]);
    expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
    const fiche = (await getFiche(t.db, ficheId))!;
    expect(fiche.steps.map((s) => [s.assigneeUserId, s.assigneeName, s.targetDate])).to.deep.equal([[doer.id, 'Camille Martin', '2026-04-15'], [null, null, '2026-09-30']]);
    const page = textOf((await editor.get(`/homologations/${hom}/fiches/${ficheId}`).expect(200)).text);
    expect(page).to.include('Responsable : Camille Martin · pour le 15/04/2026');
    const form = textOf((await editor.get(`/homologations/${hom}/fiches/${ficheId}/modifier`).expect(200)).text);
    expect(form).to.include('Attention : après la date cible de la fiche (30/06/2026)');
  });

  it('refuses an assignee who is not in the list, next to the step, keeping what was typed', async () => {
    const ficheId = await aFiche().inHomologation(hom).due('2026-06-30').ownedBy(team).insert(t.db);
    const res = await saveSteps(ficheId, [{ label: 'Une action', assignee: 'u999999' }]);
    expect(res.status).to.equal(422);
    expect(res.text).to.include('id="steps-0-assignee-error"');
    expect(res.text).to.include('value="Une action"');
  });

  it('says a step is late by its own date, not its fiche\u2019s', () => {
    const today = '2026-03-16';
    expect(isStepLate({ status: 'en_cours', targetDate: '2026-03-01' }, '2026-12-31', today)).to.equal(true);
    expect(isStepLate({ status: 'en_cours', targetDate: '2026-04-01' }, '2026-01-31', today)).to.equal(false);
    expect(isStepLate({ status: 'en_cours', targetDate: null }, '2026-01-31', today)).to.equal(true);
    expect(isStepLate({ status: 'fait', targetDate: '2026-03-01' }, null, today)).to.equal(false);
  });

  it('puts on the dashboard\u2019s late list the fiches holding a late step, with those steps only, and the agenda says who and by when', () => {
    const today = '2026-03-16';
    const fiche = (n: number, targetDate: string | null, steps: { label: string; targetDate: string | null }[]) => ({
      id: n, number: n, title: `Fiche ${n}`, status: 'en_cours' as const, targetDate, scopeAll: true, owners: [], strongEffects: [], instanceIds: [],
      steps: steps.map((st) => ({ ...st, status: 'en_cours' as const, assigneeName: 'Camille Martin' })),
    });
    const list = lateFiches([
      // on time, but one of its steps is late by its own date
      fiche(1, '2026-12-31', [{ label: 'Choisir', targetDate: '2026-03-01' }, { label: 'Déployer', targetDate: null }]),
      // late, but one of its steps has a later date of its own
      fiche(2, '2026-03-10', [{ label: 'Former', targetDate: null }, { label: 'Auditer', targetDate: '2026-06-30' }]),
      fiche(3, '2026-12-31', [{ label: 'Plus tard', targetDate: '2026-05-01' }]),
    ] as unknown as Parameters<typeof lateFiches>[0], today);
    expect(list.map((l) => [l.fiche.number, l.since, l.lateSteps.map((st) => st.label)])).to.deep.equal([[1, '2026-03-01', ['Choisir']], [2, '2026-03-10', ['Former']]]);
    expect(stepLine({ position: 1, label: 'Choisir', status: 'En cours', assignee: 'Camille Martin', due: '01/03/2026', late: true }))
      .to.equal('Choisir (En cours) — Camille Martin, pour le 01/03/2026, en retard');
    expect(stepLine({ position: 1, label: 'Ancienne', status: 'Fait' }), 'an agenda frozen before steps had people').to.equal('Ancienne (Fait)');
  });

  it('lists a person\u2019s steps across homologations, late first then by date, and changes one in one click with a note', async () => {
    const other = await aHomologation().insert(t.db);
    const a = await aFiche().inHomologation(hom).titled('Fiche A').due('2026-12-31').ownedBy(team).withSteps(1).insert(t.db);
    const b = await aFiche().inHomologation(other).titled('Fiche B').due('2026-12-31').ownedBy(team).withSteps(1).insert(t.db);
    const [stepA] = (await getFiche(t.db, a))!.steps;
    const [stepB] = (await getFiche(t.db, b))!.steps;
    await t.db('steps').where({ id: stepA!.id }).update({ assignee_user_id: doer.id, target_date: '2026-05-01' });
    // B's step is late by its own date (the tests' clock is 2026-03-16)
    await t.db('steps').where({ id: stepB!.id }).update({ assignee_user_id: doer.id, target_date: '2026-03-01' });
    const page = await doerAgent.get('/mes-actions').expect(200);
    const text = textOf(page.text);
    expect(text.indexOf('Fiche n°1 : Fiche B'), 'the late one first').to.be.lessThan(text.indexOf('Fiche n°1 : Fiche A'));
    expect(text).to.include('1 en retard');
    const versionBefore = (await getFiche(t.db, a))!.version;
    const done = await doerAgent.post(`/mes-actions/etapes/${stepA!.id}`).type('form').send({ _csrf: csrfOf(page.text), status: 'fait', note: 'Solution retenue en comité.' });
    expect(done.status).to.equal(303);
    const fiche = (await getFiche(t.db, a))!;
    expect(fiche.steps[0]!.status).to.equal('fait');
    expect(fiche.version, 'an edit form opened before is refused').to.equal(versionBefore + 1);
    const note = await t.db('progress_notes').where({ fiche_id: a }).orderBy('id', 'desc').first();
    expect(note.body).to.equal('Action « Action 1 » : Non démarré → Fait.\nSolution retenue en comité.');
    // someone else's step: as if it did not exist
    const stranger = await signedIn(t, 'editor');
    const strangerPage = await stranger.get('/mes-actions').expect(200);
    await stranger.post(`/mes-actions/etapes/${stepB!.id}`).type('form').send({ _csrf: csrfOf(strangerPage.text), status: 'fait' }).expect(404);
    expect((await getFiche(t.db, b))!.steps[0]!.status).to.equal('non_demarre');
  });

  it('on a homologation requiring evidence for a done step: "Mes actions" asks for a justification, the fiche form for a document', async () => {
    await t.db('plans').where({ id: hom }).update({ evidence_required_for_done: true });
    const ficheId = await aFiche().inHomologation(hom).due('2026-12-31').ownedBy(team).withSteps(2).insert(t.db);
    const [first, second] = (await getFiche(t.db, ficheId))!.steps;
    await t.db('steps').whereIn('id', [first!.id, second!.id]).update({ assignee_user_id: doer.id });
    const page = await doerAgent.get('/mes-actions').expect(200);
    const refused = await doerAgent.post(`/mes-actions/etapes/${first!.id}`).type('form').send({ _csrf: csrfOf(page.text), status: 'fait', note: '' });
    expect(refused.status).to.equal(409);
    expect(textOf(refused.text)).to.include('demande ici une pièce justificative ou une justification');
    expect((await getFiche(t.db, ficheId))!.steps[0]!.status).to.equal('non_demarre');
    await doerAgent.post(`/mes-actions/etapes/${first!.id}`).type('form').send({ _csrf: csrfOf(page.text), status: 'fait', note: 'Vérifié en recette le 12 mars.' }).expect(303);
    expect((await getFiche(t.db, ficheId))!.steps[0]!.status).to.equal('fait');

    const form = await saveSteps(ficheId, [{ label: 'Action 1', status: 'fait' }, { label: 'Action 2', status: 'fait' }]);
    expect(form.status).to.equal(422);
    expect(form.text).to.include('id="steps-1-status-error"');
    expect(form.text, 'the step already done is not asked again').not.to.include('id="steps-0-status-error"');
    expect((await getFiche(t.db, ficheId))!.steps[1]!.status).to.equal('non_demarre');
    // with a document attached to the step, the form may mark it done
    await t.db('documents').insert({ plan_id: hom, owner_type: 'step', owner_id: second!.id, title: 'Capture de la configuration', created_by: doer.id, created_at: new Date().toISOString() });
    expect((await saveSteps(ficheId, [{ label: 'Action 1', status: 'fait' }, { label: 'Action 2', status: 'fait' }])).status).to.equal(303);
  });

  it('publishes the person\u2019s dates as a private calendar; a new link retires the old one, and it can be withdrawn', async () => {
    const f = await aFiche().inHomologation(hom).titled('Journaliser').due('2026-12-31').ownedBy(team).withSteps(1).insert(t.db);
    const [step] = (await getFiche(t.db, f))!.steps;
    await t.db('steps').where({ id: step!.id }).update({ assignee_user_id: doer.id, target_date: '2026-05-04' });
    const page = await doerAgent.get('/mes-actions').expect(200);
    const created = await doerAgent.post('/mes-actions/calendrier').type('form').send({ _csrf: csrfOf(page.text) }).expect(200);
    const url = /\/calendrier\/[A-Za-z0-9_-]{43}\.ics/.exec(created.text)![0];
    const feed = await request(t.app).get(url).expect(200);
    expect(feed.headers['content-type']).to.match(/^text\/calendar/);
    expect(feed.text).to.include('DTSTART;VALUE=DATE:20260504');
    expect(feed.text).to.include('Journaliser');
    const again = await doerAgent.post('/mes-actions/calendrier').type('form').send({ _csrf: csrfOf(created.text) }).expect(200);
    const renewed = /\/calendrier\/[A-Za-z0-9_-]{43}\.ics/.exec(again.text)![0];
    await request(t.app).get(url).expect(404);
    await request(t.app).get(renewed).expect(200);
    await doerAgent.post('/mes-actions/calendrier/retirer').type('form').send({ _csrf: csrfOf(again.text) }).expect(303);
    await request(t.app).get(renewed).expect(404);
  });

  it('keeps a named person without an account, refuses to remove them while they hold steps, and hands their steps over in one go', async () => {
    const admin = await signedIn(t, 'admin');
    const page = await editor.get('/personnes').expect(200);
    const created = await editor.post('/personnes').type('form').send({ _csrf: csrfOf(page.text), name: 'Dominique Prestataire', email: 'dominique@infogerant.example', function: 'Infogérant' });
    expect(created.status).to.equal(303);
    const bad = await editor.post('/personnes').type('form').send({ _csrf: csrfOf(page.text), name: '', email: 'pas-une-adresse', function: '' });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.include('id="email-error"');
    const person = await t.db('people').where({ email: 'dominique@infogerant.example' }).first();
    const f = await aFiche().inHomologation(hom).due('2026-12-31').ownedBy(team).withSteps(2).insert(t.db);
    const steps = (await getFiche(t.db, f))!.steps;
    await t.db('steps').whereIn('id', steps.map((s) => s.id)).update({ assignee_person_id: person.id });
    await editor.post(`/personnes/${person.id}/supprimer`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    expect(await t.db('people').where({ id: person.id }).first(), 'still there: it holds steps').to.not.equal(undefined);

    const handovers = await admin.get('/passations').expect(200);
    expect(textOf(handovers.text)).to.include('Dominique Prestataire');
    const version = (await getFiche(t.db, f))!.version;
    await admin.post('/passations').type('form').send({ _csrf: csrfOf(handovers.text), from: `p${person.id}`, to: `u${doer.id}` }).expect(303);
    const after = (await getFiche(t.db, f))!;
    expect(after.steps.map((s) => [s.assigneeUserId, s.assigneePersonId])).to.deep.equal([[doer.id, null], [doer.id, null]]);
    expect(after.version).to.equal(version + 1);
    expect(Number((await t.db('audit_log').where({ entity_type: 'step' }).whereIn('entity_id', steps.map((s) => s.id)).count({ n: '*' }).first())!.n)).to.equal(2);
    await editor.post(`/personnes/${person.id}/supprimer`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    expect(await t.db('people').where({ id: person.id }).first()).to.equal(undefined);
  });

  it('lists a suspended account\u2019s open steps for the handover', async () => {
    const leaving = await aUser().withRole('editor').named('Sacha Départ').suspended().insert(t.db);
    const f = await aFiche().inHomologation(hom).due('2026-12-31').ownedBy(team).withSteps(1).insert(t.db);
    await t.db('steps').where({ fiche_id: f }).update({ assignee_user_id: leaving.id });
    const admin = await signedIn(t, 'admin');
    const page = textOf((await admin.get('/passations').expect(200)).text);
    expect(page).to.include('Sacha Départ compte suspendu');
  });
});
