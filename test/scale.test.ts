import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Knex } from 'knex';
import { generateSyntheticHomologations, generateSyntheticPlan, type SyntheticHomologations } from '../db/seeds/synthetic';
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

  it("the generated plan is larger than the demo's homologation", async () => {
    const [demo, big] = await Promise.all([small.db('fiches').where('plan_id', 1).count({ n: '*' }).first(), largeDb('fiches').where('plan_id', large.planId).count({ n: '*' }).first()]);
    expect(Number(big!.n)).to.equal(60);
    expect(Number(big!.n)).to.be.greaterThan(Number(demo!.n) * 10);
  });

  it('counts the same statements on the demo plan and on a plan twelve times larger', async () => {
    const smallAgent = await signIn(small.app, ACCOUNTS.editor);
    const largeAgent = await signIn(largeApp, large.userEmail, large.password);
    const smallMeeting = Number((await small.db('meetings').orderBy('starts_at', 'desc').first()).id);
    const pages = [
      ['/homologations/1', '/homologations/1'],
      // the fiche list searched, filtered, and a page of it (beyond the demo's last: its last page)
      ['/homologations/1?q=1&page=2', '/homologations/1?q=1&page=2'],
      ['/homologations/1?avancement=en_cours&page=2', '/homologations/1?avancement=en_cours&page=2'],
      ['/homologations/1/tableau-de-bord', '/homologations/1/tableau-de-bord'],
      ['/homologations/1/tableau-de-bord?export=communes', '/homologations/1/tableau-de-bord?export=communes'],
      [`/homologations/1/fiches/${await ficheIdByNumber(small.db, 1)}`, `/homologations/1/fiches/${large.ficheIds[1]}`],
      // a fiche followed per instance (its rollout counts on its page)
      [`/homologations/1/fiches/${await ficheIdByNumber(small.db, 3)}`, `/homologations/1/fiches/${large.ficheIds[0]}`],
      [`/homologations/1/seances/${smallMeeting}/ordre-du-jour`, `/homologations/1/seances/${large.meetingId}/ordre-du-jour`],
      // the rollout grid of a fiche followed per instance, the bulk selection and the operations' review
      [`/homologations/1/fiches/${await ficheIdByNumber(small.db, 3)}/deploiement`, `/homologations/1/fiches/${large.ficheIds[0]}/deploiement`],
      ['/homologations/1/lot?type=actions', '/homologations/1/lot?type=actions'],
      ['/homologations/1/lots', '/homologations/1/lots'],
    ];
    await largeDb('fiches').where('id', large.ficheIds[0]).update({ rollout: true });
    for (const [smallUrl, largeUrl] of pages) {
      const a = await queriesFor(small.db, smallAgent, smallUrl!);
      const b = await queriesFor(largeDb, largeAgent, largeUrl!);
      expect(b, `${smallUrl}: ${a} statements on the demo, ${b} on the large plan`).to.be.at.most(a);
    }
  });
});

describe('SQL queries per page do not grow with the number of homologations', function () {
  this.timeout(300_000);
  /**
   * The demo with generated homologations: a few in all (at least 2, one generated), and 200 in all. The first generated
   * one is the same in both (same seed).
   */
  let few: TestApp;
  let many: TestApp;
  let demoCount: number;
  let generated: { few: SyntheticHomologations; many: SyntheticHomologations };
  const options = { fichesEach: 4, stepsEach: 3, seed: 11, now: NOW };
  const TOTAL = 200;

  before(async () => {
    [few, many] = await Promise.all([freshApp(), freshApp()]);
    demoCount = Number((await few.db('plans').count({ n: '*' }).first())!.n);
    generated = {
      few: await generateSyntheticHomologations(few.db, { ...options, count: Math.max(1, 2 - demoCount) }),
      many: await generateSyntheticHomologations(many.db, { ...options, count: TOTAL - demoCount }),
    };
  });
  after(async () => {
    await Promise.all([few?.close(), many?.close()]);
  });

  it('the generated homologations are there, each with a perimeter and fiches; decisions and meetings for some', async () => {
    for (const [t, g] of [[few, generated.few], [many, generated.many]] as const) {
      const total = Number((await t.db('plans').count({ n: '*' }).first())!.n);
      expect(total, 'homologations').to.equal(demoCount + g.ids.length);
      const [fiches, signatures, meetings, perimeters] = await Promise.all(['fiches', 'signatures', 'meetings', 'plan_instances']
        .map((table) => t.db(table).whereIn('plan_id', g.ids).countDistinct({ n: 'plan_id' }).first()));
      expect(Number(fiches!.n), 'generated homologations with fiches').to.equal(g.ids.length);
      expect(Number(perimeters!.n), 'generated homologations with a perimeter').to.equal(g.ids.length);
      expect(Number(signatures!.n), 'generated homologations with a decision').to.equal(g.decided.length).and.to.be.at.least(Math.ceil(g.ids.length / 2));
      expect(Number(meetings!.n), 'generated homologations with meetings').to.equal(g.withMeeting.length).and.to.be.at.least(Math.ceil(g.ids.length / 3));
    }
    expect(demoCount + generated.few.ids.length).to.be.at.least(2);
    expect(demoCount + generated.many.ids.length).to.equal(TOTAL);
    // the first generated homologation is the same in both databases
    expect(generated.few.ids[0]).to.equal(generated.many.ids[0]);
    expect(generated.many.decided).to.include(generated.many.ids[0]);
  });

  it(`counts the same statements with a few and with ${TOTAL} homologations: home page, dashboards, a homologation page`, async () => {
    const first = generated.few.ids[0]!;
    const pages = ['/homologations', '/homologations?etat=archivee', '/homologations/1', '/homologations/1/tableau-de-bord', '/homologations/1/seances', `/homologations/${first}`, `/homologations/${first}/tableau-de-bord`];
    // the organisation's dashboard, once it exists
    if (hasGetRoute(many.app, '/tableau-de-bord')) pages.push('/tableau-de-bord');
    for (const account of [ACCOUNTS.editor, ACCOUNTS.commune]) {
      const [a, b] = [await signIn(few.app, account), await signIn(many.app, account)];
      for (const url of pages) {
        // the commune agent only enters the homologations that touch its commune
        if (account === ACCOUNTS.commune && url.startsWith(`/homologations/${first}`)) continue;
        const small = await queriesFor(few.db, a, url);
        const large = await queriesFor(many.db, b, url);
        expect(large, `${url} as ${account}: ${small} statements with ${demoCount + generated.few.ids.length} homologations, ${large} with ${TOTAL}`).to.equal(small);
      }
    }
  });

  it(`the home page with ${TOTAL} homologations lists every one not archived`, async () => {
    const agent = await signIn(many.app, ACCOUNTS.editor);
    const { text } = await measure(many.db, agent, '/homologations');
    const rows = await many.db('plans').whereIn('id', generated.many.ids).select('title', 'archived_at');
    const current = rows.filter((r) => !r.archived_at).map((r) => String(r.title));
    expect(current.length, 'some generated homologations are archived, most are not').to.be.within(TOTAL / 2, rows.length - 1);
    const missing = current.filter((title) => !new RegExp(`${title}(?!\\d)`).test(text));
    expect(missing, 'current homologations missing from the home page').to.deep.equal([]);
  });
});
