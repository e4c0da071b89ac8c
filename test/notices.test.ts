import { expect } from 'chai';
import { aUser } from './builders';
import { ACCOUNTS, type Agent, csrfOf, formBody, freshApp, postForm, signIn, type TestApp, textOf } from './helpers';

/** The notices the layout shows (the one-shot message of the last save), as a reader reads them. */
function noticesOf(html: string): string[] {
  return [...html.matchAll(/<div class="fr-alert fr-alert--(?:success|info) fr-alert--sm fr-mb-3w" role="status"><p>([\s\S]*?)<\/p><\/div>/g)]
    .map((m) => textOf(m[1]!).trim());
}

/** Follows the redirect of a save: the page it lands on shows the notice once, and the next visit no longer does. */
async function expectNotice(agent: Agent, res: { status: number; headers: Record<string, string> }, text: string): Promise<string> {
  expect(res.status, 'a save answers with a redirect').to.equal(303);
  const target = res.headers.location!.split('#')[0]!;
  const landed = await agent.get(target).expect(200);
  expect(noticesOf(landed.text)).to.deep.equal([text]);
  expect(noticesOf((await agent.get(target).expect(200)).text), 'the notice is shown once').to.deep.equal([]);
  return landed.text;
}

const count = async (t: TestApp, table: string) => Number((await t.db(table).count({ n: '*' }).first())!.n);

