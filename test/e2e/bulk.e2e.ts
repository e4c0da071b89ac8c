import { expect } from 'chai';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ACCOUNTS, type TestApp } from '../helpers';
import { checkPage, SHOTS, signedInPage, startBrowserSession } from './browser';

/** The project team changes steps of the deck's fiches in bulk, previews, confirms and reviews the operation; the pages hold at 375 px. */
describe('Bulk changes of fiches and steps in a real browser (chromium)', function () {
  this.timeout(240_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let hid: number;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    hid = Number((await t.db('plans').orderBy('id').first()).id);
  });
  after(async () => {
    await session?.stop();
  });

  it('checks steps, previews a new responsible date, confirms, and reads the operation', async () => {
    const page: Page = await signedInPage(browser, base, ACCOUNTS.editor);
    await page.goto(`${base}/homologations/${hid}`);
    await page.click('text=Modifier par lot');
    await page.waitForURL(`${base}/homologations/${hid}/lot`);
    await checkPage(page, 'lot-fiches');
    await page.click('a:has-text("Actions des fiches")');
    await page.waitForURL(/lot\?type=actions$/);
    const boxes = page.locator('tbody input[type="checkbox"]');
    expect(await boxes.count()).to.be.greaterThan(3);
    for (const i of [0, 1, 2]) await boxes.nth(i).check();
    await page.check('#change-date');
    await page.fill('#targetDate', '2026-11-30');
    await page.click('button:has-text("Prévisualiser pour les actions cochées")');
    await page.waitForURL(/lot\/apercu$/);
    expect(await page.locator('main').innerText()).to.include('Nouvelle date cible : 30/11/2026');
    await checkPage(page, 'lot-apercu');
    await page.click('button:has-text("Confirmer")');
    await page.waitForURL(/lots\/\d+$|fiches\/\d+$/);
    const text = await page.locator('main').innerText();
    expect(text).to.match(/3 actions modifiées \(opération par lot n°\d+\)/);
    await checkPage(page, 'lot-operation');
    await page.click('text=Toutes les opérations par lot');
    await checkPage(page, 'lot-operations');

    await page.setViewportSize({ width: 375, height: 800 });
    for (const url of [`/homologations/${hid}/lot?type=actions`, `/homologations/${hid}/lots`]) {
      await page.goto(`${base}${url}`);
      await page.screenshot({ path: path.join(SHOTS, `lot-375-${url.includes('lots') ? 'operations' : 'actions'}.png`), fullPage: true });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${url} tient dans 375 px (les tableaux défilent dans leur boîte)`).to.be.at.most(375);
    }
    expect(Number((await t.db('bulk_operations').where({ plan_id: hid, kind: 'actions' }).count({ n: '*' }).first())!.n)).to.equal(1);
    await page.context().close();
  });
});
