import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { expect } from 'chai';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { ConfigError, loadConfig } from '../src/config';
import { ACCOUNTS, csrfOf, ENGINE, ficheIdByNumber, freshApp, signIn, type TestApp, textOf } from './helpers';

// In-process resilience: malformed requests, production over plain HTTP, the required configuration, no session
// before sign-in. (A real server process whose session store fails or whose DATA_DIR is read-only:
// test/slow/resilience-server.test.ts.)

const SECRET = 'k3J9vQ2mX7pL4sT8wZ1nB6cR5yH0aD3fG9uE2iO7qW4eR1tY';

// ---------------------------------------------------------------------------------------------
// 2. Malformed requests: a 4xx with the French page, nothing logged as a crash.

describe(`resilience: malformed requests (${ENGINE})`, () => {
  let t: TestApp;
  let logged: unknown[][];
  const original = console.error;
  beforeEach(async () => {
    t = await freshApp();
    logged = [];
    console.error = (...args: unknown[]) => { logged.push(args); };
  });
  afterEach(async () => {
    console.error = original;
    await t.close();
  });

  const form = 'application/x-www-form-urlencoded';
  const cases = (ficheId: number) => [
    { what: 'a latin1 body', method: 'post', url: '/connexion', type: `${form}; charset=latin1`, body: Buffer.from('email=caf\xe9', 'latin1'), status: 415, says: 'UTF-8' },
    { what: 'an unknown Content-Encoding', method: 'post', url: '/connexion', type: form, encoding: 'compress', body: Buffer.from('email=a'), status: 415, says: 'compress' },
    { what: 'a gzip header on a plain body', method: 'post', url: '/connexion', type: form, encoding: 'gzip', body: Buffer.from('email=a&password=b'), status: 400, says: 'illisible' },
    { what: 'a truncated gzip body', method: 'post', url: '/mot-de-passe-oublie', type: form, encoding: 'gzip', body: gzipSync('email=a@b.fr').subarray(0, 12), status: 400, says: 'illisible' },
    { what: 'a bad % escape in a link token', method: 'get', url: '/mot-de-passe/%ZZ', status: 400, says: 'mal formée' },
    { what: 'a bad % escape in an unsubscribe link', method: 'get', url: '/desinscription/%E0%A4%A', status: 400, says: 'mal formée' },
    { what: 'a bad % escape in a fiche address', method: 'get', url: '/homologations/1/fiches/%ZZ', status: 400, says: 'mal formée', signedIn: true },
    { what: 'a latin1 note', method: 'post', url: `/homologations/1/fiches/${ficheId}/notes`, type: `${form}; charset=latin1`, body: Buffer.from('body=caf\xe9', 'latin1'), status: 415, says: 'UTF-8', signedIn: true },
    { what: 'a deflate header on a plain body', method: 'post', url: `/homologations/1/fiches/${ficheId}/notes`, type: form, encoding: 'deflate', body: Buffer.from('body=x'), status: 400, says: 'illisible', signedIn: true },
  ];

  it('answers each with its 4xx and the French error page, and logs no crash', async () => {
    const ficheId = await ficheIdByNumber(t.db, 2);
    const agent = await signIn(t.app, ACCOUNTS.editor);
    for (const c of cases(ficheId)) {
      const client = c.signedIn ? agent : request(t.app);
      let req = c.method === 'get' ? client.get(c.url) : client.post(c.url);
      if ('type' in c && c.type) req = req.set('Content-Type', c.type);
      if ('encoding' in c && c.encoding) req = req.set('Content-Encoding', c.encoding);
      const res = 'body' in c && c.body ? await req.send(c.body) : await req;
      expect(res.status, c.what).to.equal(c.status);
      expect(res.headers['content-type'], c.what).to.contain('text/html');
      const text = textOf(res.text);
      expect(text, c.what).to.contain('Requête refusée');
      expect(text, c.what).to.contain(c.says);
      expect(text, c.what).not.to.match(/\bat \S+ \(|Error:|unsupported|Failed to decode/);
    }
    expect(logged, 'console.error').to.deep.equal([]);
    // The signed-in session is untouched by all this.
    expect((await agent.get('/homologations/1')).status).to.equal(200);
  });
});
// ---------------------------------------------------------------------------------------------
// 4. Production over plain HTTP: the sign-in page says HTTPS is required.

describe(`resilience: production sign-in over plain HTTP (${ENGINE})`, () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp({ production: true, demo: false }); });
  afterEach(() => t.close());

  const HTTPS = /exige HTTPS.*X-Forwarded-Proto: https/;

  it('explains on the sign-in page, and on the refused form, that HTTPS (or a proxy saying so) is required', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion').expect(200);
    expect(textOf(page.text)).to.match(HTTPS);
    const res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.admin, password: DEMO_PASSWORD });
    expect(res.status).to.equal(403);
    const text = textOf(res.text);
    expect(text).to.contain('Le formulaire a expiré');
    expect(text).to.match(HTTPS);
  });

  it('says nothing of it behind an HTTPS proxy', async () => {
    const page = await request(t.app).get('/connexion').set('X-Forwarded-Proto', 'https').expect(200);
    expect(textOf(page.text)).not.to.match(/exige HTTPS/);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. PUBLIC_URL is required in production.

describe('resilience: PUBLIC_URL in production', () => {
  it('is required, with a clear message, like SESSION_SECRET', () => {
    const env = { NODE_ENV: 'production', SESSION_SECRET: SECRET, DATA_DIR: tmpdir() };
    expect(() => loadConfig(env)).to.throw(ConfigError, /PUBLIC_URL est obligatoire en production.*https:\/\/plan\.metropole\.fr/);
    expect(loadConfig({ ...env, PUBLIC_URL: 'https://plan.example.org/' }).mail.publicUrl).to.equal('https://plan.example.org');
  });
});

// ---------------------------------------------------------------------------------------------
// 6. No session before sign-in, CSRF protection kept.

describe(`resilience: anonymous visits keep no session (${ENGINE})`, () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(() => t.close());

  const sessions = async () => Number((await t.db('sessions').count({ n: '*' }).first())!.n);

  it('creates no session row for anonymous pages, with or without cookies kept', async () => {
    const before = await sessions();
    const agent = request.agent(t.app);
    for (let i = 0; i < 10; i++) {
      for (const url of ['/connexion', '/mot-de-passe-oublie', '/', '/homologations/1', '/mot-de-passe/inconnu-0123456789abcdef']) {
        await request(t.app).get(url);
        await agent.get(url);
      }
    }
    // a refused sign-in and a forgotten-password request are anonymous too
    const page = await agent.get('/connexion');
    expect((await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.admin, password: 'pas-le-bon' })).status).to.equal(401);
    const forgotten = await agent.get('/mot-de-passe-oublie');
    expect((await agent.post('/mot-de-passe-oublie').type('form').send({ _csrf: csrfOf(forgotten.text), email: 'personne@example.org' })).status).to.equal(200);
    expect(await sessions()).to.equal(before);
    expect(String(page.headers['set-cookie'] ?? '')).not.to.contain('plan.sid=');
  });

  it('still signs in, and the session exists from then on', async () => {
    const before = await sessions();
    const agent = await signIn(t.app, ACCOUNTS.editor);
    expect((await agent.get('/homologations/1')).status).to.equal(200);
    expect(await sessions()).to.equal(before + 1);
  });

  it('keeps the anonymous forms protected: a missing, forged or foreign token is refused 403', async () => {
    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const token = csrfOf(page.text);
    const cookie = /plan\.csrf=([^;]+)/.exec(String(page.headers['set-cookie']))?.[1];
    expect(cookie, 'cookie du jeton').to.be.a('string');
    expect(String(page.headers['set-cookie'])).to.match(/HttpOnly/i).and.match(/SameSite=(Lax|Strict)/i);
    const fields = { email: ACCOUNTS.editor, password: DEMO_PASSWORD };
    // no token
    expect((await agent.post('/connexion').type('form').send(fields)).status).to.equal(403);
    // a forged token
    expect((await agent.post('/connexion').type('form').send({ ...fields, _csrf: 'a'.repeat(token.length) })).status).to.equal(403);
    // the right token without its cookie (another browser: a cross-site form)
    expect((await request(t.app).post('/connexion').type('form').send({ ...fields, _csrf: token })).status).to.equal(403);
    // a cookie forged without the secret, with its matching token
    const forged = `${'b'.repeat(64)}.${Date.now() + 3_600_000}.${'c'.repeat(43)}`;
    expect((await request(t.app).post('/connexion').set('Cookie', `plan.csrf=${forged}`).type('form').send({ ...fields, _csrf: 'b'.repeat(64) })).status).to.equal(403);
    // the anonymous forgotten-password form too
    expect((await request(t.app).post('/mot-de-passe-oublie').type('form').send({ email: 'a@b.fr' })).status).to.equal(403);
    // and the genuine pair signs in
    expect((await agent.post('/connexion').type('form').send({ ...fields, _csrf: token })).status).to.equal(302);
    expect((await agent.get('/homologations/1')).status).to.equal(200);
  });
});
