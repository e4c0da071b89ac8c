import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { createApp } from '../src/app';
import { prepareDatabase } from '../src/bootstrap';
import type { Config } from '../src/config';
import { openDatabase, openPostgres } from '../src/db';
import { argon2Hasher } from '../src/security/passwords';
import { clearRun, databasePrefix, runDir, templatePrefix } from './run';

/** Real argon2id at the lowest cost: the tests' accounts sign in without spending 10 ms a check. */
export const TEST_PASSWORDS = argon2Hasher({ memoryCost: 256, timeCost: 1, parallelism: 1 });

/** The clock of every test: the demo plan's dates are placed around it. */
export const NOW = new Date('2026-03-16T09:00:00.000Z');

export const ACCOUNTS = {
  admin: 'admin@metropole.example.org',
  editor: 'equipe-projet@metropole.example.org',
  viewer: 'comite@metropole.example.org',
  commune: 'agent@villeurbanne.example.org',
  communeAdmin: 'dsi@villeurbanne.example.org',
} as const;

/**
 * The engine of this run: the embedded SQLite file by default, PostgreSQL when TEST_DATABASE_URL
 * names a server database (the tests create and drop their own databases beside it).
 */
export const PG_URL = process.env.TEST_DATABASE_URL || null;
export const ENGINE = PG_URL ? 'postgresql' : 'sqlite';

let template: string | undefined;
let counter = 0;

/** Migrates and loads the demo plan once into a real database; each test gets a copy (fast, isolated). */
async function templateFile(): Promise<string> {
  if (template) return template;
  if (PG_URL) {
    const name = `${templatePrefix()}${process.pid}`;
    await pgAdmin(async (admin) => {
      await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
      await admin.raw(`CREATE DATABASE ${name}`);
    });
    const db = openPostgres(pgUrlFor(name));
    await prepareDatabase(db, { demo: true }, NOW, TEST_PASSWORDS);
    await db.destroy();
    template = name;
    return name;
  }
  const dir = mkdtempSync(path.join(runDir(), 'template-'));
  const file = path.join(dir, 'template.sqlite');
  const db = openDatabase(file);
  await prepareDatabase(db, { demo: true }, NOW, TEST_PASSWORDS);
  await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  await db.destroy();
  template = file;
  return file;
}

function pgUrlFor(database: string): string {
  const url = new URL(PG_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}

async function pgAdmin<T>(work: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = openPostgres(PG_URL!);
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}

/**
 * Dropping a PostgreSQL database takes a few hundred milliseconds of the server's time: the tests' copies are
 * dropped one after the other in the background while the next tests run. Whatever is left when the run ends
 * is dropped then (test/run.ts).
 */
let drops = Promise.resolve();
function dropLater(name: string): void {
  drops = drops.then(() => pgAdmin(async (admin) => { await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); })).catch(() => {});
}

export interface TestApp {
  app: Express;
  db: Knex;
  dataDir: string;
  config: Config;
  /** Another connection to the same database, as a second app process would open. */
  openAnother(): Knex;
  close(): Promise<void>;
}

/** The configuration of a test app: demo mode, a fixed secret, e-mails kept in the outbox. */
export function testConfig(fields: Pick<Config, 'dataDir' | 'databaseFile' | 'databaseUrl'> & Partial<Config>): Config {
  return {
    port: 0, production: false, demo: true,
    sessionSecret: 'secret-de-test-suffisamment-long-0123456789',
    mail: { smtpUrl: null, from: 'Plan RGS <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' },
    schedulerIntervalSeconds: 60,
    ...fields,
  };
}

/**
 * An empty database of the run's engine, as at a first start: a new SQLite file in a new DATA_DIR, or a new
 * PostgreSQL database beside the run's (dropped by `drop`).
 */
