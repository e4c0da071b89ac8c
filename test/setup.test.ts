import { expect } from 'chai';
import type { Knex } from 'knex';
import { createApp } from '../src/app';
import { prepareDatabase } from '../src/bootstrap';
import { accountService } from '../src/services/accounts';
import { type Agent, csrfOf, emptyDatabase, ENGINE, NOW, postForm, signIn, TEST_PASSWORDS, textOf } from './helpers';

const ADMIN = { email: 'premiere.admin@organisation.example.org', password: 'tulipes-bleues-sous-la-pluie-2026' };

/** The checklist's steps as the page shows them: each title with "Fait" or "À faire", and its link. */
async function checklistOf(agent: Agent): Promise<{ key: string; done: boolean; href: string }[]> {
  const res = await agent.get('/admin/mise-en-route').expect(200);
  return [...res.text.matchAll(/<li class="fr-mb-3w" id="etape-([\w-]+)">([\s\S]*?)<\/li>/g)].map((m) => ({
    key: m[1]!,
    done: m[2]!.includes('>Fait<'),
    href: /href="([^"]+)"/.exec(m[2]!)![1]!,
  }));
}

const done = (steps: { key: string; done: boolean }[]) => steps.filter((s) => s.done).map((s) => s.key);

describe(`the first administrator's set-up checklist, from an empty production database (${ENGINE})`, function () {
  this.timeout(60_000);
  let db: Knex;
  let drop: () => Promise<void>;
  let admin: Agent;

  before(async () => {
    const empty = await emptyDatabase('setup');
    drop = empty.drop;
    db = empty.open();
    await prepareDatabase(db, { demo: false }, NOW, TEST_PASSWORDS);
    // the first administrator is made from the command line (npm run cli -- user:create); its second factor, asked at
    // the first sign-in in production, is another test's subject: the walk here starts once it is signed in
    await db('security_settings').where('id', 1).update({ totp_roles: '' });
    const created = await accountService({ db, passwords: TEST_PASSWORDS })
      .createWithPassword({ id: null, name: 'Ligne de commande' }, { email: ADMIN.email, name: 'Première Admin', role: 'admin', communeId: null }, ADMIN.password, NOW);
    expect(created, JSON.stringify(created)).to.include({ ok: true });
    const app = createApp({ db, config: { ...empty.config, demo: false, production: false }, now: () => NOW, passwords: TEST_PASSWORDS });
    admin = await signIn(app, ADMIN.email, ADMIN.password);
  });

  after(async () => {
    await db?.destroy();
    await drop?.();
  });

  it('is linked from the administration and announced on the empty homologations page, every step to do with its link', async () => {
    expect((await admin.get('/admin').expect(200)).text).to.contain('href="/admin/mise-en-route"');
    const home = await admin.get('/homologations').expect(200);
    expect(textOf(home.text)).to.contain('Mise en route : 0 étape sur 7');
    expect(home.text).to.contain('href="/admin/mise-en-route"').and.contain('href="/homologations/nouvelle"');
    const steps = await checklistOf(admin);
    expect(steps.map((s) => s.key)).to.deep.equal(['organisation', 'teams', 'services', 'instances', 'members', 'homologation', 'fiche']);
    expect(done(steps)).to.deep.equal([]);
    expect(steps.map((s) => s.href)).to.deep.equal([
      '/admin/identite', '/admin/equipes', '/admin/services', '/admin/instances', '/admin/utilisateurs', '/homologations/nouvelle', '/homologations/nouvelle',
    ]);
    // every link leads to a page that opens
    for (const s of steps) await admin.get(s.href).expect(200);
  });

  it('ticks each step as it is done through the pages, up to a first fiche that saves', async () => {
    const team = await postForm(admin, '/admin/equipes/nouveau', '/admin/equipes', { name: 'Exploitation', description: '' });
    expect(team.status, textOf(team.text).slice(0, 300)).to.equal(303);
    expect(done(await checklistOf(admin))).to.deep.equal(['teams']);
    const teamId = String((await db('teams').first()).id);

    const service = await postForm(admin, '/admin/services/nouveau', '/admin/services', { name: 'Portail usagers', description: '', position: '1' });
    expect(service.status, textOf(service.text).slice(0, 300)).to.equal(303);
    expect(done(await checklistOf(admin))).to.deep.equal(['teams', 'services']);
    const serviceId = String((await db('services').first()).id);

    const instance = await postForm(admin, '/admin/instances/nouveau', '/admin/instances', {
      name: 'Portail usagers', serviceId, environment: 'prod', teamId, communeId: '',
    });
    expect(instance.status, textOf(instance.text).slice(0, 300)).to.equal(303);
    expect(done(await checklistOf(admin))).to.deep.equal(['teams', 'services', 'instances']);
    const instanceId = String((await db('instances').first()).id);

    const account = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Lucie Garnier', email: 'lucie.garnier@organisation.example.org', role: 'editor', communeId: '', active: 'on',
    });
    expect(account.status, textOf(account.text).slice(0, 300)).to.equal(201);
    expect(done(await checklistOf(admin))).to.deep.equal(['teams', 'services', 'instances', 'members']);

    const homologation = await postForm(admin, '/homologations/nouvelle', '/homologations/nouvelle', {
      title: 'Portail usagers 2027', organisation: 'Communauté de communes du Val', description: '', instanceIds: [instanceId],
    });
    expect(homologation.status, textOf(homologation.text).slice(0, 300)).to.equal(303);
    let steps = await checklistOf(admin);
    expect(done(steps)).to.deep.equal(['teams', 'services', 'instances', 'members', 'homologation']);
    const hid = String((await db('plans').first()).id);
    expect(steps.find((s) => s.key === 'fiche')!.href).to.equal(`/homologations/${hid}/fiches/nouvelle`);
    expect(textOf((await admin.get('/homologations').expect(200)).text)).to.contain('Mise en route : 5 étapes sur 7');

    // the identity: a Communauté de communes is not a State service
    const identityPage = await admin.get('/admin/identite').expect(200);
    const identity = await admin.post('/admin/identite').field('_csrf', csrfOf(identityPage.text)).field('version', '1')
      .field('nature', 'autre').field('name', 'Communauté de communes du Val').field('accent', '').field('logoAlt', '');
    expect(identity.status, textOf(identity.text).slice(0, 300)).to.equal(303);
    steps = await checklistOf(admin);
    expect(done(steps)).to.deep.equal(['organisation', 'teams', 'services', 'instances', 'members', 'homologation']);

    // the empty pages of a new homologation say what comes next
    const meetings = await admin.get(`/homologations/${hid}/seances`).expect(200);
    expect(meetings.text).to.contain(`href="/homologations/${hid}/seances/nouvelle"`);
    expect(textOf(meetings.text)).to.contain('Aucune séance pour l');
    const alerts = await admin.get('/alertes').expect(200);
    expect(textOf(alerts.text)).to.contain('une alerte naît quand une fiche dépasse sa date cible');

    const fiche = await postForm(admin, `/homologations/${hid}/fiches/nouvelle`, `/homologations/${hid}/fiches`, {
      _action: 'save', number: '1', title: 'Chiffrer les sauvegardes', finding: 'Les sauvegardes sont en clair.', targetDate: '2027-03-31',
      status: 'non_demarre', scope: 'all', owners: [{ teamId, serviceId: '' }],
    });
    expect(fiche.status, textOf(fiche.text).slice(0, 600)).to.equal(303);
    steps = await checklistOf(admin);
    expect(steps.every((s) => s.done)).to.equal(true);
    expect(textOf((await admin.get('/admin/mise-en-route').expect(200)).text)).to.contain('La mise en route est terminée');
    // the finished set-up no longer takes room on the home page
    expect(textOf((await admin.get('/homologations').expect(200)).text)).not.to.contain('Mise en route :');
  });

  it('on a homologation with no instance, the plan says where the perimeter is chosen and where instances are added', async () => {
    const res = await postForm(admin, '/homologations/nouvelle', '/homologations/nouvelle', { title: 'Intranet 2027', organisation: 'Communauté de communes du Val', description: '' });
    expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
    const hid = String((await db('plans').where({ title: 'Intranet 2027' }).first()).id);
    const plan = await admin.get(`/homologations/${hid}`).expect(200);
    expect(textOf(plan.text)).to.contain("Aucune instance n'est encore déclarée");
    expect(plan.text).to.contain(`href="/homologations/${hid}/parametres#instanceIds"`).and.contain('href="/admin/instances"');
    expect((await admin.get(`/homologations/${hid}/parametres`).expect(200)).text).to.contain('id="instanceIds"');
  });
});
