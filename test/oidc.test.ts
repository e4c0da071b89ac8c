import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../src/app';
import { anonymizeUser, enrolTotp } from '../src/data/accounts';
import { purgeSecurityEvents } from '../src/data/audit';
import { askAccess, decideAccess } from '../src/data/identities';
import { getSecuritySettings, saveSecuritySettings } from '../src/data/security-settings';
import { loadOidcConfig } from '../src/config';
import { PROVIDER_STARTS_PER_SOURCE } from '../src/web/routes/auth';
import { newTotpSecret, totpCode } from '../src/security/totp';
import { ACCOUNTS, type Agent, csrfOf, freshApp, NOW, signIn, type TestApp, TEST_PASSWORDS } from './helpers';
import { type RunningProvider, startOidcProvider } from './support/oidc-provider';

const PUBLIC_URL = 'https://plan.metropole.example.org';
const CLIENT = { client_id: 'plan-action-rgs', client_secret: 'secret-du-client-de-test-0123456789' };
const VILLEURBANNE_SIRET = '21690266800013';
const SYSTEM = { id: null, name: 'Tests' };

/** The provider's accounts: the demo's people, plus agents the app does not know. */
const PEOPLE = {
  editor: { sub: 'sub-equipe-projet', email: ACCOUNTS.editor, given_name: 'Camille', usual_name: 'Martin' },
  admin: { sub: 'sub-admin', email: ACCOUNTS.admin, given_name: 'Alex', usual_name: 'Admin' },
  viewer: { sub: 'sub-comite', email: ACCOUNTS.viewer, given_name: 'Dominique', usual_name: 'Comité' },
  newcomer: { sub: 'sub-nouvel-agent', email: 'nouvel.agent@mairie-villeurbanne.fr', given_name: 'Sacha', usual_name: 'Nouveau', siret: VILLEURBANNE_SIRET },
  stranger: { sub: 'sub-inconnu', email: 'quelquun@ailleurs.example.org', given_name: 'Quelqu’un', usual_name: 'Ailleurs', siret: '11111111111111' },
  unverified: { sub: 'sub-non-verifie', email: ACCOUNTS.viewer, email_verified: false, given_name: 'Faux', usual_name: 'Comité' },
};

/**
 * Sign-in through a real OpenID Connect provider (oidc-provider on 127.0.0.1, shaped like ProConnect: signed userinfo,
 * acr/amr, PKCE, RP-initiated logout), the whole redirect flow: the app sends the browser to the provider, the
 * provider's answer comes back to the app's callback.
 */
