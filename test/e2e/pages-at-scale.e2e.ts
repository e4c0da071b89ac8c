import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generateSyntheticPlan } from '../../db/seeds/synthetic';
import { createApp } from '../../src/app';
import { migrate } from '../../src/db';
import { emptyDatabase, NOW, TEST_PASSWORDS } from '../helpers';
import { checkPage } from './browser';

/**
 * A large homologation in a real browser: the fiche list a page at a time (searched, filtered, paged with the mouse
 * and the keyboard), the dashboard summarised (its commune filter a field for a name), every page passing axe, at
 * desktop and phone widths.
 */
describe('a large homologation in a real browser (chromium)', function () {
  this.timeout(240_000);
  let db: Knex;
  let drop: () => Promise<void>;
  let server: Server;
  let browser: Browser;
  let base: string;
  let credentials: { email: string; password: string };

  before(async () => {
    const empty = await emptyDatabase('pages-e2e');
    drop = empty.drop;
    db = empty.open();
    await migrate(db);
    const plan = await generateSyntheticPlan(db, { communes: 150, instances: 600, fiches: 120, steps: 600, notes: 0, seed: 5, now: NOW });
    credentials = { email: plan.userEmail, password: plan.password };
    const app = createApp({ db, config: { ...empty.config, demo: false }, now: () => NOW, passwords: TEST_PASSWORDS });
    server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await db?.destroy();
    await drop?.();
  });

  async function signedIn(width: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'fr-FR' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${base}/connexion`);
    await page.fill('#email', credentials.email);
    await page.fill('#password', credentials.password);
    await page.click('button:has-text("Se connecter")');
    await page.waitForURL(`${base}/homologations`);
    return page;
  }
  const numbers = (page: Page) => page.locator('section[aria-labelledby="fiches"] tbody tr td:first-child').allInnerTexts();

  it('pages through the fiche list with its filters kept, by mouse and by keyboard; the pages pass axe', async () => {
    const page = await signedIn(1280);
    try {
      await page.goto(`${base}/homologations/1`);
      expect(await numbers(page)).to.have.length(50);
      await checkPage(page, 'grand-plan-page-1');
      await page.fill('#fiches-q', 'synthetique');
      await page.selectOption('#fiches-avancement', 'en_cours');
      await page.click('button:has-text("Afficher les fiches")');
      await page.waitForURL(/\?q=synthetique&avancement=en_cours(&equipe=)?#fiches$/);
      const first = await numbers(page);
      expect(first.length).to.be.within(1, 50);
      if (await page.locator('a.fr-pagination__link--next[href]').count()) {
        await page.click('a.fr-pagination__link--next');
        await page.waitForURL(/page=2#fiches$/);
        expect(await page.inputValue('#fiches-q')).to.equal('synthetique');
        expect(await page.locator('a[aria-current="page"]').innerText()).to.match(/^Page 2 sur \d+$/);
        expect(await page.locator('section[aria-labelledby="fiches"] tbody').innerText()).to.contain('En cours').and.not.contain('Non démarré');
      }
      // by keyboard: from the unfiltered list, the next page's link, then the previous one
      await page.goto(`${base}/homologations/1#fiches`);
      await page.focus('a.fr-pagination__link--next');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\?page=2#fiches$/);
      expect((await numbers(page))[0]).to.equal('51');
      await checkPage(page, 'grand-plan-page-2');
      await page.goto(`${base}/homologations/1?page=99`);
      expect(await page.locator('#fiches-page-absente').innerText()).to.contain("La page 99 n'existe pas");
      await checkPage(page, 'grand-plan-page-absente');
    } finally {
      await page.context().close();
    }
  });

  it('summarises the dashboard: the communes to follow first, the oldest late fiches, the commune filter by name; axe at 1280 and 375 px', async () => {
    for (const width of [1280, 375]) {
      const page = await signedIn(width);
      try {
        await page.goto(`${base}/homologations/1/tableau-de-bord`);
        expect(await page.locator('#communes-resume').innerText()).to.contain('communes ont des instances dans ce périmètre');
        expect(await page.locator('#retards-resume').innerText()).to.contain('fiches en retard depuis le plus longtemps');
        await checkPage(page, `grand-tableau-de-bord-${width}`);
        const name = await page.locator('section[aria-labelledby="communes"] tbody tr:nth-child(5) th').innerText();
        await page.fill('#f-commune', name);
        await page.click('button:has-text("Filtrer")');
        await page.waitForURL(/commune=/);
        expect(await page.locator('section[aria-labelledby="communes"] tbody tr:first-child th').innerText()).to.equal(name);
        expect(await page.inputValue('#f-commune')).to.equal(name);
        await page.goto(`${base}/homologations/1?page=2`);
        await checkPage(page, `grand-plan-page-2-${width}`);
      } finally {
        await page.context().close();
      }
    }
  });
});
