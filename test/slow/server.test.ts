import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { DEMO_PASSWORD } from '../../db/seeds/demo';
import { openDatabase } from '../../src/db';
import { startSmtp } from '../smtp';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'k3J9vQ2mX7pL4sT8wZ1nB6cR5yH0aD3fG9uE2iO7qW4eR1tY'; // 48 characters

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

/** Starts the server as `npm start` does, with only the variables given (plus PATH and the like). */
function start(env: NodeJS.ProcessEnv): Run {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NODE_ENV', 'SESSION_SECRET', 'DATABASE_URL', 'TEST_DATABASE_URL', 'PORT', 'DATA_DIR', 'SMTP_URL', 'PUBLIC_URL']) delete base[name];
  // scripts/start.mjs: the bundle of the server (built first if a source changed), run by node alone
  const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: root, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the "http://localhost:PORT" line; fails with what the process printed if it exits or stays silent. */
async function listening(run: Run, ms = 30_000): Promise<number> {
  const deadline = Date.now() + ms;
  let exit: { code: number | null } | null = null;
  void run.exited.then((e) => { exit = e; });
  while (Date.now() < deadline) {
    const match = /http:\/\/localhost:(\d+)/.exec(run.stdout());
    if (match) return Number(match[1]);
    if (exit) throw new Error(`Le serveur s'est arrêté (code ${(exit as { code: number | null }).code}) :\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Le serveur n'a pas démarré en ${ms} ms :\n${run.stdout()}\n${run.stderr()}`);
}

/** A port nobody listens on right now: the system picks it, we release it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function stop(run: Run) {
  run.child.kill('SIGTERM');
  return run.exited;
}

const count = async (db: Knex, table: string) => Number((await db(table).count({ n: '*' }).first())!.n);

describe('starting the server (npm start: scripts/start.mjs, src/server.ts bundled)', function () {
  // A start that has to build the bundle first takes a second or two; loading the demo plan hashes a password.
  this.timeout(60_000);

  const dirs: string[] = [];
  const dbs: Knex[] = [];
  const blockers: Server[] = [];
  const emptyDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plan-server-'));
    dirs.push(dir);
    return dir;
  };
  const open = (dir: string) => {
    const db = openDatabase(path.join(dir, 'plan.sqlite'));
    dbs.push(db);
    return db;
  };

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      }
    }
    await Promise.all(dbs.splice(0).map((db) => db.destroy()));
    await Promise.all(blockers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start in production without SESSION_SECRET, or with one too short, naming it', async () => {
    const dir = emptyDir();
    const run = start({ NODE_ENV: 'production', DATA_DIR: dir, PORT: String(await freePort()) });
    const { code } = await run.exited;
    expect(code).to.equal(1);
    expect(run.stderr()).to.contain('Configuration invalide : SESSION_SECRET est obligatoire en production');
    expect(run.stdout()).not.to.contain('http://localhost');
    // Nothing was created: the check comes before the database.
    expect(readdirSync(dir)).to.deep.equal([]);

    const short = start({ NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: 'trop-court', PORT: String(await freePort()) });
    expect((await short.exited).code).to.equal(1);
    expect(short.stderr()).to.contain('SESSION_SECRET');
    expect(short.stderr()).to.contain('au moins 32 caractères');
  });

  it('refuses a PORT that is not a number', async () => {
    const run = start({ DATA_DIR: emptyDir(), PORT: 'http' });
    expect((await run.exited).code).to.equal(1);
    expect(run.stderr()).to.contain('PORT doit être un numéro de port entre 0 et 65535 (reçu : « http »)');
  });

  it('in production, starts on an empty database with no demo data, no account and no demo accounts shown', async () => {
    const dir = emptyDir();
    const port = await freePort();
    const run = start({ NODE_ENV: 'production', SESSION_SECRET: SECRET, PUBLIC_URL: 'https://plan.example.org', DATA_DIR: dir, PORT: String(port) });
    expect(await listening(run)).to.equal(port);
    expect(run.stdout()).to.contain('(production, base');
    expect(run.stdout()).not.to.contain('démonstration chargé');

    const page = await fetch(`http://localhost:${port}/connexion`);
    expect(page.status).to.equal(200);
    const html = await page.text();
    expect(html).to.contain('name="password"');
    expect(html).not.to.contain('Comptes de démonstration');
    expect(html).not.to.contain(DEMO_PASSWORD);

    // Behind the HTTPS proxy (trusted in production), the sign-in form's cookie (no session before sign-in) is Secure and HttpOnly.
    const proxied = await fetch(`http://localhost:${port}/connexion`, { headers: { 'X-Forwarded-Proto': 'https' } });
    const cookie = proxied.headers.get('set-cookie') ?? '';
    expect(cookie).to.match(/^plan\.csrf=/);
    expect(cookie).to.contain('Secure');
    expect(cookie).to.contain('HttpOnly');

    const plan = await fetch(`http://localhost:${port}/plan`, { redirect: 'manual' });
    expect(plan.status).to.equal(302);
    expect(plan.headers.get('location')).to.equal('/connexion?retour=%2Fplan');

    const db = open(dir);
    expect(await count(db, 'fiches')).to.equal(0);
    expect(await count(db, 'users')).to.equal(0);
    expect(await count(db, 'instances')).to.equal(0);
    // no homologation either: the administrator creates the first one
    expect(await count(db, 'plans')).to.equal(0);
    expect(existsSync(path.join(dir, '.session-secret'))).to.equal(false);

    // SIGTERM stops it cleanly.
    expect(await stop(run)).to.deep.equal({ code: 0, signal: null });
  });

  it('in development, fills an empty database with the demo plan once, and shows the demo accounts', async () => {
    const dir = emptyDir();
    // PORT=0: the system chooses, and the line printed gives the real port.
    const run = start({ DATA_DIR: dir, PORT: '0' });
    const port = await listening(run);
    expect(port).to.be.greaterThan(0);
    expect(run.stdout()).to.contain('Base vide : plan de démonstration chargé');
    expect(run.stdout()).to.contain('(démonstration, base');

    const html = await (await fetch(`http://localhost:${port}/connexion`)).text();
    expect(html).to.contain('Comptes de démonstration');
    expect(html).to.contain(DEMO_PASSWORD);

    const db = open(dir);
    // the deck's 5 fiches, the 4 carried over to its renewal, the HR portal's 3
    expect(await count(db, 'fiches')).to.equal(12);
    expect(await count(db, 'users')).to.equal(5);
    // The generated session secret is kept for the next start, readable by its owner only.
    const secret = path.join(dir, '.session-secret');
    expect(statSync(secret).mode & 0o777).to.equal(0o600);
    expect(await stop(run)).to.deep.equal({ code: 0, signal: null });

    // A second start on the same data keeps it: no second demo plan.
    const again = start({ DATA_DIR: dir, PORT: '0' });
    await listening(again);
    expect(again.stdout()).not.to.contain('Base vide');
    expect(await count(db, 'fiches')).to.equal(12);
    expect(await count(db, 'plans')).to.equal(3);
    await stop(again);
  });

  it('runs its background work itself: e-mails the late fiche’s team through SMTP_URL without being asked', async () => {
    const smtp = await startSmtp();
    try {
      const run = start({ DATA_DIR: emptyDir(), PORT: '0', SMTP_URL: smtp.url, PUBLIC_URL: 'https://plan.example.org' });
      await listening(run);
      await smtp.count(1);
      expect(smtp.received[0]!.envelopeTo).to.deep.equal(['equipe-projet@metropole.example.org']);
      expect(smtp.received[0]!.subject).to.match(/^fiche n°2 en retard/);
      expect(smtp.received[0]!.text).to.match(/https:\/\/plan\.example\.org\/alertes\/\d+/);
      expect(run.stdout()).not.to.contain("SMTP_URL n'est pas défini");
      expect(await stop(run)).to.deep.equal({ code: 0, signal: null });
    } finally {
      await smtp.close();
    }
  });

  it('exits with a message when the port is taken, instead of claiming to listen', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const port = (blocker.address() as { port: number }).port;
    const run = start({ DATA_DIR: emptyDir(), PORT: String(port) });
    const { code } = await run.exited;
    expect(code).to.equal(1);
    expect(run.stderr()).to.contain(`Démarrage impossible : le port ${port} n'est pas utilisable (EADDRINUSE)`);
    expect(run.stdout()).not.to.contain('http://localhost');
  });
});
