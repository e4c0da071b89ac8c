import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Knex } from 'knex';
import { generateSyntheticPlan } from '../db/seeds/synthetic';
import { createApp } from '../src/app';
import { countQueries } from '../src/data/query-count';
import { migrate, openDatabase } from '../src/db';
import { ACCOUNTS, type Agent, ficheIdByNumber, freshApp, NOW, signIn, type TestApp } from './helpers';

/** Statements run by one request. */
async function queriesFor(db: Knex, agent: Agent, url: string): Promise<number> {
  const counter = countQueries(db);
  try {
    const res = await agent.get(url);
    expect(res.status, url).to.equal(200);
    // the session store's own statements are counted too; they do not depend on the data either
    return counter.count();
  } finally {
    counter.stop();
  }
}

describe('SQL queries per page do not grow with the data', function () {
  this.timeout(120_000);
  let small: TestApp;
  let largeDb: Knex;
  let largeApp: Express;
  let large: Awaited<ReturnType<typeof generateSyntheticPlan>>;

  before(async () => {
    small = await freshApp();
    largeDb = openDatabase(path.join(mkdtempSync(path.join(tmpdir(), 'plan-large-')), 'plan.sqlite'));
    await migrate(largeDb);
    large = await generateSyntheticPlan(largeDb, { communes: 200, instances: 600, fiches: 60, steps: 600, notes: 3000, seed: 7, now: NOW });
    largeApp = createApp({ db: largeDb, config: { ...small.config, demo: false }, now: () => NOW });
  });
  after(async () => {
    await small.close();
    await largeDb.destroy();
  });

  it('the generated plan is larger than the demo', async () => {
    const [demo, big] = await Promise.all([small.db('fiches').count({ n: '*' }).first(), largeDb('fiches').count({ n: '*' }).first()]);
    expect(Number(big!.n)).to.equal(60);
    expect(Number(big!.n)).to.be.greaterThan(Number(demo!.n) * 10);
  });

  it('counts the same statements on the demo plan and on a plan twelve times larger', async () => {
    const smallAgent = await signIn(small.app, ACCOUNTS.editor);
    const largeAgent = await signIn(largeApp, large.userEmail, large.password);
    const smallMeeting = Number((await small.db('meetings').orderBy('starts_at', 'desc').first()).id);
    const pages = [
      ['/homologations/1', '/homologations/1'],
      ['/homologations/1/tableau-de-bord', '/homologations/1/tableau-de-bord'],
      [`/homologations/1/fiches/${await ficheIdByNumber(small.db, 1)}`, `/homologations/1/fiches/${large.ficheIds[0]}`],
      [`/homologations/1/seances/${smallMeeting}/ordre-du-jour`, `/homologations/1/seances/${large.meetingId}/ordre-du-jour`],
    ];
    for (const [smallUrl, largeUrl] of pages) {
      const a = await queriesFor(small.db, smallAgent, smallUrl!);
      const b = await queriesFor(largeDb, largeAgent, largeUrl!);
      expect(b, `${smallUrl}: ${a} statements on the demo, ${b} on the large plan`).to.be.at.most(a);
    }
  });
});
