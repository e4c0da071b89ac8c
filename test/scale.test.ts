import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Knex } from 'knex';
import { generateSyntheticHomologations, generateSyntheticPlan } from '../db/seeds/synthetic';
import { createApp } from '../src/app';
import { countQueries } from '../src/data/query-count';
import { migrate, openDatabase } from '../src/db';
import { ACCOUNTS, type Agent, ficheIdByNumber, freshApp, NOW, signIn, type TestApp } from './helpers';

/** Statements run by one request (and its page, for what it shows). */
async function measure(db: Knex, agent: Agent, url: string): Promise<{ statements: number; text: string }> {
  const counter = countQueries(db);
  try {
    const res = await agent.get(url);
    expect(res.status, url).to.equal(200);
    // the session store's own statements are counted too; they do not depend on the data either
    return { statements: counter.count(), text: res.text };
  } finally {
    counter.stop();
  }
}

async function queriesFor(db: Knex, agent: Agent, url: string): Promise<number> {
  return (await measure(db, agent, url)).statements;
}

interface LayerLike { route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: LayerLike[] }; rawPath?: unknown }

/** Does the app answer GET `path` with a route of its own (mounted at the root, not under a parameter). */
function hasGetRoute(app: Express, path: string): boolean {
  const walk = (stack: LayerLike[]): boolean => stack.some((layer) => (layer.route
    ? layer.route.path === path && Boolean(layer.route.methods.get)
    : Boolean(layer.handle?.stack) && (layer.rawPath === undefined || layer.rawPath === '/') && walk(layer.handle!.stack!)));
  return walk((app as unknown as { router: { stack: LayerLike[] } }).router.stack);
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

describe('SQL queries per page do not grow with the number of homologations', function () {
  this.timeout(300_000);
  /** The demo and one generated homologation; the demo and 199 generated ones (the same first one: same seed). */
  let two: TestApp;
  let many: TestApp;
  let generated: { two: Awaited<ReturnType<typeof generateSyntheticHomologations>>; many: Awaited<ReturnType<typeof generateSyntheticHomologations>> };
  const options = { fichesEach: 4, stepsEach: 3, seed: 11, now: NOW };

  before(async () => {
    [two, many] = await Promise.all([freshApp(), freshApp()]);
    generated = {
      two: await generateSyntheticHomologations(two.db, { ...options, count: 1 }),
      many: await generateSyntheticHomologations(many.db, { ...options, count: 199 }),
    };
  });
  after(async () => {
    await Promise.all([two?.close(), many?.close()]);
  });

  it('the generated homologations are there: 2 and 200, with fiches, decisions and meetings', async () => {
    for (const [t, n] of [[two, 2], [many, 200]] as const) {
      const [plans, fiches, signatures, meetings, perimeters] = await Promise.all(['plans', 'fiches', 'signatures', 'meetings', 'plan_instances']
        .map((table) => t.db(table).countDistinct({ n: table === 'plan_instances' ? 'plan_id' : table === 'plans' ? 'id' : 'plan_id' }).first()));
      expect(Number(plans!.n), 'homologations').to.equal(n);
      expect(Number(fiches!.n), 'homologations with fiches').to.equal(n);
      expect(Number(perimeters!.n), 'homologations with a perimeter').to.equal(n);
      expect(Number(signatures!.n), 'homologations with a decision (the demo has none yet)').to.be.at.least(n === 2 ? 1 : 100);
      expect(Number(meetings!.n), 'homologations with meetings').to.be.at.least(n === 2 ? 2 : 67);
    }
    // the first generated homologation is the same in both databases
    expect(generated.two.ids[0]).to.equal(generated.many.ids[0]);
    expect(generated.many.decided).to.include(generated.many.ids[0]);
  });

  it('counts the same statements with 2 and with 200 homologations: home page, dashboards, a homologation page', async () => {
    const second = generated.two.ids[0]!;
    const pages = ['/homologations', '/homologations?etat=archivee', '/homologations/1', '/homologations/1/tableau-de-bord', '/homologations/1/seances', `/homologations/${second}`, `/homologations/${second}/tableau-de-bord`];
    // the organisation's dashboard, once it exists
    if (hasGetRoute(many.app, '/tableau-de-bord')) pages.push('/tableau-de-bord');
    for (const account of [ACCOUNTS.editor, ACCOUNTS.commune]) {
      const [a, b] = [await signIn(two.app, account), await signIn(many.app, account)];
      for (const url of pages) {
        // the commune agent only enters the homologations that touch its commune
        if (account === ACCOUNTS.commune && url.startsWith(`/homologations/${second}`)) continue;
        const small = await queriesFor(two.db, a, url);
        const large = await queriesFor(many.db, b, url);
        expect(large, `${url} as ${account}: ${small} statements with 2 homologations, ${large} with 200`).to.equal(small);
      }
    }
  });

  it('the home page with 200 homologations lists them all (in one page of statements)', async () => {
    const agent = await signIn(many.app, ACCOUNTS.editor);
    const { text } = await measure(many.db, agent, '/homologations');
    const archived = Number((await many.db('plans').whereNotNull('archived_at').count({ n: '*' }).first())!.n);
    expect(archived, 'some generated homologations are archived').to.be.greaterThan(0);
    const current = await many.db('plans').whereNull('archived_at').whereNot('id', 1).select('title');
    expect(current.length).to.equal(199 - archived);
    const missing = current.map((r) => String(r.title)).filter((title) => !new RegExp(`${title}(?!\\d)`).test(text));
    expect(missing, 'current homologations missing from the home page').to.deep.equal([]);
  });
});
