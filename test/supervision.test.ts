import { expect } from 'chai';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { purgeSecurityEvents, SECURITY_ACTIONS } from '../src/data/audit';
import { getSecuritySettings } from '../src/data/security-settings';
import { ROLES } from '../src/domain/roles';
import { accountService } from '../src/services/accounts';
import { ACCOUNTS, type Agent, csrfOf, freshApp, NOW, postForm, signIn, type TestApp, textOf, TEST_PASSWORDS } from './helpers';

const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();

let passwordHash: Promise<string> | undefined;

/** A user row written straight to the database, with the demo password. */
async function insertUser(db: Knex, fields: { email: string; name: string; role?: string; [k: string]: unknown }): Promise<number> {
  passwordHash ??= TEST_PASSWORDS.hash(DEMO_PASSWORD);
  const [row] = await db('users').insert({
    role: 'editor', active: true, password_hash: await passwordHash, created_at: ago(400), ...fields,
  }).returning('id');
  return Number(typeof row === 'object' ? row.id : row);
}

async function insertAudit(db: Knex, rows: { at: string; action: string; userId?: number | null; actor?: string; entityType?: string; entityId?: number | null; summary?: string }[]) {
  await db('audit_log').insert(rows.map((r) => ({
    at: r.at, user_id: r.userId ?? null, actor: r.actor ?? 'Test', action: r.action, entity_type: r.entityType ?? 'fiche',
    entity_id: r.entityId ?? null, summary: r.summary ?? 'test', before: null, after: null,
  })));
}

const userId = async (db: Knex, email: string) => Number((await db('users').where({ email }).first()).id);

/** The cells of a table's body rows, as text, for the table with this id. */
function tableRows(html: string, id: string): string[][] {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(html);
  if (!table) return [];
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table[1]!)![1]!;
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => textOf(c[1]!).trim()));
}

