import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { ConfigError, loadConfig } from '../src/config';
import { ACCOUNTS, csrfOf, ENGINE, ficheIdByNumber, freshApp, PG_URL, signIn, type TestApp, textOf } from './helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'k3J9vQ2mX7pL4sT8wZ1nB6cR5yH0aD3fG9uE2iO7qW4eR1tY';

// ---------------------------------------------------------------------------------------------
// A real server process (src/server.ts through tsx), as `npm start` runs it.

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: () => boolean;
}

const children: ChildProcess[] = [];

function start(env: NodeJS.ProcessEnv, options: { uid?: number; gid?: number } = {}): Run {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NODE_ENV', 'SESSION_SECRET', 'DATABASE_URL', 'TEST_DATABASE_URL', 'PORT', 'DATA_DIR', 'SMTP_URL', 'PUBLIC_URL']) delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...options,
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => { done = true; resolve({ code, signal }); }));
  return { child, stdout: () => out, stderr: () => err, exited, alive: () => !done };
}

async function listening(run: Run, ms = 45_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const match = /http:\/\/localhost:(\d+)/.exec(run.stdout());
    if (match) return `http://127.0.0.1:${match[1]}`;
    if (!run.alive()) throw new Error(`Le serveur s'est arrêté :\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Le serveur n'a pas démarré :\n${run.stdout()}\n${run.stderr()}`);
}

/** A browser in miniature: fetch with a cookie jar, no redirect following. */
class Browser {
  cookies = new Map<string, string>();
  constructor(private readonly base: string) {}
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.base + url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return res;
  }
  async signIn(email: string): Promise<Response> {
    const page = await (await this.fetch('/connexion')).text();
    return this.fetch('/connexion', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfOf(page), email, password: DEMO_PASSWORD }).toString(),
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killChildren() {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The session store fails: the request gets an error page, the process lives on and recovers.

describe(`resilience: the session store fails, the server survives (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestApp;
  let run: Run;
  let base: string;

  beforeEach(async () => {
    t = await freshApp();
    // The server process opens the same database as the test: the SQLite file in DATA_DIR, or the PostgreSQL copy.
    run = start({ DATA_DIR: t.dataDir, PORT: '0', ...(t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {}) });
    base = await listening(run);
  });
  afterEach(async () => {
    await killChildren();
    await t.close();
  });

  const failWrites = async (db: Knex) => {
    if (PG_URL) {
      await db.raw(`CREATE FUNCTION disque_plein() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disque plein (simulé)'; END $$ LANGUAGE plpgsql`);
      await db.raw('CREATE TRIGGER sessions_disque_plein BEFORE INSERT OR UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION disque_plein()');
    } else {
      await db.raw("CREATE TRIGGER sessions_disque_plein_i BEFORE INSERT ON sessions BEGIN SELECT RAISE(FAIL, 'disque plein (simulé)'); END");
      await db.raw("CREATE TRIGGER sessions_disque_plein_u BEFORE UPDATE ON sessions BEGIN SELECT RAISE(FAIL, 'disque plein (simulé)'); END");
    }
  };
  const restoreWrites = async (db: Knex) => {
    if (PG_URL) {
      await db.raw('DROP TRIGGER sessions_disque_plein ON sessions');
      await db.raw('DROP FUNCTION disque_plein()');
    } else {
      await db.raw('DROP TRIGGER sessions_disque_plein_i');
      await db.raw('DROP TRIGGER sessions_disque_plein_u');
    }
  };

  it('answers 503 with a French page when the sessions cannot be read, and serves the next request once they can', async () => {
    const browser = new Browser(base);
    expect((await browser.signIn(ACCOUNTS.editor)).status).to.equal(302);
    const first = await browser.fetch('/homologations/1');
    expect(first.status).to.equal(200);
    await first.text(); // the whole page: its session is saved before the last byte is sent

    await t.db.raw('ALTER TABLE sessions RENAME TO sessions_hors_service');
    for (let i = 0; i < 3; i++) {
      const res = await browser.fetch('/homologations/1');
      expect(res.status).to.equal(503);
      const text = textOf(await res.text());
      expect(text).to.contain('Service momentanément indisponible');
      expect(text).to.contain('Réessayez dans quelques instants');
      expect(text).not.to.match(/\bat \S+ \(|sessions_hors_service|no such table|does not exist/);
    }
    await sleep(300);
    expect(run.alive(), `le serveur est mort :\n${run.stderr()}`).to.equal(true);

    await t.db.raw('ALTER TABLE sessions_hors_service RENAME TO sessions');
    const back = await browser.fetch('/homologations/1');
    expect(back.status).to.equal(200);
    expect(textOf(await back.text())).to.contain('Julien Petit');
    // Logged, not swallowed: one line per failed request.
    expect(run.stderr().match(/Sessions indisponibles/g), run.stderr()).to.have.length(3);
  });

  it('refuses a sign-in it cannot record (writes fail, as on a full disk) with an error page, then signs in once writes work', async () => {
    const signedIn = new Browser(base);
    expect((await signedIn.signIn(ACCOUNTS.viewer)).status).to.equal(302);

    await failWrites(t.db);
    const browser = new Browser(base);
    const refused = await browser.signIn(ACCOUNTS.editor);
    expect(refused.status).to.equal(503);
    expect(textOf(await refused.text())).to.contain('Service momentanément indisponible');
    // A signed-in reader still reads (the session's new expiry is not saved: logged, the page is served).
    const read = await signedIn.fetch('/homologations/1');
    expect(read.status).to.equal(200);
    await read.text();
    await sleep(300);
    expect(run.alive(), `le serveur est mort :\n${run.stderr()}`).to.equal(true);

    await restoreWrites(t.db);
    const again = new Browser(base);
    expect((await again.signIn(ACCOUNTS.editor)).status).to.equal(302);
    expect((await again.fetch('/homologations/1')).status).to.equal(200);
    expect((await signedIn.fetch('/homologations/1')).status).to.equal(200);
  });

  (PG_URL ? it : it.skip)('survives PostgreSQL terminating its connections while requests flow, and the next request succeeds', async () => {
    const browsers = await Promise.all([ACCOUNTS.editor, ACCOUNTS.viewer, ACCOUNTS.admin, ACCOUNTS.commune].map(async (email) => {
      const b = new Browser(base);
      expect((await b.signIn(email)).status).to.equal(302);
      return b;
    }));
    const terminate = () => t.db.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    let stop = false;
    const statuses: number[] = [];
    const flow = browsers.flatMap((b) => [0, 1].map(async () => {
      while (!stop && run.alive()) {
        try {
          const res = await b.fetch('/homologations/1');
          await res.text();
          statuses.push(res.status);
        } catch {
          statuses.push(0); // the connection dropped (the process died, or the page was cut)
        }
      }
    }));
    for (let i = 0; i < 12; i++) {
      await sleep(120);
      await terminate();
    }
    stop = true;
    await Promise.all(flow);
    // And idle pooled connections terminated between requests must not bring the process down either.
    await terminate();
    await sleep(500);
    expect(run.alive(), `le serveur est mort :\n${run.stderr()}`).to.equal(true);
    expect(statuses, run.stderr()).not.to.include(0);
    expect(statuses.every((s) => s === 200 || s === 503), `statuts : ${[...new Set(statuses)].join(', ')}`).to.equal(true);
    for (const b of browsers) expect((await b.fetch('/homologations/1')).status).to.equal(200);
  });
});

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
// 3. A DATA_DIR the server cannot write to: said plainly at start.

