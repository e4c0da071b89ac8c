import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { DEMO_PASSWORD } from '../../db/seeds/demo';
import { ACCOUNTS, csrfOf, ENGINE, freshApp, PG_URL, type TestApp, textOf } from '../helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
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
// 5. PUBLIC_URL is required in production.

describe('resilience: PUBLIC_URL in production', () => {
  afterEach(killChildren);

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