/** The section of the page under a heading id, up to the next section. */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section aria-labelledby="${id}"`);
  expect(start, id).to.be.greaterThan(-1);
  return html.slice(start, html.indexOf('</section>', start));
}

const VALID = {
  minLength: '14', maxLength: '100', classes: '2', history: '8', maxAgeDays: '0', lockoutThreshold: '6', lockoutMinutes: '0',
  sessionIdleMinutes: '20', totpRoles: ['admin', 'commune_admin'], providerMfaRoles: ['commune_admin'], inactiveMonths: '3', auditRetentionMonths: '6',
};

describe('security settings page', () => {
  let t: TestApp;
  let admin: Agent;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
  });
  afterEach(() => t.close());

  it('shows the current policy with the ANSSI and CNIL reasons', async () => {
    const res = await admin.get('/admin/securite').expect(200);
    expect(res.text).to.match(/id="minLength" name="minLength" value="12"/);
    expect(res.text).to.match(/id="lockoutThreshold" name="lockoutThreshold" value="5"/);
    // one box per role, ticked as the policy says (the demo plan requires no second factor)
    const { totpRoles } = await getSecuritySettings(t.db);
    for (const role of ROLES) {
      expect(res.text).to.contain(`id="totpRoles-${role}" name="totpRoles" value="${role}" ${totpRoles.includes(role) ? 'checked' : ''}>`);
    }
    await t.db('security_settings').where('id', 1).update({ totp_roles: 'admin,viewer' });
    const ticked = await admin.get('/admin/securite').expect(200);
    expect([...ticked.text.matchAll(/name="totpRoles" value="(\w+)" checked/g)].map((m) => m[1])).to.deep.equal(['admin', 'viewer']);
    const text = textOf(res.text);
    expect(text).to.contain('ANSSI').and.contain('CNIL').and.contain('de 6 mois à 1 an');
    expect(text).to.contain('Comité de pilotage (lecture)');
  });

  it('refuses out-of-bounds values with a message at each field, keeps what was typed and saves nothing', async () => {
    const before = await getSecuritySettings(t.db);
    const auditBefore = await t.db('audit_log').where({ entity_type: 'security_settings' }).count({ n: '*' }).first();
    const res = await postForm(admin, '/admin/securite', '/admin/securite', {
      ...VALID, minLength: '6', maxLength: '300', lockoutThreshold: '50', sessionIdleMinutes: 'deux', auditRetentionMonths: '0', totpRoles: ['admin', 'pirate'],
    });
    expect(res.status).to.equal(422);
    const text = textOf(res.text);
    expect(text).to.contain('Le formulaire contient 6 erreurs');
    expect(text).to.contain('La longueur minimale est comprise entre 8 et 64 caractères.');
    expect(text).to.contain('La longueur maximale est comprise entre 8 et 256 caractères.');
    expect(text).to.contain('Le seuil de blocage est compris entre 3 et 20 échecs.');
    expect(text).to.contain('Saisissez un nombre entier, sans espace ni virgule.');
    expect(text).to.contain('La durée de conservation est comprise entre 1 et 120 mois (10 ans).');
    expect(text).to.contain('Choisissez des rôles dans la liste.');
    // each message sits next to its field
    expect(res.text).to.match(/id="lockoutThreshold" name="lockoutThreshold" value="50"[^>]*aria-describedby="lockoutThreshold-error"/);
    expect(res.text).to.contain('<p id="lockoutThreshold-error" class="fr-error-text">Le seuil de blocage est compris entre 3 et 20 échecs.</p>');
    // typed values kept, valid ones too
    expect(res.text).to.match(/name="minLength" value="6"/);
    expect(res.text).to.match(/name="sessionIdleMinutes" value="deux"/);
    expect(res.text).to.match(/name="history" value="8"/);
    expect(res.text).to.match(/id="totpRoles-commune_admin" name="totpRoles" value="commune_admin" >/);
    expect(res.text).to.match(/id="totpRoles-admin" name="totpRoles" value="admin" checked/);
    expect(await getSecuritySettings(t.db)).to.deep.equal(before);
    expect(await t.db('audit_log').where({ entity_type: 'security_settings' }).count({ n: '*' }).first()).to.deep.equal(auditBefore);
  });

  it('refuses a maximum length below the minimum', async () => {
    const res = await postForm(admin, '/admin/securite', '/admin/securite', { ...VALID, minLength: '20', maxLength: '16' });
    expect(res.status).to.equal(422);
    expect(textOf(res.text)).to.contain('La longueur maximale ne peut pas être inférieure à la longueur minimale (20 caractères).');
    expect((await getSecuritySettings(t.db)).password.minLength).to.equal(12);
  });

  it('saves a valid policy, audited, and shows it again', async () => {
    const res = await postForm(admin, '/admin/securite', '/admin/securite', VALID);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/admin/securite?enregistre=1');
    expect(await getSecuritySettings(t.db)).to.deep.equal({
      password: { minLength: 14, maxLength: 100, classes: 2, history: 8, maxAgeDays: 0 },
      lockoutThreshold: 6, lockoutMinutes: 0, sessionIdleMinutes: 20, totpRoles: ['admin', 'commune_admin'], providerMfaRoles: ['commune_admin'], inactiveMonths: 3, auditRetentionMonths: 6,
    });
    const audit = await t.db('audit_log').where({ entity_type: 'security_settings' }).orderBy('id', 'desc').first();
    expect(audit.action).to.equal('update');
    expect(audit.actor).to.contain(ACCOUNTS.admin);
    expect(JSON.parse(audit.before).lockoutThreshold).to.equal(5);
    expect(JSON.parse(audit.after).lockoutThreshold).to.equal(6);
    const page = await admin.get(res.headers.location!).expect(200);
    expect(textOf(page.text)).to.contain('La politique est enregistrée');
    expect(page.text).to.match(/name="minLength" value="14"/);
    expect(page.text).to.match(/id="totpRoles-editor" name="totpRoles" value="editor" >/);
    // no role at all is a valid choice: nobody is forced to a second factor
    await postForm(admin, '/admin/securite', '/admin/securite', { ...VALID, totpRoles: undefined }).then((r) => expect(r.status).to.equal(303));
    expect((await getSecuritySettings(t.db)).totpRoles).to.deep.equal([]);
  });
});

describe('supervision and journal: admins only', () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  for (const role of ['editor', 'viewer', 'commune'] as const) {
    it(`refuses every page and action to the ${role} role`, async () => {
      const agent = await signIn(t.app, ACCOUNTS[role]);
      for (const url of ['/admin/securite', '/admin/supervision', '/admin/supervision?periode=90', '/admin/journal', '/admin/journal?action=login', '/admin/journal.csv']) {
        const res = await agent.get(url);
        expect(res.status, `${role} ${url}`).to.equal(403);
        expect(res.text).not.to.contain('Supervision des comptes');
      }
      const viewerId = await userId(t.db, ACCOUNTS.viewer);
      await t.db('users').where({ id: viewerId }).update({ frozen_until: ago(-1), failed_logins: 5 });
      const token = csrfOf((await agent.get('/homologations/1').expect(200)).text);
      for (const url of [`/admin/supervision/utilisateurs/${viewerId}/suspendre`, `/admin/supervision/utilisateurs/${viewerId}/debloquer`, '/admin/securite']) {
        const res = await agent.post(url).type('form').send({ _csrf: token, ...VALID, totpRoles: 'admin' });
        expect(res.status, `${role} POST ${url}`).to.equal(403);
      }
      const viewer = await t.db('users').where({ id: viewerId }).first();
      expect(Boolean(viewer.active)).to.equal(true);
      expect(viewer.failed_logins).to.equal(5);
      expect((await getSecuritySettings(t.db)).lockoutThreshold).to.equal(5);
      await t.db('users').where({ id: viewerId }).update({ frozen_until: null, failed_logins: 0 });
    });
  }
});

describe('supervision dashboard', () => {
  let t: TestApp;
  let admin: Agent;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
  });
  afterEach(() => t.close());

  it('lists the active accounts unused for the set number of months, and suspends one so it can no longer sign in', async () => {
    const never = await insertUser(t.db, { email: 'jamais@metropole.example.org', name: 'Jamais Connecté', created_at: ago(300) });
    const dormant = await insertUser(t.db, { email: 'dormant@metropole.example.org', name: 'Dormant Ancien', last_login_at: ago(200) });
    await insertUser(t.db, { email: 'recent@metropole.example.org', name: 'Récent Quatre', last_login_at: ago(120) });
    await insertUser(t.db, { email: 'nouveau@metropole.example.org', name: 'Nouveau Compte', created_at: ago(20) });
    await insertUser(t.db, { email: 'suspendu@metropole.example.org', name: 'Déjà Suspendu', last_login_at: ago(300), active: false });
    await insertUser(t.db, { email: 'anonyme@metropole.example.org', name: 'Compte anonymisé', last_login_at: ago(300), anonymized_at: ago(10) });

    let page = await admin.get('/admin/supervision').expect(200);
    let inactive = section(page.text, 'inactifs');
    expect(textOf(inactive)).to.contain('Comptes inactifs depuis 6 mois (2)');
    expect(inactive).to.contain(`data-user="${never}"`).and.contain(`data-user="${dormant}"`);
    expect(inactive.indexOf(`data-user="${never}"`), 'oldest first').to.be.lessThan(inactive.indexOf(`data-user="${dormant}"`));
    expect(textOf(inactive)).to.contain('Jamais (compte créé le 20/05/2025)');
    for (const name of ['Récent Quatre', 'Nouveau Compte', 'Déjà Suspendu', 'Compte anonymisé', 'Camille Martin']) expect(textOf(inactive)).not.to.contain(name);

    // the threshold comes from the security policy
    await postForm(admin, '/admin/securite', '/admin/securite', VALID).then((r) => expect(r.status).to.equal(303));
    page = await admin.get('/admin/supervision').expect(200);
    inactive = section(page.text, 'inactifs');
    expect(textOf(inactive)).to.contain('Comptes inactifs depuis 3 mois (3)').and.contain('Récent Quatre');

    // the account works before
    const login = async () => {
      const agent = request.agent(t.app);
      const form = await agent.get('/connexion').expect(200);
      return agent.post('/connexion').type('form').send({ _csrf: csrfOf(form.text), email: 'dormant@metropole.example.org', password: DEMO_PASSWORD });
    };
    expect((await login()).status).to.equal(302);
    await t.db('users').where({ id: dormant }).update({ last_login_at: ago(200) });

    const res = await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${dormant}/suspendre`, { periode: '90' });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/admin/supervision?periode=90&fait=suspendu');
    expect(Boolean((await t.db('users').where({ id: dormant }).first()).active)).to.equal(false);
    const audit = await t.db('audit_log').where({ action: 'suspend' }).orderBy('id', 'desc').first();
    expect(audit).to.include({ entity_type: 'user', entity_id: dormant, at: NOW.toISOString() });
    expect(audit.actor).to.contain(ACCOUNTS.admin);
    expect(audit.summary).to.contain('dormant@metropole.example.org');

    const after = await admin.get(res.headers.location!).expect(200);
    expect(textOf(after.text)).to.contain('Le compte est suspendu');
    expect(section(after.text, 'inactifs')).not.to.contain(`data-user="${dormant}"`);
    expect((await login()).status).to.equal(401);

    // a second click changes nothing and records nothing
    const again = await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${dormant}/suspendre`, {});
    expect(again.headers.location).to.equal('/admin/supervision?fait=inchange');
    expect(await t.db('audit_log').where({ action: 'suspend' }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(1);
    await postForm(admin, '/admin/supervision', '/admin/supervision/utilisateurs/999999/suspendre', {}).then((r) => expect(r.status).to.equal(404));
  });

  it('refuses to suspend one’s own account or the last active administrator', async () => {
    const me = await userId(t.db, ACCOUNTS.admin);
    const res = await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${me}/suspendre`, {});
    expect(res.status).to.equal(422);
    expect(textOf(res.text)).to.contain('Vous ne pouvez pas suspendre votre propre compte.');
    expect(Boolean((await t.db('users').where({ id: me }).first()).active)).to.equal(true);

    // another admin may be suspended while one remains, not the last one
    const other = await insertUser(t.db, { email: 'admin2@metropole.example.org', name: 'Second Admin', role: 'admin' });
    const accounts = accountService({ db: t.db, passwords: TEST_PASSWORDS });
    expect((await accounts.suspend({ id: me, name: 'Camille Martin', email: ACCOUNTS.admin, role: 'admin', communeId: null }, other, NOW)).ok).to.equal(true);
    const refused = await accounts.suspend({ id: other, name: 'Second Admin', email: 'admin2@metropole.example.org', role: 'admin', communeId: null }, me, NOW);
    expect(refused).to.deep.equal({ ok: false, reason: 'last_admin' });
    expect(Boolean((await t.db('users').where({ id: me }).first()).active)).to.equal(true);
    expect(await t.db('audit_log').where({ action: 'suspend', entity_id: me }).first()).to.equal(undefined);
  });

  it('lists frozen accounts, unfreezes one, and shows six months of freezes and who froze most', async () => {
    const viewer = await userId(t.db, ACCOUNTS.viewer);
    const editor = await userId(t.db, ACCOUNTS.editor);
    const past = await insertUser(t.db, { email: 'ancien-blocage@metropole.example.org', name: 'Blocage Passé', frozen_until: ago(1), failed_logins: 5 });
    await t.db('users').where({ id: viewer }).update({ frozen_until: new Date(NOW.getTime() + 10 * 60_000).toISOString(), failed_logins: 5 });
    await t.db('users').where({ id: editor }).update({ frozen_until: '9999-12-31T23:59:59.999Z', failed_logins: 7 });
    const freeze = (at: string, id: number, email: string) => ({ at, action: 'freeze', entityType: 'user', entityId: id, actor: 'Anonyme', summary: `Compte bloqué : ${email}` });
    await insertAudit(t.db, [
      freeze(ago(100), editor, ACCOUNTS.editor), freeze(ago(50), editor, ACCOUNTS.editor), freeze(ago(0.01), editor, ACCOUNTS.editor),
      freeze(ago(0.02), viewer, ACCOUNTS.viewer),
      // older than six months: neither listed nor counted
      freeze(ago(200), viewer, ACCOUNTS.viewer), freeze(ago(201), viewer, ACCOUNTS.viewer), freeze(ago(202), viewer, ACCOUNTS.viewer), freeze(ago(203), viewer, ACCOUNTS.viewer),
    ]);

    const page = await admin.get('/admin/supervision').expect(200);
    const frozen = section(page.text, 'bloques');
    expect(textOf(frozen)).to.contain('Comptes bloqués (2)');
    expect(frozen).to.contain(`data-user="${viewer}"`).and.contain(`data-user="${editor}"`).and.not.contain(`data-user="${past}"`);
    expect(textOf(frozen)).to.contain("Jusqu'au déblocage par un administrateur").and.contain("Jusqu'au 16/03/2026 à");
    // history: newest first, six months only
    const history = textOf(frozen.slice(frozen.indexOf('id="historique"')));
    expect(history.match(/Blocage /g)).to.have.length(4);
    expect(history.indexOf(`Compte bloqué : ${ACCOUNTS.editor}`)).to.be.lessThan(history.indexOf(`Compte bloqué : ${ACCOUNTS.viewer}`));
    const frequent = textOf(frozen.slice(frozen.indexOf('id="blocages-frequents"'), frozen.indexOf('id="historique"')));
    expect(frequent).to.match(/Julien Petit equipe-projet@metropole\.example\.org 3 Sophie Bernard comite@metropole\.example\.org 1/);

    const res = await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${editor}/debloquer`, {});
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/admin/supervision?fait=debloque');
    const row = await t.db('users').where({ id: editor }).first();
    expect(row.frozen_until).to.equal(null);
    expect(Number(row.failed_logins)).to.equal(0);
    const audit = await t.db('audit_log').where({ action: 'unfreeze' }).orderBy('id', 'desc').first();
    expect(audit).to.include({ entity_type: 'user', entity_id: editor, at: NOW.toISOString() });
    expect(audit.actor).to.contain(ACCOUNTS.admin);

    const after = await admin.get(res.headers.location!).expect(200);
    const frozenAfter = section(after.text, 'bloques');
    expect(textOf(after.text)).to.contain('Le compte est débloqué');
    expect(textOf(frozenAfter)).to.contain('Comptes bloqués (1)');
    expect(frozenAfter).not.to.contain(`data-user="${editor}"`);
    const historyAfter = textOf(frozenAfter.slice(frozenAfter.indexOf('id="historique"')));
    expect(historyAfter).to.contain(`Déblocage Compte débloqué : ${ACCOUNTS.editor} Camille Martin`);
    expect(historyAfter.indexOf('Déblocage')).to.be.lessThan(historyAfter.indexOf('Blocage '));
    // unfreezing an account that is not frozen changes nothing and records nothing
    await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${editor}/debloquer`, {}).then((r) => expect(r.headers.location).to.equal('/admin/supervision?fait=inchange'));
    expect(await t.db('audit_log').where({ action: 'unfreeze' }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(1);
  });

  it('ranks the most active users over the chosen period, security events left out', async () => {
    const a = await insertUser(t.db, { email: 'a@metropole.example.org', name: 'Aline Active' });
    const b = await insertUser(t.db, { email: 'b@metropole.example.org', name: 'Bruno Ancien' });
    const c = await insertUser(t.db, { email: 'c@metropole.example.org', name: 'Chloé Connexions' });
    const rows = [
      ...[1, 2, 3, 29].map((d) => ({ at: ago(d), action: 'update', userId: a })),
      { at: ago(5), action: 'note', userId: a },
      ...[40, 50, 60, 70, 80, 85, 170].map((d) => ({ at: ago(d), action: d % 20 ? 'create' : 'delete', userId: b })),
      { at: ago(200), action: 'update', userId: b },
      // sign-ins and failures are not work
      ...Array.from({ length: 30 }, (_, i) => ({ at: ago(i / 2), action: SECURITY_ACTIONS[i % SECURITY_ACTIONS.length]!, userId: c })),
    ];
    await insertAudit(t.db, rows);
    // the demo accounts' own work may rank too: only ours are compared
    const ranks = (html: string) => tableRows(html, 'table-actifs').filter((r) => ['Aline Active', 'Bruno Ancien', 'Chloé Connexions'].includes(r[1]!));

    const d30 = await admin.get('/admin/supervision').expect(200);
    expect(ranks(d30.text).map((r) => [r[1], r[3]])).to.deep.equal([['Aline Active', '5']]);
    expect(d30.text).to.match(/<option value="30" selected>/);
    const d90 = await admin.get('/admin/supervision?periode=90').expect(200);
    expect(ranks(d90.text).map((r) => [r[1], r[3]])).to.deep.equal([['Bruno Ancien', '6'], ['Aline Active', '5']]);
    expect(d90.text).to.match(/<option value="90" selected>/);
    const d180 = await admin.get('/admin/supervision?periode=180').expect(200);
    expect(ranks(d180.text).map((r) => [r[1], r[3]])).to.deep.equal([['Bruno Ancien', '7'], ['Aline Active', '5']]);
    // ranks are consecutive and the counts never increase down the table
    const all = tableRows(d180.text, 'table-actifs');
    expect(all.map((r) => r[0])).to.deep.equal(all.map((_, i) => String(i + 1)));
    expect(all.length).to.be.at.most(20);
    for (let i = 1; i < all.length; i++) expect(Number(all[i]![3])).to.be.at.most(Number(all[i - 1]![3]));
    expect(section(d180.text, 'actifs')).not.to.contain(`data-user="${c}"`);

    for (const bad of ['7', 'tout', '30j']) {
      const res = await admin.get(`/admin/supervision?periode=${bad}`);
      expect(res.status, bad).to.equal(400);
      expect(textOf(res.text)).to.contain("La période demandée n'existe pas : choisissez 30, 90 ou 180 jours.");
    }
  });

  it('draws the sign-in failures of the last 30 days, day by day, with the same figures in a table', async () => {
    await insertAudit(t.db, [
      ...[1, 1, 1].map((d) => ({ at: ago(d), action: 'login_failed' })),
      ...[10, 10].map((d) => ({ at: ago(d), action: 'login_failed' })),
      // outside the 30 days, or not a failure
      ...[30, 40, 40].map((d) => ({ at: ago(d), action: 'login_failed' })),
      { at: ago(2), action: 'login' },
    ]);
    // a real failure, today
    const agent = request.agent(t.app);
    const form = await agent.get('/connexion').expect(200);
    await agent.post('/connexion').type('form').send({ _csrf: csrfOf(form.text), email: ACCOUNTS.viewer, password: 'mauvais-mot-de-passe' }).expect(401);

    const page = await admin.get('/admin/supervision').expect(200);
    const rows = tableRows(page.text, 'table-echecs');
    expect(rows).to.have.length(30);
    expect(rows[0]).to.deep.equal(['15/02/2026', '0']);
    expect(rows[29]).to.deep.equal(['16/03/2026', '1']);
    expect(rows[28]).to.deep.equal(['15/03/2026', '3']);
    expect(rows.find((r) => r[0] === '06/03/2026')).to.deep.equal(['06/03/2026', '2']);
    expect(rows.reduce((n, r) => n + Number(r[1]), 0)).to.equal(6);
    const failures = section(page.text, 'echecs');
    expect(textOf(failures)).to.contain('Échecs de connexion sur 30 jours (6)');
    const bars = [...failures.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(bars).to.have.length(30);
    // the tallest bar is the 15th of March's, three times the 6th's
    expect(Math.max(...bars)).to.equal(bars[28]);
    expect(bars[28]! / bars[19]!).to.be.closeTo(1.5, 0.01);
    expect(failures).to.contain('role="img"').and.contain('<desc id="echecs-desc">');
  });
});

