import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { AGENDA_FICHES_PER_PAGE } from '../../src/domain/agenda-pages';
import { aFiche } from '../builders';
import { ACCOUNTS, type TestApp } from '../helpers';
import { checkPage, signedInPage, startBrowserSession } from './browser';

// A long agenda read in a browser, a page at a time: the presentation of the plan leads to a fiche's detail on its
// page, « Aller à la fiche » finds one by its number, the pagination goes on; every page passes axe, at 375 px too.
describe('the agenda of a long meeting, page by page, in a real browser (chromium)', function () {
  this.timeout(240_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;
  let url: string;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    for (let i = 0; i < 45; i++) await aFiche().inHomologation(1).titled(`Fiche de la revue ${i + 1}`).withSteps(2).insert(t.db);
    const rows = await t.db('meetings').where({ plan_id: 1 }).orderBy('starts_at').select('id', 'held_at');
    url = `${base}/homologations/1/seances/${Number(rows.find((r) => !r.held_at).id)}/ordre-du-jour`;
  });
  after(async () => session?.stop());
  afterEach(async () => page?.context().close());

  it('leads from the presentation of the plan to a fiche on its page, finds a fiche by its number, pages on', async () => {
    page = await signedInPage(browser, base, ACCOUNTS.editor);
    await page.goto(url);
    const total = Number((await t.db('fiches').where({ plan_id: 1 }).count({ n: '*' }).first())!.n);
    const pages = 1 + Math.ceil(total / AGENDA_FICHES_PER_PAGE);
    expect(await page.locator('#pages').innerText()).to.contain(`Page 1 sur ${pages}`).and.contain('Ordre du jour complet');
    await checkPage(page, 'ordre-du-jour-page-1');

    // a fiche of the third page, from its link in the presentation of the plan
    const target = 2 * AGENDA_FICHES_PER_PAGE + 3;
    await page.click(`#section-plan a[href$="#fiche-${target}"]`);
    await page.waitForURL(new RegExp(`page=${Math.ceil(target / AGENDA_FICHES_PER_PAGE) + 1}#fiche-${target}$`));
    expect(await page.locator(`#fiche-${target} h2`).isVisible()).to.equal(true);
    await checkPage(page, 'ordre-du-jour-page-fiche');

    // by its number
    await page.fill('#fiche', '7');
    await page.click('button:has-text("Afficher la fiche")');
    await page.waitForURL(/page=2#fiche-7$/);
    expect(await page.locator('#fiche-7 h2').innerText()).to.contain('n°7');
    await page.fill('#fiche', '999');
    await page.click('button:has-text("Afficher la fiche")');
    expect(await page.locator('#fiche-error').innerText()).to.contain("La fiche n°999 n'est pas détaillée");
    await checkPage(page, 'ordre-du-jour-fiche-absente');

    // on to the next page, then the last, at a phone's width
    await page.goto(`${url}?page=2`);
    await page.click('nav[aria-label="Pages de l\'ordre du jour"] a:has-text("Page suivante")');
    await page.waitForURL(/page=3$/);
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${url}?page=${pages}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(375);
    expect(await page.locator('main').innerText()).to.contain('Questions diverses');
    await checkPage(page, 'ordre-du-jour-derniere-page-375');
  });

  it("shows a commune's agent its own pages only, axe clean", async () => {
    page = await signedInPage(browser, base, ACCOUNTS.commune);
    await page.goto(url);
    await checkPage(page, 'ordre-du-jour-commune');
    expect(await page.locator('main').innerText()).to.contain('Fiche de la revue').and.contain('Villeurbanne');
    expect(await page.locator('main').innerText()).not.to.contain('Vénissieux');
  });
});
