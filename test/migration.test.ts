import { expect } from 'chai';
import type { Knex } from 'knex';
import request from 'supertest';
import { migrationSource } from '../db/migrations/index';
import { createApp } from '../src/app';
import { migrate } from '../src/db';
import { csrfOf, emptyDatabase, ENGINE, NOW, textOf, TEST_PASSWORDS } from './helpers';

/** The migrations the previous main had: 001 to 005. */
const PREVIOUS = ['001_initial', '002_meetings', '003_mail', '004_security', '005_throttle'];
const previousSource: Knex.MigrationSource<string> = {
  ...migrationSource,
  getMigrations: async () => (await migrationSource.getMigrations([])).filter((name) => PREVIOUS.includes(name)),
};

const PASSWORD = 'une phrase de passe pour la migration';
const at = '2026-01-10T09:00:00.000Z';

async function idOf(db: Knex, table: string, row: Record<string, unknown>): Promise<number> {
  const [r] = await db(table).insert(row).returning('id');
  return Number(typeof r === 'object' ? r.id : r);
}

/** The tables of the database, but knex's own. */
async function tables(db: Knex): Promise<string[]> {
  const rows: { name: string }[] = ENGINE === 'postgresql'
    ? (await db.raw("select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'")).rows
    : await db.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'");
  return rows.map((r) => r.name).filter((n) => !n.startsWith('knex_')).sort();
}

async function counts(db: Knex, names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of names) out[name] = Number((await db(name).count({ n: '*' }).first())!.n);
  return out;
}