describe('sign-in through an identity provider (ProConnect, OpenID Connect)', function () {
  this.timeout(60_000);
  let provider: RunningProvider;
  let t: TestApp;

  const oidcFor = (issuer: string, env: Record<string, string> = {}) => loadOidcConfig({
    OIDC_ISSUER: issuer, OIDC_CLIENT_ID: CLIENT.client_id, OIDC_CLIENT_SECRET: CLIENT.client_secret, OIDC_USERINFO_SIGNED: 'RS256', ...env,
  }, PUBLIC_URL);

  before(async () => {
    provider = await startOidcProvider({
      clients: [{
        ...CLIENT, redirect_uris: [`${PUBLIC_URL}/connexion/oidc/retour`], post_logout_redirect_uris: [`${PUBLIC_URL}/connexion`], userinfo_signed_response_alg: 'RS256',
      }],
      accounts: Object.values(PEOPLE),
    });
  });
  after(() => provider.close());
  beforeEach(async () => {
    provider.newBrowser();
    t = await freshApp({ oidc: oidcFor(provider.issuer) });
  });
  afterEach(() => t.close());

  /** The browser asks to sign in through the provider: the app's redirect, and the agent holding its session. */
  async function start(agent: Agent = request.agent(t.app)): Promise<{ agent: Agent; location: string }> {
    const page = await agent.get('/connexion').expect(200);
    expect(page.text).to.include('S’identifier avec').and.to.include('ProConnect');
    const res = await agent.post('/connexion/oidc').type('form').send({ _csrf: csrfOf(page.text.slice(page.text.indexOf('action="/connexion/oidc"'))), retour: '/homologations' });
    expect(res.status, res.text.slice(0, 300)).to.equal(303);
    return { agent, location: String(res.headers.location) };
  }
  /** The provider's answer brought back to the app by the browser. */
  const back = (agent: Agent, callback: string) => agent.get(new URL(callback).pathname + new URL(callback).search);
  /** A whole sign-in as `who` with the given acr/amr; the answer of the app's callback. */
  async function signInAs(who: { sub: string }, login: { acr?: string; amr?: string[] } = { amr: ['pwd', 'mfa'] }, agent?: Agent) {
    const started = await start(agent);
    provider.nextLogin({ sub: who.sub, ...login });
    const callback = await provider.authorize(started.location);
    const res = await back(started.agent, callback);
    return { agent: started.agent, res, callback };
  }
  const signedInAs = async (agent: Agent) => {
    const res = await agent.get('/compte');
    return res.status === 200 ? /<dd[^>]*>([^<]*@[^<]*)<\/dd>/.exec(res.text)?.[1] ?? 'connecté' : null;
  };
  const audit = (action: string, like: string) => t.db('audit_log').where({ action }).where('summary', 'like', `%${like}%`);

  it('sends the browser to the provider with state, nonce and PKCE (S256), asking ProConnect’s scopes', async () => {
    const { location } = await start();
    const url = new URL(location);
    expect(url.origin).to.equal(provider.issuer);
    expect(url.searchParams.get('client_id')).to.equal(CLIENT.client_id);
    expect(url.searchParams.get('redirect_uri')).to.equal(`${PUBLIC_URL}/connexion/oidc/retour`);
    expect(url.searchParams.get('scope')).to.equal('openid email given_name usual_name siret');
    expect(url.searchParams.get('code_challenge_method')).to.equal('S256');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(url.searchParams.get(p)).to.match(/^[\w-]{20,}$/);
  });

  it('links an existing account by its verified address on first sign-in, then finds it by the provider’s subject', async () => {
    const first = await signInAs(PEOPLE.editor);
    expect(first.res.status, first.res.text.slice(0, 500)).to.equal(302);
    expect(first.res.headers.location).to.equal('/homologations');
    await first.agent.get('/homologations').expect(200);
    const user = await t.db('users').where({ email: ACCOUNTS.editor }).first();
    const link = await t.db('user_identities').where({ user_id: user.id }).first();
    expect(link).to.include({ issuer: provider.issuer, subject: PEOPLE.editor.sub });
    expect(await audit('identity_link', PEOPLE.editor.sub)).to.have.length(1);
    expect(await audit('login', `par ProConnect, double authentification attestée par le fournisseur (sujet ${PEOPLE.editor.sub}`)).to.have.length(1);
    // the second time, the link is used (not the address): no second link
    provider.newBrowser();
    const again = await signInAs(PEOPLE.editor);
    expect(again.res.status).to.equal(302);
    expect(await t.db('user_identities').where({ user_id: user.id })).to.have.length(1);
    expect(await audit('identity_link', PEOPLE.editor.sub)).to.have.length(1);
    // the account page says so, and the personal data download holds the provider's identifier
    const mine = (await again.agent.get('/compte').expect(200)).text;
    expect(mine).to.include('Connexion par ProConnect');
    const data = JSON.parse((await again.agent.get('/compte/donnees').expect(200)).text);
    expect(data.identityProviders).to.have.length(1);
    expect(data.identityProviders[0]).to.include({ issuer: provider.issuer, subject: PEOPLE.editor.sub });
    // the supervision lists which account uses which method
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const page = (await admin.get('/admin/supervision').expect(200)).text;
    const active = Number((await t.db('users').where({ active: true }).count({ n: '*' }).first())!.n);
    expect(page).to.include(`Comptes actifs : ${active - 1} par mot de passe seulement, 1 par mot de passe ou par ProConnect, 0 par ProConnect seulement`);
    const row = /<tr data-user="(\d+)">.*?<\/tr>/s.exec(page.slice(page.indexOf('id="table-methodes"')));
    expect(Number(row?.[1])).to.equal(Number(user.id));
    expect(row?.[0]).to.include('Mot de passe et ProConnect').and.to.include(provider.issuer);
  });

  it('ends a sign-in started on one app process on another (several processes over one database)', async () => {
    const other = createApp({ db: t.openAnother(), config: t.config, now: () => NOW, passwords: TEST_PASSWORDS });
    const started = await start();
    provider.nextLogin({ sub: PEOPLE.editor.sub, amr: ['mfa'] });
    const callback = new URL(await provider.authorize(started.location));
    // the same browser (its cookie), the answer handled by the other process
    const cookie = (await started.agent.get('/connexion')).request.cookies;
    const res = await request(other).get(callback.pathname + callback.search).set('Cookie', cookie);
    expect(res.status, res.text.slice(0, 300)).to.equal(302);
    expect(res.headers.location).to.equal('/homologations');
  });

  it('refuses a forged state: nothing is exchanged, nobody signed in', async () => {
    const started = await start();
    provider.nextLogin({ sub: PEOPLE.editor.sub, amr: ['mfa'] });
    const callback = new URL(await provider.authorize(started.location));
    callback.searchParams.set('state', 'etat-forge-par-un-attaquant-0123456789');
    const res = await back(started.agent, callback.href);
    expect(res.status).to.equal(401);
    expect(res.text).to.include('n’a pas passé les contrôles de sécurité');
    expect(await signedInAs(started.agent)).to.equal(null);
    expect(await t.db('user_identities')).to.have.length(0);
    expect(await audit('login_failed', 'réponse du fournisseur refusée')).to.have.length(1);
  });

  it('refuses a replayed answer, and a replayed code under a fresh state', async () => {
    const { agent, res, callback } = await signInAs(PEOPLE.editor);
    expect(res.status).to.equal(302);
    // the same answer again (another tab, a replay): the app no longer awaits it
    const replay = await back(request.agent(t.app), callback);
    expect(replay.status).to.equal(400);
    expect(replay.text).to.include('cette réponse n’était pas attendue');
    // the code again, with the state of a new attempt: the provider refuses a code used once (and the PKCE verifier differs)
    const other = request.agent(t.app);
    const fresh = new URL((await start(other)).location);
    const forged = new URL(callback);
    forged.searchParams.set('state', fresh.searchParams.get('state')!);
    const res2 = await back(other, forged.href);
    expect(res2.status).to.equal(401);
    expect(await signedInAs(other)).to.equal(null);
    expect(await signedInAs(agent)).to.not.equal(null);
  });

  it('refuses an ID token made for another client (wrong audience)', async () => {
    provider.tamperNextIdToken((claims) => ({ ...claims, aud: 'un-autre-service' }));
    const { agent, res } = await signInAs(PEOPLE.editor);
    expect(res.status).to.equal(401);
    expect(await signedInAs(agent)).to.equal(null);
    expect(await audit('login_failed', 'réponse du fournisseur refusée')).to.have.length(1);
  });

  it('refuses an expired ID token, and tolerates a clock a few seconds off', async () => {
    const now = Math.floor(Date.now() / 1000);
    provider.tamperNextIdToken((claims) => ({ ...claims, iat: now - 3 * 3600, exp: now - 2 * 3600 }));
    const expired = await signInAs(PEOPLE.editor);
    expect(expired.res.status).to.equal(401);
    expect(await signedInAs(expired.agent)).to.equal(null);
    // issued "in the future" by a provider whose clock runs 20 s ahead: within the minute tolerated
    provider.newBrowser();
    provider.tamperNextIdToken((claims) => ({ ...claims, iat: now + 20 }));
    const skewed = await signInAs(PEOPLE.editor);
    expect(skewed.res.status, skewed.res.text.slice(0, 300)).to.equal(302);
  });

  it('refuses an address the provider does not vouch for: no link to the account that holds it', async () => {
    const { agent, res } = await signInAs(PEOPLE.unverified);
    expect(res.status).to.equal(403);
    expect(res.text).to.include('n’atteste pas que votre adresse électronique est vérifiée');
    expect(await signedInAs(agent)).to.equal(null);
    expect(await t.db('user_identities')).to.have.length(0);
    expect(await audit('login_failed', `sujet ${PEOPLE.unverified.sub}`)).to.have.length(1);
  });

  it('never links an administrator’s account, nor lets in an account made administrator after its link', async () => {
    const { agent, res } = await signInAs(PEOPLE.admin);
    expect(res.status).to.equal(403);
    expect(res.text).to.include('Un compte d’administrateur ne se lie pas');
    expect(await signedInAs(agent)).to.equal(null);
    expect(await t.db('user_identities')).to.have.length(0);
    provider.newBrowser();
    expect((await signInAs(PEOPLE.editor)).res.status).to.equal(302);
    await t.db('users').where({ email: ACCOUNTS.editor }).update({ role: 'admin' });
    provider.newBrowser();
    const promoted = await signInAs(PEOPLE.editor);
    expect(promoted.res.status).to.equal(403);
    expect(await signedInAs(promoted.agent)).to.equal(null);
  });

  it('refuses an unknown agent with a clear page when no commune takes requests', async () => {
    const { res } = await signInAs(PEOPLE.stranger);
    expect(res.status).to.equal(403);
    expect(res.text).to.include(`Aucun compte n’est ouvert pour ${PEOPLE.stranger.email}`);
    expect(await t.db('users').where({ email: PEOPLE.stranger.email })).to.have.length(0);
    expect(await t.db('access_requests')).to.have.length(0);
  });

  it('takes an unknown agent’s request for the commune matched by SIRET; its administrator accepts; the agent then signs in', async () => {
    await t.db('communes').where({ name: 'Villeurbanne' }).update({ siret: VILLEURBANNE_SIRET, access_requests: true });
    const asked = await signInAs(PEOPLE.newcomer);
    expect(asked.res.status).to.equal(202);
    expect(asked.res.text).to.include('Votre demande d’accès est transmise à l’administrateur de Villeurbanne');
    expect(await signedInAs(asked.agent)).to.equal(null);
    // asking again changes nothing
    provider.newBrowser();
    expect((await signInAs(PEOPLE.newcomer)).res.status).to.equal(202);
    expect(await t.db('access_requests')).to.have.length(1);
    // the commune's administrator sees it and accepts
    const dsi = await signIn(t.app, ACCOUNTS.communeAdmin);
    const page = await dsi.get('/ma-commune/utilisateurs').expect(200);
    expect(page.text).to.include(PEOPLE.newcomer.email);
    const id = Number((await t.db('access_requests').first()).id);
    const form = page.text.slice(page.text.indexOf(`/ma-commune/demandes/${id}/accepter`));
    await dsi.post(`/ma-commune/demandes/${id}/accepter`).type('form').send({ _csrf: csrfOf(form) }).expect(303);
    const created = await t.db('users').where({ email: PEOPLE.newcomer.email }).first();
    expect(created).to.include({ role: 'commune', name: 'Sacha Nouveau' });
    expect(Number(created.commune_id)).to.equal(Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id));
    // deciding twice is refused
    const again = await dsi.get('/ma-commune/utilisateurs');
    expect((await dsi.post(`/ma-commune/demandes/${id}/refuser`).type('form').send({ _csrf: csrfOf(again.text) })).status).to.equal(409);
    // the agent signs in, as a commune agent
    provider.newBrowser();
    const entered = await signInAs(PEOPLE.newcomer);
    expect(entered.res.status).to.equal(302);
    await entered.agent.get('/homologations').expect(200);
  });

  it('rolls an acceptance back when an account with the address was created meanwhile', async () => {
    const villeurbanne = Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id);
    const dsi = await t.db('users').where({ email: ACCOUNTS.communeAdmin }).first();
    await askAccess(t.db, { communeId: villeurbanne, issuer: provider.issuer, subject: 'sub-double', email: ACCOUNTS.viewer, name: 'Double', siret: null }, NOW);
    const id = Number((await t.db('access_requests').first()).id);
    const users = Number((await t.db('users').count({ n: '*' }).first())!.n);
    expect(await decideAccess(t.db, { requestId: id, communeId: villeurbanne, accept: true, role: 'commune' }, { id: Number(dsi.id), name: 'DSI', email: ACCOUNTS.communeAdmin }, NOW))
      .to.deep.equal({ ok: false, reason: 'duplicate' });
    expect((await t.db('access_requests').first()).status).to.equal('pending');
    expect(Number((await t.db('users').count({ n: '*' }).first())!.n)).to.equal(users);
    expect(await t.db('user_identities')).to.have.length(0);
  });

  it('asks the local code when the provider vouches for no second factor and the account has one', async () => {
    const user = await t.db('users').where({ email: ACCOUNTS.viewer }).first();
    const secret = newTotpSecret();
    await enrolTotp(t.db, Number(user.id), secret, 0, SYSTEM, NOW);
    const { agent, res } = await signInAs(PEOPLE.viewer, { acr: 'eidas1', amr: ['pwd'] });
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/connexion/code');
    expect(await signedInAs(agent)).to.equal(null);
    const page = await agent.get('/connexion/code').expect(200);
    const done = await agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(page.text), code: totpCode(secret, NOW) });
    expect(done.status).to.equal(302);
    expect(await signedInAs(agent)).to.not.equal(null);
    expect(await audit('login', 'par ProConnect (double authentification)')).to.have.length(1);
  });

  it('takes the provider’s second factor for the local one: nothing to enrol for a role that requires one', async () => {
    const settings = await getSecuritySettings(t.db);
    await saveSecuritySettings(t.db, { ...settings, totpRoles: ['admin', 'editor'] }, SYSTEM, NOW);
    const vouched = await signInAs(PEOPLE.editor, { acr: 'eidas2', amr: ['pwd', 'mfa'] });
    expect(vouched.res.headers.location).to.equal('/homologations');
    await vouched.agent.get('/homologations').expect(200);
    // without it, the role's rule applies as after a password: enrol the local second factor first
    provider.newBrowser();
    const weak = await signInAs(PEOPLE.editor, { acr: 'eidas1', amr: ['pwd'] });
    expect(weak.res.headers.location).to.equal('/compte/double-authentification');
  });

  it('refuses a role that must bring its second factor from the provider without it, and accepts it with a multi-factor acr', async () => {
    const settings = await getSecuritySettings(t.db);
    await saveSecuritySettings(t.db, { ...settings, providerMfaRoles: ['editor'] }, SYSTEM, NOW);
    const weak = await signInAs(PEOPLE.editor, { acr: 'eidas1', amr: ['pwd'] });
    expect(weak.res.status).to.equal(403);
    expect(weak.res.text).to.include('Votre rôle exige une double authentification attestée par ProConnect');
    expect(await signedInAs(weak.agent)).to.equal(null);
    provider.newBrowser();
    const strong = await signInAs(PEOPLE.editor, { acr: 'eidas2' });
    expect(strong.res.status).to.equal(302);
    expect(await signedInAs(strong.agent)).to.not.equal(null);
  });

  it('signs out of both: the app’s session ends and the browser is sent to the provider’s end-session endpoint', async () => {
    const { agent } = await signInAs(PEOPLE.editor);
    const page = await agent.get('/homologations').expect(200);
    const out = await agent.post('/deconnexion').type('form').send({ _csrf: csrfOf(page.text) });
    expect(out.status).to.equal(302);
    const endSession = new URL(String(out.headers.location));
    expect(endSession.origin).to.equal(provider.issuer);
    expect(endSession.searchParams.get('id_token_hint')).to.match(/^ey/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).to.equal(`${PUBLIC_URL}/connexion`);
    expect(await signedInAs(agent)).to.equal(null);
    const before = provider.endedSessions;
    expect(await provider.endSession(endSession.href)).to.match(new RegExp(`^${PUBLIC_URL}/connexion`));
    expect(provider.endedSessions).to.equal(before + 1);
    // a password sign-in signs out as before
    const local = await signIn(t.app, ACCOUNTS.viewer);
    const home = await local.get('/homologations').expect(200);
    const localOut = await local.post('/deconnexion').type('form').send({ _csrf: csrfOf(home.text) });
    expect(localOut.headers.location).to.equal('/connexion');
  });

  it('forgets the provider’s subject with the account, and decided requests after the retention period', async () => {
    const { res } = await signInAs(PEOPLE.editor);
    expect(res.status).to.equal(302);
    const user = await t.db('users').where({ email: ACCOUNTS.editor }).first();
    expect(await anonymizeUser(t.db, Number(user.id), SYSTEM, NOW)).to.equal(true);
    expect(await t.db('user_identities')).to.have.length(0);
    // a refused request stays until the security events of its time are purged; a waiting one stays
    const villeurbanne = Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id);
    const dsi = await t.db('users').where({ email: ACCOUNTS.communeAdmin }).first();
    for (const who of ['refusee', 'en-attente']) {
      await askAccess(t.db, { communeId: villeurbanne, issuer: provider.issuer, subject: who, email: `${who}@mairie.example.org`, name: who, siret: null }, NOW);
    }
    const refused = Number((await t.db('access_requests').where({ subject: 'refusee' }).first()).id);
    expect(await decideAccess(t.db, { requestId: refused, communeId: villeurbanne, accept: false, role: 'commune' }, { id: Number(dsi.id), name: 'DSI', email: ACCOUNTS.communeAdmin }, NOW)).to.deep.equal({ ok: true, userId: null });
    await purgeSecurityEvents(t.db, new Date(NOW.getTime() - 1000));
    expect(await t.db('access_requests').orderBy('id').pluck('subject')).to.deep.equal(['refusee', 'en-attente']);
    await purgeSecurityEvents(t.db, new Date(NOW.getTime() + 1000));
    expect(await t.db('access_requests').pluck('subject')).to.deep.equal(['en-attente']);
  });

  it(`refuses more than ${PROVIDER_STARTS_PER_SOURCE} sign-ins started from one network source in a quarter of an hour`, async () => {
    const agent = request.agent(t.app);
    const send = async () => {
      const page = await agent.get('/connexion').expect(200);
      return agent.post('/connexion/oidc').type('form').send({ _csrf: csrfOf(page.text), retour: '/homologations' });
    };
    for (let i = 0; i < PROVIDER_STARTS_PER_SOURCE; i++) expect((await send()).status).to.equal(303);
    const refused = await send();
    expect(refused.status).to.equal(429);
    expect(refused.text).to.include('Trop de connexions par ProConnect commencées depuis votre adresse réseau');
  });

  it('says plainly when the provider is down, and the local sign-in still works', async () => {
    const down = await freshApp({ oidc: oidcFor('http://127.0.0.1:9') });
    try {
      const agent = request.agent(down.app);
      const page = await agent.get('/connexion').expect(200);
      const res = await agent.post('/connexion/oidc').type('form').send({ _csrf: csrfOf(page.text), retour: '/homologations' });
      expect(res.status).to.equal(503);
      expect(res.text).to.include('ProConnect ne répond pas pour le moment');
      expect(res.text).to.include('name="password"');
      const local = await signIn(down.app, ACCOUNTS.editor);
      await local.get('/homologations').expect(200);
    } finally {
      await down.close();
    }
  });

  it('offers no provider sign-in when none is configured', async () => {
    const plain = await freshApp();
    try {
      const page = await request(plain.app).get('/connexion').expect(200);
      expect(page.text).to.not.include('/connexion/oidc');
      // the provider's addresses do not exist: for a visitor, like any address, the way to the sign-in page
      const res = await request(plain.app).get('/connexion/oidc/retour?code=x&state=y');
      expect(res.status).to.equal(302);
      expect(res.headers.location).to.match(/^\/connexion\?/);
    } finally {
      await plain.close();
    }
  });
});