describe('audit journal: filters and export', () => {
  let t: TestApp;
  let admin: Agent;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
  });
  afterEach(() => t.close());

  const bodyRows = (html: string) => html.split('<tr>').slice(2);

  it('filters by action, author, object and dates, and keeps the filters from page to page', async () => {
    await insertAudit(t.db, [
      ...Array.from({ length: 105 }, (_, i) => ({ at: ago(i / 10), action: 'login_failed', actor: 'Anonyme', entityType: 'session', summary: `Échec de connexion n°${i}` })),
      { at: '2026-01-10T10:00:00.000Z', action: 'update', actor: 'Zoé ÉTIENNE <zoe@metropole.example.org>', entityType: 'team', entityId: 4, summary: 'Équipe janvier' },
      { at: '2026-01-20T10:00:00.000Z', action: 'update', actor: 'Zoé ÉTIENNE <zoe@metropole.example.org>', entityType: 'fiche', entityId: 2, summary: 'Fiche janvier' },
      { at: '2026-02-01T10:00:00.000Z', action: 'delete', actor: 'Zoé ÉTIENNE <zoe@metropole.example.org>', entityType: 'team', entityId: 5, summary: 'Équipe février' },
      { at: '2026-01-15T10:00:00.000Z', action: 'update', actor: '100%_réel <x@y.example.org>', entityType: 'team', summary: 'Pourcentage' },
    ]);

    const failed = await admin.get('/admin/journal?action=login_failed').expect(200);
    expect(bodyRows(failed.text)).to.have.length(100);
    expect(bodyRows(failed.text).every((r) => textOf(r).includes('Échec de connexion'))).to.equal(true);
    expect(failed.text).to.contain('href="?action=login_failed&amp;page=2"');
    expect(failed.text).to.match(/<option value="login_failed" selected>Échec de connexion<\/option>/);
    expect(failed.text).to.contain('href="/admin/journal.csv?action=login_failed"');
    const second = await admin.get('/admin/journal?action=login_failed&page=2').expect(200);
    expect(bodyRows(second.text)).to.have.length(5);
    // latest recorded first: the first recorded on the second page
    expect(textOf(second.text)).to.contain('Échec de connexion n°0 ').and.contain('Échec de connexion n°4 ').and.not.match(/n°5\b/);
    expect(textOf(failed.text)).to.contain('Échec de connexion n°5 ').and.contain('Échec de connexion n°104').and.not.match(/n°[0-4] /);
    expect(second.text).to.contain('href="?action=login_failed&amp;page=1"');

    // author: a piece of the name, any case; LIKE's wildcards are plain characters
    const zoe = textOf((await admin.get('/admin/journal?auteur=zoé').expect(200)).text);
    expect(zoe).to.contain('Équipe janvier').and.contain('Fiche janvier').and.contain('Équipe février').and.not.contain('Pourcentage');
    const upper = await admin.get(`/admin/journal?auteur=${encodeURIComponent('METROPOLE.EXAMPLE')}&action=update`).expect(200);
    expect(textOf(upper.text)).to.contain('Équipe janvier').and.not.contain('Équipe février');
    const percent = await admin.get(`/admin/journal?auteur=${encodeURIComponent('0%_r')}`).expect(200);
    expect(bodyRows(percent.text).map((r) => textOf(r))).to.have.length(1);
    expect(bodyRows((await admin.get(`/admin/journal?auteur=${encodeURIComponent('%')}`).expect(200)).text)).to.have.length(1);

    // object and dates, the end day included
    const teams = await admin.get('/admin/journal?objet=team&du=2026-01-10&au=2026-01-31').expect(200);
    expect(bodyRows(teams.text).map((r) => textOf(r))).to.satisfy((rs: string[]) => rs.length === 2 && rs[0]!.includes('Pourcentage') && rs[1]!.includes('Équipe janvier'));
    expect(teams.text).to.match(/<option value="team" selected>Équipe<\/option>/);
    expect(teams.text).to.contain('value="2026-01-10"').and.contain('value="2026-01-31"');
    const oneDay = textOf((await admin.get('/admin/journal?du=2026-02-01&au=2026-02-01').expect(200)).text);
    expect(oneDay).to.contain('Équipe février').and.not.contain('Fiche janvier');
    const none = await admin.get('/admin/journal?objet=team&du=2026-02-02&au=2026-02-28').expect(200);
    expect(textOf(none.text)).to.contain('Aucune entrée ne correspond à ces filtres.');
  });

  it('answers 400 with a French message to a malformed filter', async () => {
    const cases: [string, string][] = [
      ['action=pirater', "L'action demandée n'existe pas"],
      ['objet=team%3Bdrop', "Le type d'objet demandé n'existe pas"],
      ['du=2026-02-30', 'La date de début est invalide'],
      ['au=16%2F03%2F2026', 'La date de fin est invalide'],
      ['du=2026-03-10&au=2026-03-01', 'La date de début est postérieure à la date de fin'],
      [`auteur=${'x'.repeat(101)}`, "L'auteur recherché compte 100 caractères au maximum."],
    ];
    for (const [query, message] of cases) {
      for (const path of ['/admin/journal', '/admin/journal.csv']) {
        const res = await admin.get(`${path}?${query}`);
        expect(res.status, `${path}?${query}`).to.equal(400);
        expect(textOf(res.text)).to.contain(message);
      }
    }
  });

  it('exports the filtered entries as CSV for a spreadsheet', async () => {
    await insertAudit(t.db, [
      { at: '2026-03-01T08:00:00.000Z', action: 'login_failed', actor: 'Anonyme', entityType: 'session', summary: 'Échec de connexion pour =HYPERLINK("http://x")' },
      { at: '2026-03-02T08:00:00.000Z', action: 'freeze', actor: 'Anonyme', entityType: 'user', entityId: 3, summary: 'Compte bloqué ; trop d’échecs' },
      { at: '2026-03-03T08:00:00.000Z', action: 'update', actor: 'Camille Martin <admin@metropole.example.org>', entityType: 'team', entityId: 1, summary: 'PWN' },
    ]);
    const res = await admin.get('/admin/journal.csv?du=2026-03-01&au=2026-03-02').expect(200);
    expect(res.headers['content-type']).to.equal('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).to.equal('attachment; filename="journal-audit-2026-03-16.csv"');
    expect(res.text.charCodeAt(0)).to.equal(0xfeff);
    const lines = res.text.slice(1).trimEnd().split('\n');
    expect(lines).to.deep.equal([
      'Date;Auteur;Action;Objet;Identifiant;Résumé',
      '2026-03-02T08:00:00.000Z;Anonyme;Blocage du compte;Compte utilisateur;3;"Compte bloqué ; trop d’échecs"',
      '2026-03-01T08:00:00.000Z;Anonyme;Échec de connexion;Session;;"Échec de connexion pour =HYPERLINK(""http://x"")"',
    ]);
    // a cell that a spreadsheet would run as a formula is exported as text
    await insertAudit(t.db, [{ at: '2026-03-04T08:00:00.000Z', action: 'login_failed', actor: '=1+1', entityType: 'session', summary: '@SUM(A1)' }]);
    const formula = await admin.get('/admin/journal.csv?action=login_failed&du=2026-03-04').expect(200);
    expect(formula.text.slice(1).trimEnd().split('\n')[1]).to.equal("2026-03-04T08:00:00.000Z;'=1+1;Échec de connexion;Session;;'@SUM(A1)");
    // without filters: the whole journal
    const all = await admin.get('/admin/journal.csv').expect(200);
    const total = Number((await t.db('audit_log').count({ n: '*' }).first())!.n);
    expect(all.text.slice(1).trimEnd().split('\n')).to.have.length(total + 1);
  });
});

