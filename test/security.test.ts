import { expect } from 'chai';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { totpCode } from '../src/security/totp';
import { smtpMailer } from '../src/mail/transport';
import { deliverDue } from '../src/mail/worker';
import { purgeExpiredEvents } from '../src/services/scheduler';
import { ACCOUNTS, type Agent, csrfOf, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';
import { startSmtp } from './smtp';

const REFUSED = 'Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué.';

/** A sign-in attempt from a fresh browser; returns the response of the POST. */
async function attempt(t: TestApp, email: string, password: string) {
  const agent = request.agent(t.app);
  const page = await agent.get('/connexion');
  const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email, password });
  return { agent, res };
}

const userId = async (t: TestApp, email: string) => Number((await t.db('users').where({ email }).first()).id);

describe('account security', function () {
  this.timeout(30_000);
  let t: TestApp;
  let clock: Date;
  beforeEach(async () => {
    clock = NOW;
    t = await freshApp({}, () => clock);
  });
  afterEach(async () => t.close());

  it('freezes an account after 5 consecutive failures, whatever the password then, tells the admins, and thaws after the delay', async () => {
    for (let i = 0; i < 4; i++) expect((await attempt(t, ACCOUNTS.viewer, 'mauvais mot de passe')).res.status).to.equal(401);
    expect(await t.db('users').where({ email: ACCOUNTS.viewer }).first().then((u) => u.frozen_until)).to.equal(null);
    const fifth = await attempt(t, ACCOUNTS.viewer, 'mauvais mot de passe');
    expect(fifth.res.status).to.equal(401);
    const frozen = await t.db('users').where({ email: ACCOUNTS.viewer }).first();
    expect(frozen.frozen_until).to.equal(new Date(NOW.getTime() + 15 * 60_000).toISOString());
    // the right password is refused too, with the very message an unknown address gets
    const right = await attempt(t, ACCOUNTS.viewer, DEMO_PASSWORD);
    const unknown = await attempt(t, 'personne@metropole.example.org', DEMO_PASSWORD);
    expect(right.res.status).to.equal(401);
    expect(textOf(right.res.text)).to.contain(REFUSED);
    expect(textOf(unknown.res.text)).to.contain(REFUSED);
    // audited, and every active admin gets an alert e-mail through the outbox
    expect(await t.db('audit_log').where({ action: 'freeze', entity_id: frozen.id }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(1);
    const alerts = await t.db('outbox').where({ kind: 'security' }).select('to_address', 'subject');
    expect(alerts).to.deep.equal([{ to_address: ACCOUNTS.admin, subject: `Sécurité : compte ${ACCOUNTS.viewer} gelé` }]);
    // after the 15 minutes, the password works again and the counter restarts
    clock = new Date(NOW.getTime() + 16 * 60_000);
    expect((await attempt(t, ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
    expect(await t.db('users').where({ email: ACCOUNTS.viewer }).first().then((u) => u.failed_logins)).to.equal(0);
  });

  it('keeps an account frozen until an admin unfreezes it when the delay is 0, and audits the unfreeze', async () => {
    await t.db('security_settings').update({ lockout_minutes: 0, lockout_threshold: 3 });
    for (let i = 0; i < 3; i++) await attempt(t, ACCOUNTS.viewer, 'mauvais mot de passe');
    clock = new Date(NOW.getTime() + 30 * 86_400_000);
    expect((await attempt(t, ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(401);
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const id = await userId(t, ACCOUNTS.viewer);
    const form = await admin.get(`/admin/utilisateurs/${id}/modifier`).expect(200);
    expect(textOf(form.text)).to.contain('gelé jusqu\'au déblocage par un administrateur');
    await admin.post(`/admin/utilisateurs/${id}/debloquer`).type('form').send({ _csrf: csrfOf(form.text) }).expect(303);
    expect((await attempt(t, ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
    expect(await t.db('audit_log').where({ action: 'unfreeze', entity_id: id }).first()).to.exist;
  });

  it('ends a session after 30 idle minutes, counted on the server', async () => {
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    clock = new Date(NOW.getTime() + 29 * 60_000);
    await viewer.get('/homologations/1').expect(200);
    // activity moves the deadline: 29 more minutes are still fine
    clock = new Date(clock.getTime() + 29 * 60_000);
    await viewer.get('/homologations/1').expect(200);
    clock = new Date(clock.getTime() + 31 * 60_000);
    const expired = await viewer.get('/homologations/1/tableau-de-bord');
    expect(expired.status).to.equal(302);
    expect(expired.headers.location).to.equal('/connexion?expiree=1&retour=%2Fhomologations%2F1%2Ftableau-de-bord');
    expect(textOf((await viewer.get(expired.headers.location!)).text)).to.contain("fermée après une période d’inactivité");
    await viewer.get('/homologations/1').expect(302);
    expect(await t.db('audit_log').where({ action: 'session_expired' }).first()).to.exist;
  });

  it('keeps one session per user: a new sign-in ends the previous one, with a new session id', async () => {
    const first = await signIn(t.app, ACCOUNTS.editor);
    await first.get('/homologations/1').expect(200);
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const sessionCookie = (res: { headers: Record<string, unknown> }) =>
      ((res.headers['set-cookie'] as string[] | undefined) ?? []).find((c) => c.startsWith('plan.sid='));
    // no session before sign-in (nothing to fix for an attacker), a new one at sign-in
    expect(sessionCookie(page)).to.equal(undefined);
    const login = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.editor, password: DEMO_PASSWORD }).expect(302);
    const after = sessionCookie(login);
    expect(after).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
    await agent.get('/homologations/1').expect(200);
    const old = await first.get('/homologations/1');
    expect(old.status).to.equal(302);
    expect(old.headers.location).to.match(/^\/connexion/);
  });

  it('refuses the last passwords again (history), a common one, and the current one; accepts a new one', async () => {
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    const change = (current: string, password: string) => postForm(viewer, '/compte/mot-de-passe', '/compte/mot-de-passe', { current, password, confirm: password });
    const same = await change(DEMO_PASSWORD, DEMO_PASSWORD);
    expect(same.status).to.equal(422);
    expect(same.text).to.contain('Choisissez un mot de passe différent de vos 5 précédents.');
    const common = await change(DEMO_PASSWORD, 'Motdepasse2026!');
    expect(common.status).to.equal(422);
    expect(common.text).to.contain('trop courant');
    const wrongCurrent = await change('pas le bon', 'un tout autre secret de passe');
    expect(wrongCurrent.status).to.equal(422);
    expect(wrongCurrent.text).to.contain('Le mot de passe actuel est incorrect.');
    const first = await change(DEMO_PASSWORD, 'premier nouveau secret de passe');
    expect(first.status, textOf(first.text).slice(0, 600)).to.equal(200);
    expect((await change('premier nouveau secret de passe', 'second nouveau secret de passe')).status).to.equal(200);
    // back to the demo password: it is among the last five
    const back = await change('second nouveau secret de passe', DEMO_PASSWORD);
    expect(back.status).to.equal(422);
    expect(await t.db('audit_log').where({ action: 'password_change', entity_id: await userId(t, ACCOUNTS.viewer) }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(2);
    // with a history of 1, the previous password is still refused, the one before it accepted again
    await t.db('security_settings').update({ password_history: 1 });
    expect((await change('second nouveau secret de passe', 'premier nouveau secret de passe')).status).to.equal(422);
    expect((await change('second nouveau secret de passe', DEMO_PASSWORD)).status).to.equal(200);
  });

  it('forces a password change once it has expired under the policy', async () => {
    await t.db('security_settings').update({ password_max_age_days: 90 });
    await t.db('users').where({ email: ACCOUNTS.viewer }).update({ password_changed_at: new Date(NOW.getTime() - 91 * 86_400_000).toISOString() });
    const { agent, res } = await attempt(t, ACCOUNTS.viewer, DEMO_PASSWORD);
    expect(res.headers.location).to.equal('/compte/mot-de-passe?expire=1');
    expect((await agent.get('/homologations/1')).headers.location).to.equal('/compte/mot-de-passe');
  });

  it('enrols a second factor with a QR code, then asks for a code at sign-in, never accepting one twice; recovery codes work once', async () => {
    // required for editors: the first sign-in leads to enrolment and nowhere else
    await t.db('security_settings').update({ totp_roles: 'admin,editor' });
    const { agent, res } = await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD);
    expect(res.headers.location).to.equal('/compte/double-authentification');
    expect((await agent.get('/homologations/1')).headers.location).to.equal('/compte/double-authentification');
    const page = await agent.get('/compte/double-authentification').expect(200);
    expect(page.text).to.contain('<svg').and.contain('Clé à saisir à la main');
    const secret = /class="app-secret">([A-Z2-7 ]+)</.exec(page.text)![1]!.replace(/ /g, '');
    const wrong = await agent.post('/compte/double-authentification').type('form').send({ _csrf: csrfOf(page.text), code: '000000' });
    expect(wrong.status).to.equal(422);
    const ok = await agent.post('/compte/double-authentification').type('form').send({ _csrf: csrfOf(page.text), code: totpCode(secret, clock) }).expect(200);
    const codes = [...ok.text.matchAll(/<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<\/code>/g)].map((m) => m[1]!);
    expect(codes).to.have.length(10);
    await agent.get('/homologations/1').expect(200);
    expect(await t.db('audit_log').where({ action: 'totp_enrolled' }).first()).to.exist;

    // next sign-in: password, then code
    clock = new Date(NOW.getTime() + 60_000);
    const next = await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD);
    expect(next.res.headers.location).to.equal('/connexion/code');
    await next.agent.get('/homologations/1').expect(302);
    const codePage = await next.agent.get('/connexion/code').expect(200);
    const code = totpCode(secret, clock);
    await next.agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(codePage.text), code }).expect(302);
    await next.agent.get('/homologations/1').expect(200);
    // the same code a second time (replay, same 30 s) is refused
    const replay = await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD);
    const replayPage = await replay.agent.get('/connexion/code');
    const refused = await replay.agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(replayPage.text), code });
    expect(refused.status).to.equal(401);
    expect(refused.text).to.contain('Code incorrect ou déjà utilisé');
    // a recovery code signs in once
    const recovered = await replay.agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(refused.text), code: codes[0]!.toUpperCase() });
    expect(recovered.status).to.equal(302);
    const again = await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD);
    const againPage = await again.agent.get('/connexion/code');
    expect((await again.agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(againPage.text), code: codes[0]! })).status).to.equal(401);
    const login = await t.db('audit_log').where({ action: 'login' }).orderBy('id', 'desc').first();
    expect(login.summary).to.equal('Connexion (code de secours ; il en reste 9)');

    // an admin resets the second factor (lost phone): audited, the editor enrols again at next sign-in
    await t.db('security_settings').update({ totp_roles: 'editor' });
    const admin2 = await signIn(t.app, ACCOUNTS.admin);
    const id = await userId(t, ACCOUNTS.editor);
    const form = await admin2.get(`/admin/utilisateurs/${id}/modifier`);
    await admin2.post(`/admin/utilisateurs/${id}/double-authentification`).type('form').send({ _csrf: csrfOf(form.text) }).expect(303);
    const reset = await t.db('audit_log').where({ action: 'totp_reset', entity_id: id }).first();
    expect(reset.actor).to.contain('Camille Martin');
    expect((await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD)).res.headers.location).to.equal('/compte/double-authentification');
  });

  it('lets a commune administrator manage the agents of their commune only, never above the commune role', async () => {
    const dsi = await signIn(t.app, ACCOUNTS.communeAdmin);
    const list = textOf((await dsi.get('/ma-commune/utilisateurs').expect(200)).text);
    expect(list).to.contain('Nadia Roux').and.not.contain('Camille Martin');
    // creates an agent: the role is always commune, whatever is posted, and the commune theirs
    const bron = Number((await t.db('communes').where({ name: 'Bron' }).first()).id);
    const created = await postForm(dsi, '/ma-commune/utilisateurs', '/ma-commune/utilisateurs', { name: 'Léo Martin', email: 'leo.martin@villeurbanne.example.org', role: 'admin', communeId: String(bron) });
    expect(created.status).to.equal(201);
    expect(created.text).to.match(/\/mot-de-passe\/[\w-]+/);
    const leo = await t.db('users').where({ email: 'leo.martin@villeurbanne.example.org' }).first();
    const villeurbanne = Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id);
    expect({ role: leo.role, commune: Number(leo.commune_id) }).to.deep.equal({ role: 'commune', commune: villeurbanne });
    // suspends and reactivates their agent
    const nadia = await userId(t, ACCOUNTS.commune);
    expect((await postForm(dsi, '/ma-commune/utilisateurs', `/ma-commune/utilisateurs/${nadia}/suspendre`, {})).status).to.equal(303);
    expect((await attempt(t, ACCOUNTS.commune, DEMO_PASSWORD)).res.status).to.equal(401);
    expect((await postForm(dsi, '/ma-commune/utilisateurs', `/ma-commune/utilisateurs/${nadia}/reactiver`, {})).status).to.equal(303);
    const agent = await signIn(t.app, ACCOUNTS.commune);
    await agent.get('/ma-commune/utilisateurs').expect(403);
    // a suspension by the Métropole is not the commune's to lift
    const admin = await signIn(t.app, ACCOUNTS.admin);
    expect((await postForm(admin, '/admin/supervision', `/admin/supervision/utilisateurs/${nadia}/suspendre`, {})).status).to.equal(303);
    const lift = await postForm(dsi, '/ma-commune/utilisateurs', `/ma-commune/utilisateurs/${nadia}/reactiver`, {});
    expect(lift.status).to.equal(403);
    expect(textOf(lift.text)).to.contain("suspendu par un administrateur de l'outil");
    // never a Métropole account, another commune's, or themself
    await t.db('users').insert({ email: 'agent@bron.example.org', name: 'Agent Bron', role: 'commune', commune_id: bron, password_hash: '!', active: true, created_at: NOW.toISOString() });
    const bronAgent = await userId(t, 'agent@bron.example.org');
    for (const target of [await userId(t, ACCOUNTS.admin), bronAgent, await userId(t, ACCOUNTS.communeAdmin)]) {
      expect((await postForm(dsi, '/ma-commune/utilisateurs', `/ma-commune/utilisateurs/${target}/suspendre`, {})).status, `cible ${target}`).to.equal(403);
      await dsi.get(`/ma-commune/utilisateurs/${target}/supprimer`).expect(403);
    }
    expect(textOf((await dsi.get('/ma-commune/utilisateurs')).text)).not.to.contain('Agent Bron');
    // and no administration of the Métropole
    await dsi.get('/admin/utilisateurs').expect(403);
  });

  it('anonymizes a removed user while the history of what they did stays readable', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const id = await userId(t, ACCOUNTS.editor);
    const page = await admin.get(`/admin/utilisateurs/${id}/supprimer`).expect(200);
    await admin.post(`/admin/utilisateurs/${id}/supprimer`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    const row = await t.db('users').where({ id }).first();
    expect({ name: row.name, email: row.email, active: Boolean(row.active) }).to.deep.equal({ name: `Utilisateur supprimé n°${id}`, email: `supprime-${id}@invalid`, active: false });
    // nothing personal is left in the audit trail, the notes or the meetings
    const everything = JSON.stringify(await Promise.all(['audit_log', 'progress_notes', 'meeting_attendees', 'meetings', 'team_members', 'users'].map((table) => t.db(table).select())));
    expect(everything).not.to.contain('Julien Petit').and.not.to.contain(ACCOUNTS.editor);
    // the fiche's history still says who: the removed user, by number
    const fiche = await t.db('fiches').where({ number: 3 }).first();
    expect(textOf((await admin.get(`/homologations/1/fiches/${fiche.id}`).expect(200)).text)).to.contain(`Utilisateur supprimé n°${id}`);
    expect(textOf((await admin.get('/admin/journal').expect(200)).text)).to.contain(`Utilisateur supprimé n°${id}`);
    expect((await attempt(t, ACCOUNTS.editor, DEMO_PASSWORD)).res.status).to.equal(401);
    // an admin cannot remove themself
    const self = await admin.get(`/admin/utilisateurs/${await userId(t, ACCOUNTS.admin)}/supprimer`);
    expect(textOf(self.text)).to.contain('Vous ne pouvez pas supprimer votre propre compte.');
  });

  it('lets users download the personal data the app holds about them, and nobody else’s', async () => {
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const res = await editor.get('/compte/donnees').expect(200);
    expect(res.headers['content-disposition']).to.match(/^attachment; filename="mes-donnees-plan-rgs-2026-03-16\.json"$/);
    const data = JSON.parse(res.text);
    expect(data.account.email).to.equal(ACCOUNTS.editor);
    expect(data.teams).to.include('SNU 1');
    expect(data.progressNotes.length).to.be.greaterThan(3);
    expect(data.auditTrail.some((a: { action: string }) => a.action === 'login')).to.equal(true);
    expect(res.text).not.to.contain('$argon2').and.not.to.contain(ACCOUNTS.viewer);
  });

  it('sends a forgotten-password link by e-mail, single-use and expiring, with the same answer for unknown addresses', async () => {
    const smtp = await startSmtp();
    await t.close();
    t = await freshApp({ mail: { smtpUrl: smtp.url, from: 'Plan <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' } }, () => clock);
    try {
      const anon = request.agent(t.app);
      const ask = async (email: string) => {
        const page = await anon.get('/mot-de-passe-oublie');
        return anon.post('/mot-de-passe-oublie').type('form').send({ _csrf: csrfOf(page.text), email });
      };
      const known = await ask(ACCOUNTS.viewer);
      const unknown = await ask('personne@metropole.example.org');
      expect(textOf(known.text)).to.contain('Si un compte actif existe');
      expect(textOf(unknown.text).replace('personne@metropole.example.org', 'X')).to.equal(textOf(known.text).replace(ACCOUNTS.viewer, 'X'));
      // the link is stored and queued once the answer is sent (so that its timing tells nothing): wait for it
      for (let i = 0; i < 200 && !(await t.db('outbox').where({ kind: 'account' }).first()); i++) await new Promise((r) => setTimeout(r, 25));
      const mailer = smtpMailer(smtp.url);
      await deliverDue(t.db, mailer, t.config.mail, () => clock);
      mailer.close();
      expect(smtp.received.map((m) => m.envelopeTo[0])).to.deep.equal([ACCOUNTS.viewer]);
      const link = /https:\/\/plan\.metropole\.example\.org(\/mot-de-passe\/[\w-]+)/.exec(smtp.received[0]!.text)![1]!;
      // once sent, the message's copy in the outbox no longer holds the link
      expect((await t.db('outbox').where({ kind: 'account' }).first()).text).not.to.contain(link);
      // expired after an hour
      clock = new Date(NOW.getTime() + 61 * 60_000);
      await anon.get(link).expect(404);
      clock = NOW;
      const page = await anon.get(link).expect(200);
      await anon.post(link).type('form').send({ _csrf: csrfOf(page.text), password: 'une toute nouvelle phrase', confirm: 'une toute nouvelle phrase' }).expect(303);
      await anon.get(link).expect(404);
      await signIn(t.app, ACCOUNTS.viewer, 'une toute nouvelle phrase');
    } finally {
      await smtp.close();
    }
  });

  it('purges security events past the retention the admin sets, never the history of the plan', async () => {
    await t.db('security_settings').update({ audit_retention_months: 6 });
    const old = new Date(NOW.getTime() - 200 * 86_400_000).toISOString();
    await t.db('audit_log').insert([
      { at: old, actor: 'X', action: 'login_failed', entity_type: 'session', summary: 'ancien échec' },
      { at: old, actor: 'X', action: 'update', entity_type: 'fiche', entity_id: 1, summary: 'ancienne modification' },
      { at: NOW.toISOString(), actor: 'X', action: 'login', entity_type: 'session', summary: 'connexion récente' },
    ]);
    expect(await purgeExpiredEvents({ db: t.db, now: () => NOW })).to.equal(1);
    const left = (await t.db('audit_log').whereIn('summary', ['ancien échec', 'ancienne modification', 'connexion récente']).select('summary')).map((r) => r.summary).sort();
    expect(left).to.deep.equal(['ancienne modification', 'connexion récente']);
  });

  it('e-mails a new account its one-time link through the outbox when SMTP is set, showing the admin nothing secret', async () => {
    await t.close();
    t = await freshApp({ mail: { smtpUrl: 'smtp://127.0.0.1:9', from: 'Plan <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' } }, () => clock);
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', { name: 'Paul Roche', email: 'paul.roche@metropole.example.org', role: 'viewer', communeId: '', teamId: '', active: 'on' });
    expect(res.status).to.equal(201);
    expect(textOf(res.text)).to.contain('Un message contenant le lien de création du mot de passe (valable 72 heures) a été envoyé à paul.roche@metropole.example.org');
    expect(res.text).not.to.match(/\/mot-de-passe\/[\w-]{20,}/);
    const message = await t.db('outbox').where({ kind: 'account', to_address: 'paul.roche@metropole.example.org' }).first();
    expect(message.subject).to.equal("Votre compte sur l'outil de suivi du plan d'action RGS");
    expect(message.text).to.match(/https:\/\/plan\.metropole\.example\.org\/mot-de-passe\/[\w-]{40,}/);
  });

  it('audits a change of role as a security event of its own', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const id = await userId(t, ACCOUNTS.viewer);
    const res = await postForm(admin, `/admin/utilisateurs/${id}/modifier`, `/admin/utilisateurs/${id}`, { name: 'Sophie Bernard', email: ACCOUNTS.viewer, role: 'editor', communeId: '', teamId: '', active: 'on' });
    expect(res.status).to.equal(303);
    const event = await t.db('audit_log').where({ action: 'role_change', entity_id: id }).first();
    expect(event.summary).to.equal(`${ACCOUNTS.viewer} : viewer → editor`);
  });
});

// keep the Agent type referenced for editors reading this file
export type { Agent };