/** What the previous main held for a small organisation: one plan and everything around it, as its code wrote it. */
async function fillAsPreviousMain(db: Knex) {
  const planId = await idOf(db, 'plans', { title: "Plan d'action RGS de la Métropole", organisation: 'Métropole de test', reminder: 'Tenir les communes informées.', is_demo: false });
  const pwn = await idOf(db, 'teams', { name: 'PWN', description: 'Pôle web' });
  const snu = await idOf(db, 'teams', { name: 'SNU 1', description: 'Services aux usagers' });
  const intranet = await idOf(db, 'services', { name: 'Intranet', description: '', position: 1 });
  const portal = await idOf(db, 'services', { name: 'Portail citoyen', description: '', position: 2 });
  const bron = await idOf(db, 'communes', { name: 'Bron', insee_code: '69029' });
  const instances = [
    await idOf(db, 'instances', { service_id: intranet, environment: 'prod', name: 'Intranet production', team_id: pwn, commune_id: null }),
    await idOf(db, 'instances', { service_id: intranet, environment: 'recette', name: 'Intranet recette', team_id: pwn, commune_id: null }),
    await idOf(db, 'instances', { service_id: portal, environment: 'prod', name: 'Portail Bron', team_id: snu, commune_id: bron }),
    await idOf(db, 'instances', { service_id: portal, environment: 'recette', name: 'Portail Bron (recette)', team_id: snu, commune_id: bron }),
  ];
  const passwordHash = await TEST_PASSWORDS.hash(PASSWORD);
  const viewer = await idOf(db, 'users', { email: 'comite@test.example.org', name: 'Sophie Comité', role: 'viewer', commune_id: null, password_hash: passwordHash, active: true, created_at: at });
  const editor = await idOf(db, 'users', { email: 'projet@test.example.org', name: 'Julien Projet', role: 'editor', commune_id: null, password_hash: passwordHash, active: true, created_at: at });
  await idOf(db, 'users', { email: 'agent@bron.example.org', name: 'Nadia Bron', role: 'commune', commune_id: bron, password_hash: passwordHash, active: true, created_at: at });
  await db('team_members').insert({ team_id: snu, user_id: editor });
  await db('milestones').insert([
    { plan_id: planId, due_date: '2025-11-01', title: 'Ateliers', done: true },
    { plan_id: planId, due_date: '2026-06-01', title: 'Signature', done: false },
  ]);

  const fiche = (number: number, title: string, scopeAll: boolean, status: string, targetDate: string | null) => idOf(db, 'fiches', {
    plan_id: planId, number, title, finding: `Constat ${number}`, target_date: targetDate, status, conclusion: '', cost_amount: number === 2 ? 1500 : null,
    cost_source: number === 2 ? 'le prestataire' : '', scope_all: scopeAll, version: 3, created_at: at, updated_at: at,
  });
  const whole = await fiche(1, 'Revoir les droits sur tout le périmètre', true, 'en_cours', '2026-02-01');
  const portalFiche = await fiche(2, 'Double authentification du portail', false, 'bloque', '2026-05-01');
  const done = await fiche(3, "Vérifier l'hébergement", false, 'fait', '2025-12-01');
  await db('fiche_instances').insert([
    { fiche_id: portalFiche, instance_id: instances[2] }, { fiche_id: portalFiche, instance_id: instances[3] }, { fiche_id: done, instance_id: instances[0] },
  ]);
  await db('steps').insert([
    { fiche_id: whole, position: 1, label: 'Décrire les rôles', status: 'fait', for_communes: false },
    { fiche_id: whole, position: 2, label: 'Ajuster les droits', status: 'en_cours', for_communes: false },
    { fiche_id: portalFiche, position: 1, label: 'Recenser les agents communaux', status: 'en_cours', for_communes: true },
    { fiche_id: done, position: 1, label: "Interroger l'éditeur", status: 'fait', for_communes: false },
  ]);
  await db('fiche_owners').insert([
    { fiche_id: whole, team_id: pwn, service_id: intranet }, { fiche_id: whole, team_id: snu, service_id: portal },
    { fiche_id: portalFiche, team_id: snu, service_id: null }, { fiche_id: done, team_id: pwn, service_id: null },
  ]);
  await db('side_effects').insert({ fiche_id: portalFiche, position: 1, level: 'fort', description: 'Les agents communaux ne sont pas dans l’annuaire.' });
  await db('conclusion_counts').insert({ fiche_id: done, position: 1, count: 52, total: 84, label: 'formulaires' });
  await db('progress_notes').insert([
    { fiche_id: whole, author_id: editor, noted_on: '2026-01-05', created_at: at, body: 'Rôles décrits.', status_before: 'non_demarre', status_after: 'en_cours' },
    { fiche_id: portalFiche, author_id: editor, noted_on: '2026-01-06', created_at: at, body: 'Bloqué par la tierce maintenance.', status_before: 'en_cours', status_after: 'bloque' },
  ]);
  await db('alerts').insert({ fiche_id: whole, target_date: '2026-02-01', created_at: '2026-02-02T08:00:00.000Z', last_sent_at: '2026-02-02T08:00:00.000Z', reminders: 1 });

  const meeting = (title: string, kind: string, startsAt: string, held: boolean) => idOf(db, 'meetings', {
    plan_id: planId, title, kind, starts_at: startsAt, ends_at: startsAt.replace('T10', 'T12'), place: 'Salle du conseil', objective: 'Faire le point',
    covers_all: true, held_at: held ? `${startsAt.slice(0, 10)}T12:00:00.000Z` : null,
    snapshot: held ? JSON.stringify({ title, fiches: [{ number: 1, title: 'Revoir les droits sur tout le périmètre', status: 'en_cours' }] }) : null,
    record: held ? 'Le comité valide le plan.' : '', version: 2, created_at: at, updated_at: at,
  });
  const refusedMeeting = await meeting('Comité — première signature', 'signature', '2023-11-10T10:00', true);
  const signedMeeting = await meeting('Comité — signature', 'signature', '2024-01-15T10:00', true);
  const nextMeeting = await meeting('Comité de suivi', 'suivi', '2026-04-02T10:00', false);
  await db('meeting_attendees').insert([{ meeting_id: signedMeeting, user_id: viewer, name: 'Sophie Comité', organisation: 'Métropole' }]);
  await db('meeting_fiches').insert({ meeting_id: nextMeeting, fiche_id: portalFiche });
  await db('meeting_decisions').insert({ meeting_id: signedMeeting, fiche_id: portalFiche, text: 'Relancer la tierce maintenance.', author_id: editor, created_at: at });
  await db('signatures').insert([
    { plan_id: planId, meeting_id: refusedMeeting, signed: false, authority: 'Le président', decided_on: '2023-11-10', duration_months: null, conditions: '', author_id: editor, created_at: at },
    { plan_id: planId, meeting_id: signedMeeting, signed: true, authority: 'Le président', decided_on: '2024-01-15', duration_months: 36, conditions: 'Double authentification avant l’été.', author_id: editor, created_at: at },
  ]);
  await db('commune_contacts').insert({ commune_id: bron, name: 'Référent Bron', email: 'numerique@bron.example.org', function: '', unsubscribe_token: 'jeton-de-desinscription-bron-0001', created_at: at });
  await db('audit_log').insert({ at, user_id: editor, actor: 'Julien Projet', action: 'update', entity_type: 'fiche', entity_id: whole, summary: 'Revoir les droits', before: null, after: null });
  return { planId, instances, fiches: [whole, portalFiche, done], meetings: [refusedMeeting, signedMeeting, nextMeeting] };
}