describe('retention of security events', () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(() => t.close());

  it('purges the security events older than the date, never the business history', async () => {
    const old = ago(400);
    const recent = ago(10);
    const business = ['create', 'update', 'delete', 'note'];
    await insertAudit(t.db, [
      ...SECURITY_ACTIONS.map((action) => ({ at: old, action, summary: 'ancien' })),
      ...SECURITY_ACTIONS.map((action) => ({ at: recent, action, summary: 'récent' })),
      ...business.map((action) => ({ at: old, action, summary: 'ancien' })),
    ]);
    const cutoff = new Date(NOW.getTime() - 365 * DAY);
    // exactly at the cutoff is kept
    await insertAudit(t.db, [{ at: cutoff.toISOString(), action: 'login', summary: 'limite' }]);
    const before = await t.db('audit_log').select('id', 'action', 'summary', 'at');
    const removed = await purgeSecurityEvents(t.db, cutoff);
    expect(removed).to.equal(SECURITY_ACTIONS.length + before.filter((r) => r.at < cutoff.toISOString() && r.summary !== 'ancien' && SECURITY_ACTIONS.includes(r.action)).length);
    const after = await t.db('audit_log').select('id', 'action', 'summary', 'at');
    expect(after.filter((r) => r.summary === 'ancien').map((r) => r.action).sort()).to.deep.equal([...business].sort());
    expect(after.filter((r) => r.summary === 'récent')).to.have.length(SECURITY_ACTIONS.length);
    expect(after.some((r) => r.summary === 'limite')).to.equal(true);
    // everything else that was there and is not an old security event is still there
    const kept = before.filter((r) => !(r.at < cutoff.toISOString() && SECURITY_ACTIONS.includes(r.action)));
    expect(after.map((r) => r.id).sort()).to.deep.equal(kept.map((r) => r.id).sort());
    expect(await purgeSecurityEvents(t.db, cutoff)).to.equal(0);
  });
});