describe('resilience: a read-only DATA_DIR at start', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  afterEach(async () => {
    await killChildren();
    for (const dir of dirs.splice(0)) {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /**
   * chmod alone does not stop root (these tests usually run as root): the server is then started as the
   * unprivileged user `nobody`, for whom a 0555 folder really is read-only. Not root: chmod is enough.
   */
  const asUnprivileged = (): { uid?: number; gid?: number } => (process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {});

  const readOnlyDir = (prepare?: (dir: string) => Promise<void>) => async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plan-ro-'));
    dirs.push(dir);
    if (prepare) await prepare(dir);
    chmodSync(dir, 0o555);
    return dir;
  };

  const expectPlainRefusal = async (run: Run, dir: string) => {
    const { code } = await run.exited;
    expect(code).to.equal(1);
    const err = run.stderr();
    expect(err).to.contain(`DATA_DIR (${dir})`);
    expect(err).to.contain("n'est pas accessible en écriture");
    expect(err).to.contain('Donnez à l’utilisateur qui lance le serveur le droit d’y écrire');
    expect(err).not.to.match(/migrate:unlock|SqliteError|EACCES: permission denied|\n\s+at /);
    expect(run.stdout()).not.to.contain('http://localhost');
  };

  it('an empty read-only folder, in demonstration (the session secret cannot be kept)', async () => {
    const dir = await readOnlyDir()();
    await expectPlainRefusal(start({ DATA_DIR: dir, PORT: '0', HOME: tmpdir() }, asUnprivileged()), dir);
  });

  it('an empty read-only folder, in production (the database cannot be created)', async () => {
    const dir = await readOnlyDir()();
    await expectPlainRefusal(start({ NODE_ENV: 'production', SESSION_SECRET: SECRET, PUBLIC_URL: 'https://plan.example.org', DATA_DIR: dir, PORT: '0', HOME: tmpdir() }, asUnprivileged()), dir);
  });

  it('a read-only folder holding a database (it cannot be written, nor its journal created)', async () => {
    const dir = await readOnlyDir(async (d) => {
      // A database made by an earlier start, as the unprivileged user would have made it.
      const first = start({ NODE_ENV: 'production', SESSION_SECRET: SECRET, PUBLIC_URL: 'https://plan.example.org', DATA_DIR: d, PORT: '0', HOME: tmpdir() });
      await listening(first);
      first.child.kill('SIGTERM');
      await first.exited;
    })();
    await expectPlainRefusal(start({ NODE_ENV: 'production', SESSION_SECRET: SECRET, PUBLIC_URL: 'https://plan.example.org', DATA_DIR: dir, PORT: '0', HOME: tmpdir() }, asUnprivileged()), dir);
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
  afterEach(killChildren);

  it('is required, with a clear message, like SESSION_SECRET', () => {
    const env = { NODE_ENV: 'production', SESSION_SECRET: SECRET, DATA_DIR: tmpdir() };
    expect(() => loadConfig(env)).to.throw(ConfigError, /PUBLIC_URL est obligatoire en production.*https:\/\/plan\.metropole\.fr/);
    expect(loadConfig({ ...env, PUBLIC_URL: 'https://plan.example.org/' }).mail.publicUrl).to.equal('https://plan.example.org');
  });

  it('stops the server at start, naming it', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'plan-url-'));
    try {
      const run = start({ NODE_ENV: 'production', SESSION_SECRET: SECRET, DATA_DIR: dir, PORT: '0' });
      const outcome = await Promise.race([run.exited.then(() => 'arrêté'), listening(run).then(() => 'démarré', () => 'arrêté')]);
      expect(outcome, run.stdout()).to.equal('arrêté');
      expect((await run.exited).code).to.equal(1);
      expect(run.stderr()).to.contain('Configuration invalide : PUBLIC_URL est obligatoire en production');
      expect(run.stdout()).not.to.contain('http://localhost');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