export async function emptyDatabase(label: string): Promise<{ open: () => Knex; config: Config; drop: () => Promise<void> }> {
  const dataDir = mkdtempSync(path.join(runDir(), `${label}-`));
  const databaseFile = path.join(dataDir, 'plan.sqlite');
  let databaseUrl: string | null = null;
  let drop: () => Promise<void>;
  if (PG_URL) {
    const name = `plan_${label.replace(/\W/g, '_')}_${process.pid}_${++counter}`;
    await pgAdmin((admin) => admin.raw(`CREATE DATABASE ${name}`));
    databaseUrl = pgUrlFor(name);
    drop = () => pgAdmin(async (admin) => { await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); });
  } else {
    drop = async () => { rmSync(dataDir, { recursive: true, force: true }); };
  }
  const config = testConfig({ dataDir, databaseFile, databaseUrl });
  return { open: () => (databaseUrl ? openPostgres(databaseUrl) : openDatabase(databaseFile)), config, drop };
}

/** An app over its own copy of the demo database: a SQLite file, or a PostgreSQL database made from the template. */
export async function freshApp(overrides: Partial<Config> = {}, clock: () => Date = () => NOW): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(runDir(), 'test-'));
  const databaseFile = path.join(dataDir, 'plan.sqlite');
  const source = await templateFile();
  let databaseUrl: string | null = null;
  let dropDatabase = () => {};
  if (PG_URL) {
    const name = `${databasePrefix()}${process.pid}_${++counter}`;
    await pgAdmin((admin) => admin.raw(`CREATE DATABASE ${name} TEMPLATE ${source}`));
    databaseUrl = pgUrlFor(name);
    dropDatabase = () => dropLater(name);
  } else {
    copyFileSync(source, databaseFile);
  }
  const open = () => (databaseUrl ? openPostgres(databaseUrl) : openDatabase(databaseFile));
  const db = open();
  const others: Knex[] = [];
  const config = testConfig({ dataDir, databaseFile, databaseUrl, ...overrides });
  const app = createApp({ db, config, now: clock, passwords: TEST_PASSWORDS });
  return {
    app, db, dataDir, config,
    openAnother() {
      const another = open();
      others.push(another);
      return another;
    },
    async close() {
      // the session store checks its table as the app is built: a query queued behind that check lets it finish, so an
      // app closed at once does not abort it (knex would log "Acquire connection error")
      await db.raw('select 1').catch(() => undefined);
      await Promise.all([db, ...others].map((d) => d.destroy()));
      dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The CSRF token of the first form on a page. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('Pas de jeton CSRF dans la page');
  return match[1]!;
}

export type Agent = ReturnType<typeof request.agent>;

export async function signIn(app: Express, email: string, password = DEMO_PASSWORD): Promise<Agent> {
  const agent = request.agent(app);
  const page = await agent.get('/connexion').expect(200);
  await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email, password }).expect(302);
  return agent;
}

/** Posts a form the way a browser would: fetch the page holding it, then send its token with the fields. */
export async function postForm(agent: Agent, pageUrl: string, actionUrl: string, fields: Record<string, unknown>) {
  const page = await agent.get(pageUrl);
  return agent.post(actionUrl).type('form').send(formBody({ _csrf: csrfOf(page.text), ...fields }));
}

/**
 * Encodes fields as a browser does for this app's forms: rows as steps[0][label]=…,
 * repeated checkboxes as instanceIds=1&instanceIds=2.
 */
export function formBody(fields: Record<string, unknown>): string {
  const pairs: string[] = [];
  const add = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => (typeof v === 'object' && v !== null ? add(`${key}[${i}]`, v) : add(key, v)));
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) add(`${key}[${k}]`, v);
    } else {
      pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    }
  };
  for (const [k, v] of Object.entries(fields)) add(k, v);
  return pairs.join('&');
}

/** The id of a fiche of the deck's homologation (id 1) by its number (numbers are per homologation). */
export async function ficheIdByNumber(db: Knex, number: number): Promise<number> {
  const row = await db('fiches').where({ plan_id: 1, number }).first();
  return Number(row.id);
}

/** Text of a page without tags, to assert what a reader sees. */
export function textOf(html: string): string {
  return html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

// Without test/hooks.ts (mocha --no-config), this process clears what it made when its run ends.
if (!process.env.PLAN_TEST_RUN) {
  after(async () => {
    await drops;
    await clearRun(PG_URL);
  });
}