describe(`migration of a database made by the previous main (${ENGINE})`, function () {
  this.timeout(60_000);
  let database: Awaited<ReturnType<typeof emptyDatabase>>;
  let db: Knex;
  let previousCounts: Record<string, number>;
  let filled: Awaited<ReturnType<typeof fillAsPreviousMain>>;
  let snapshots: Record<number, string | null>;

  before(async () => {
    database = await emptyDatabase('migration');
    db = database.open();
    await db.migrate.latest({ migrationSource: previousSource });
    expect((await db('knex_migrations').select('name')).map((r) => r.name)).to.deep.equal(PREVIOUS);
    filled = await fillAsPreviousMain(db);
    previousCounts = await counts(db, await tables(db));
    snapshots = Object.fromEntries((await db('meetings').select('id', 'snapshot')).map((m) => [Number(m.id), m.snapshot]));
    await migrate(db);
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('loses nothing: every table the previous main had holds the same number of rows', async () => {
    expect(Object.keys(previousCounts)).to.include.members(['plans', 'fiches', 'steps', 'fiche_instances', 'fiche_owners', 'meetings', 'signatures', 'alerts', 'progress_notes', 'users']);
    expect(previousCounts.fiches).to.equal(3);
    expect(await counts(db, Object.keys(previousCounts))).to.deep.equal(previousCounts);
  });

  it('makes the plan one homologation whose perimeter is every instance, with its fiches, meetings and milestones attached', async () => {
    const plans = await db('plans').select('*');
    expect(plans).to.have.length(1);
    expect(Number(plans[0].id)).to.equal(filled.planId);
    expect(plans[0]).to.include({ title: "Plan d'action RGS de la Métropole", organisation: 'Métropole de test', previous_id: null, archived_at: null });
    const perimeter = (await db('plan_instances').where('plan_id', filled.planId).select('instance_id')).map((r) => Number(r.instance_id)).sort((a, b) => a - b);
    expect(perimeter).to.deep.equal([...filled.instances].sort((a, b) => a - b));
    for (const table of ['fiches', 'meetings', 'milestones', 'signatures']) {
      const owners = (await db(table).distinct('plan_id')).map((r) => Number(r.plan_id));
      expect(owners, table).to.deep.equal([filled.planId]);
    }
    // the fiches keep their scope, owners, steps and notes; none is a carried-over fiche or a condition
    expect(Number((await db('fiche_instances').where('fiche_id', filled.fiches[1]).count({ n: '*' }).first())!.n)).to.equal(2);
    const fiches = await db('fiches').orderBy('number').select('number', 'status', 'scope_all', 'version', 'carried_from_id', 'condition_of');
    expect(fiches.map((f) => [f.number, f.status, Boolean(f.scope_all), f.version, f.carried_from_id, f.condition_of]))
      .to.deep.equal([[1, 'en_cours', true, 3, null, null], [2, 'bloque', false, 3, null, null], [3, 'fait', false, 3, null, null]]);
    // a held meeting keeps its agenda as it was frozen, byte for byte
    for (const m of await db('meetings').select('id', 'snapshot', 'held_at')) expect(m.snapshot, `séance ${m.id}`).to.equal(snapshots[Number(m.id)]);
    expect(await db('alerts').where('fiche_id', filled.fiches[0]).first()).to.include({ target_date: '2026-02-01', reminders: 1, acknowledged_at: null });
  });

  it('gives each decision its outcome and its end date: sous conditions until decision + 36 months, refusée without one', async () => {
    const rows = await db('signatures').orderBy('decided_on').select('meeting_id', 'outcome', 'decided_on', 'ends_on', 'duration_months', 'conditions', 'authority_email');
    expect(rows.map((r) => [Number(r.meeting_id), r.outcome, r.decided_on, r.ends_on, r.duration_months])).to.deep.equal([
      [filled.meetings[0], 'refusee', '2023-11-10', null, null],
      [filled.meetings[1], 'sous_conditions', '2024-01-15', '2027-01-15', 36],
    ]);
    expect(rows[1].conditions).to.equal('Double authentification avant l’été.');
    expect(rows[1].authority_email).to.equal('');
    expect(await db('expiry_reminders').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(0);
    expect((await db('environments').orderBy('position').select('code')).map((r) => r.code)).to.deep.equal(['prod', 'recette']);
  });

  it('enforces the new links as on a new database: a homologation renewed once, no link to a missing fiche or decision', async () => {
    const renewal = { title: 'Renouvellement', organisation: 'Métropole de test', reminder: '', is_demo: false, previous_id: filled.planId };
    await db('plans').insert(renewal);
    let refused: unknown = null;
    await db('plans').insert(renewal).catch((e: unknown) => { refused = e; });
    expect(refused, 'second renewal of the same homologation').not.to.equal(null);
    for (const link of [{ carried_from_id: 999_999 }, { condition_of: 999_999 }]) {
      refused = null;
      await db('fiches').where('id', filled.fiches[2]).update(link).catch((e: unknown) => { refused = e; });
      expect(refused, JSON.stringify(link)).not.to.equal(null);
    }
    await db('plans').where('previous_id', filled.planId).delete();
    expect(Number((await db('fiches').count({ n: '*' }).first())!.n)).to.equal(3);
  });

  it('serves the homologation and its fiches to a signed-in user, and the old address of a fiche redirects there', async () => {
    const app = createApp({ db, config: database.config, now: () => NOW, passwords: TEST_PASSWORDS });
    const agent = request.agent(app);
    const page = await agent.get('/connexion').expect(200);
    await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: 'comite@test.example.org', password: PASSWORD }).expect(302);

    const home = textOf((await agent.get(`/homologations/${filled.planId}`).expect(200)).text);
    expect(home).to.contain("Plan d'action RGS de la Métropole").and.contain('Revoir les droits sur tout le périmètre').and.contain('Double authentification du portail');
    expect(home).to.contain('Homologuée sous conditions');
    const fiche = textOf((await agent.get(`/homologations/${filled.planId}/fiches/${filled.fiches[1]}`).expect(200)).text);
    expect(fiche).to.contain('Double authentification du portail').and.contain('Recenser les agents communaux').and.contain('Portail Bron')
      .and.contain('Bloqué par la tierce maintenance.');
    const old = await agent.get(`/fiches/${filled.fiches[1]}`).expect(301);
    expect(old.headers.location).to.equal(`/homologations/${filled.planId}/fiches/${filled.fiches[1]}`);
    const list = textOf((await agent.get('/homologations').expect(200)).text);
    expect(list).to.contain("Plan d'action RGS de la Métropole");
  });
});