describe('notices after a save, and confirmation pages', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: Agent;
  let editor: Agent;
  before(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  after(() => t.close());

  it('says a fiche is created, saved, then deleted', async () => {
    const team = await t.db('teams').orderBy('id').first();
    const fields = {
      _action: 'save', number: '42', title: 'Chiffrer les sauvegardes', finding: 'Les sauvegardes sont en clair.', targetDate: '2026-09-30', status: 'non_demarre',
      conclusion: '', costAmount: '', costSource: '', scope: 'all', steps: [{ id: '', position: '1', label: 'Inventorier', status: 'non_demarre' }],
      owners: [{ teamId: String(team.id), serviceId: '' }],
    };
    const created = await postForm(editor, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', fields);
    await expectNotice(editor, created, 'La fiche n°42 « Chiffrer les sauvegardes » est créée.');
    const url = created.headers.location!;

    const form = (await editor.get(`${url}/modifier`).expect(200)).text;
    const version = /name="version" value="([^"]*)"/.exec(form)![1];
    const edited = await editor.post(url).type('form').send(formBody({ _csrf: csrfOf(form), ...fields, version, title: 'Chiffrer toutes les sauvegardes' }));
    await expectNotice(editor, edited, 'La fiche n°42 « Chiffrer toutes les sauvegardes » est enregistrée.');

    const deleted = await postForm(editor, `${url}/supprimer`, `${url}/supprimer`, {});
    await expectNotice(editor, deleted, 'La fiche n°42 « Chiffrer toutes les sauvegardes » est supprimée.');
  });

  it('keeps the notice for the page when a file or a resource is fetched first', async () => {
    const meeting = await t.db('meetings').where({ plan_id: 1 }).orderBy('id').first();
    const fiche = await t.db('fiches').where({ plan_id: 1 }).orderBy('number').first();
    const note = await postForm(editor, `/homologations/1/fiches/${fiche.id}`, `/homologations/1/fiches/${fiche.id}/notes`, { body: 'Point fait en réunion.', notedOn: '2026-03-16', status: '' });
    expect(note.status, textOf(note.text).slice(0, 300)).to.equal(303);
    // an agenda's PDF, an invitation, and a resource the browser says is an image, fetched before the page
    await editor.get(`/homologations/1/seances/${meeting.id}/ordre-du-jour.pdf`).expect(200);
    await editor.get(`/homologations/1/seances/${meeting.id}/invitation.ics`).expect(200);
    await editor.get('/homologations/1').set('Sec-Fetch-Dest', 'image').expect(200);
    const page = await editor.get(note.headers.location!.split('#')[0]!).set('Sec-Fetch-Dest', 'document').expect(200);
    expect(noticesOf(page.text)).to.have.length(1);
    expect(noticesOf((await editor.get(note.headers.location!.split('#')[0]!).expect(200)).text)).to.deep.equal([]);
  });

  it('says an entry of a reference table is added, then deleted, in the right gender', async () => {
    const added = await postForm(admin, '/admin/equipes/nouveau', '/admin/equipes', { name: 'Réseaux', description: 'Le réseau' });
    await expectNotice(admin, added, "L'équipe « Réseaux » est ajoutée.");
    const team = await t.db('teams').where({ name: 'Réseaux' }).first();
    const removed = await postForm(admin, `/admin/equipes/${team.id}/supprimer`, `/admin/equipes/${team.id}/supprimer`, {});
    await expectNotice(admin, removed, "L'équipe « Réseaux » est supprimée.");
    const service = await postForm(admin, '/admin/services/nouveau', '/admin/services', { name: 'Cartographie', description: '', position: '9' });
    await expectNotice(admin, service, 'Le service « Cartographie » est ajouté.');
  });

  it('says an account is saved', async () => {
    const user = await aUser().withRole('viewer').named('Camille Durand').insert(t.db);
    const saved = await postForm(admin, `/admin/utilisateurs/${user.id}/modifier`, `/admin/utilisateurs/${user.id}`, {
      name: 'Camille Durand-Martin', email: user.email, role: 'viewer', communeId: '', teamId: '', active: 'on',
    });
    await expectNotice(admin, saved, 'Le compte de Camille Durand-Martin est enregistré.');
  });

  it("says the homologation's settings are saved", async () => {
    const page = (await admin.get('/homologations/1/parametres').expect(200)).text;
    const instanceIds = [...page.matchAll(/name="instanceIds" value="(\d+)" checked/g)].map((m) => m[1]);
    const plan = await t.db('plans').where({ id: 1 }).first();
    const saved = await postForm(admin, '/homologations/1/parametres', '/homologations/1/parametres', {
      title: plan.title, organisation: plan.organisation, description: 'Plan revu.', reminder: '', instanceIds,
    });
    await expectNotice(admin, saved, "Les paramètres de l'homologation sont enregistrés.");
  });

  it('says a contact is added and the mail settings are saved', async () => {
    const commune = await t.db('communes').orderBy('id').first();
    const added = await postForm(admin, `/communes/${commune.id}/contacts`, `/communes/${commune.id}/contacts`, { name: 'Lou Martin', email: 'lou.martin@example.org', function: 'DSI' });
    await expectNotice(admin, added, 'Le contact Lou Martin est ajouté.');
    const settings = await postForm(admin, '/admin/points', '/admin/points/reglages', {
      frequency: 'weekly', week: '1', weekday: '5', time: '08:30', alertsEnabled: 'on', alertReminderDays: '3', expiryReminderMonths: '6,3,1',
    });
    await expectNotice(admin, settings, 'Les réglages des envois automatiques sont enregistrés.');
  });

  it('creates a meeting with a notice; holding it asks first, warning of a future date, and holds only once confirmed', async () => {
    const created = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', {
      title: 'Comité d’avril', kind: 'suivi', date: '2026-04-20', startTime: '14:00', endTime: '16:00', place: 'Salle 1', visioUrl: '',
      objective: 'Suivre le plan.', reminder: '', questions: '', coverage: 'all',
    });
    const page = await expectNotice(editor, created, 'La séance « Comité d’avril » est créée.');
    const url = created.headers.location!;
    const id = Number(/seances\/(\d+)/.exec(url)![1]);
    // the meeting page leads to the confirmation, it does not hold the meeting itself
    expect(page).to.contain(`href="${url}/tenir"`).and.not.contain(`action="${url}/tenir"`);

    const confirm = textOf((await editor.get(`${url}/tenir`).expect(200)).text);
    expect(confirm).to.contain("Cette séance n'a pas encore eu lieu").and.contain("L'ordre du jour est figé").and.contain('définitive');
    expect((await t.db('meetings').where({ id }).first()).held_at, 'nothing held before confirming').to.equal(null);

    const held = await postForm(editor, `${url}/tenir`, `${url}/tenir`, {});
    await expectNotice(editor, held, 'La séance « Comité d’avril » est tenue : son ordre du jour est figé.');
    expect((await t.db('meetings').where({ id }).first()).held_at).to.not.equal(null);
    // held: no confirmation page any more
    expect((await editor.get(`${url}/tenir`)).status).to.equal(409);
  });

  it('does not warn of a future date for a meeting of today or the past', async () => {
    const created = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', {
      title: 'Comité passé', kind: 'suivi', date: '2026-03-10', startTime: '14:00', endTime: '16:00', place: 'Salle 1', visioUrl: '',
      objective: 'Suivre le plan.', reminder: '', questions: '', coverage: 'all',
    });
    expect(created.status).to.equal(303);
    const confirm = textOf((await editor.get(`${created.headers.location!}/tenir`).expect(200)).text);
    expect(confirm).to.contain("L'ordre du jour est figé").and.not.contain("n'a pas encore eu lieu");
  });

  it('sends the progress e-mail by hand only after a page naming the communes, recipients and period', async () => {
    const rows = await t.db('commune_contacts').whereNull('unsubscribed_at').groupBy('commune_id').select('commune_id', t.db.raw('count(*) as n'));
    const communes = rows.length;
    const recipients = rows.reduce((n: number, r: { n: unknown }) => n + Number(r.n), 0);
    expect(communes).to.be.greaterThan(1);
    const before = await count(t, 'outbox');

    const form = (await admin.get('/admin/points').expect(200)).text;
    expect(form).to.contain('<form method="get" action="/admin/points/envoyer"');
    const confirm = await admin.get('/admin/points/envoyer?communeId=all&period=2026-S12').expect(200);
    expect(textOf(confirm.text)).to.contain(`${communes} communes, ${recipients} destinataires`)
      .and.contain('semaine du 16 au 22 mars 2026').and.contain(`Envoyer à ${recipients} destinataires`);
    expect(await count(t, 'outbox'), 'nothing sent before confirming').to.equal(before);

    const bad = await admin.get('/admin/points/envoyer?communeId=all&period=mars+2026+!');
    expect(bad.status).to.equal(422);
    expect(await count(t, 'outbox')).to.equal(before);

    const sent = await admin.post('/admin/points/envoyer').type('form').send({ _csrf: csrfOf(confirm.text), communeId: 'all', period: '2026-S12' });
    expect(sent.status).to.equal(200);
    expect(textOf(sent.text)).to.contain('Résultat de l\'envoi');
    expect(await count(t, 'outbox')).to.be.greaterThan(before);
  });
});
