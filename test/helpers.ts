import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { createApp } from '../src/app';
import { prepareDatabase } from '../src/bootstrap';
import type { Config } from '../src/config';
import { openDatabase } from '../src/db';

/** The clock of every test: the demo plan's dates are placed around it. */
export const NOW = new Date('2026-03-16T09:00:00.000Z');

export const ACCOUNTS = {
  admin: 'admin@metropole.example.org',
  editor: 'equipe-projet@metropole.example.org',
  viewer: 'comite@metropole.example.org',
  commune: 'agent@villeurbanne.example.org',
} as const;

let template: string | undefined;

/** Migrates and loads the demo plan once into a real SQLite file; each test copies it (fast, isolated). */
async function templateFile(): Promise<string> {
  if (template) return template;
  const dir = mkdtempSync(path.join(tmpdir(), 'plan-template-'));
  const file = path.join(dir, 'template.sqlite');
  const db = openDatabase(file);
  await prepareDatabase(db, { demo: true }, NOW);
  await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  await db.destroy();
  template = file;
  return file;
}

export interface TestApp {
  app: Express;
  db: Knex;
  dataDir: string;
  close(): Promise<void>;
}

export async function freshApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'plan-test-'));
  const databaseFile = path.join(dataDir, 'plan.sqlite');
  copyFileSync(await templateFile(), databaseFile);
  const db = openDatabase(databaseFile);
  const config: Config = {
    port: 0, dataDir, databaseFile, production: false, demo: true, sessionSecret: 'secret-de-test-suffisamment-long-0123456789', ...overrides,
  };
  const app = createApp({ db, config, now: () => NOW });
  return { app, db, dataDir, close: () => db.destroy() };
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

export async function ficheIdByNumber(db: Knex, number: number): Promise<number> {
  const row = await db('fiches').where({ number }).first();
  return Number(row.id);
}

/** Text of a page without tags, to assert what a reader sees. */
export function textOf(html: string): string {
  return html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}
