import { expect } from 'chai';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { aFiche, aHomologation } from '../builders';
import { ACCOUNTS, type TestApp } from '../helpers';
import { checkPage, SHOTS, signedInPage, startBrowserSession } from './browser';

describe('"Mes actions" in a real browser (chromium)', function () {
  this.timeout(180_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;
  let hid: number;
  let ficheId: number;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    const instances = await t.db('instances').where({ environment: 'prod' }).orderBy('id').limit(1).pluck('id');
    hid = await aHomologation().named('Portail citoyen (actions nommées)').withInstances(...instances.map(Number)).insert(t.db);
    const team = Number((await t.db('teams').orderBy('id').first()).id);
    ficheId = await aFiche().inHomologation(hid).titled('Centraliser les journaux').ownedBy(team).due('2026-12-31').withSteps(2).insert(t.db);
    page = await signedInPage(browser, base, ACCOUNTS.editor);
  });
  after(async () => {
    await page?.context().close();
    await session?.stop();
  });

  it('assigns a step to oneself with a date, finds it in "Mes actions", and marks it done with a note', async () => {
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheId}/modifier`);
    await page.selectOption('#steps-0-assignee', { label: 'Julien Petit (compte)' });
    // a date already passed on the tests' clock: the step is late, the fiche is not
    await page.fill('#steps-0-targetDate', '2026-03-01');
    await checkPage(page, 'actions-formulaire');
    await page.click('button:has-text("Enregistrer")');
    await page.waitForURL(`${base}/homologations/${hid}/fiches/${ficheId}`);
    expect(await page.locator('main').innerText()).to.include('Responsable : Julien Petit · pour le 01/03/2026');

    await page.click('nav >> text=Mes actions');
    await page.waitForURL(`${base}/mes-actions`);
    // the demo gives this account steps of its own: this one is the card of this fiche
    const card = await page.locator('li.app-my-action', { hasText: 'Centraliser les journaux' }).innerText();
    expect(card).to.include('Action 1');
    expect(card).to.include('Pour le 01/03/2026');
    expect(card).to.include('En retard');
    expect(await page.locator('main h2').first().innerText()).to.match(/\d+ en retard/);
    await checkPage(page, 'mes-actions');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.screenshot({ path: path.join(SHOTS, 'mes-actions-375.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    const step = await t.db('steps').where({ fiche_id: ficheId, position: 1 }).first();
    await page.selectOption(`#step-${step.id}-status`, 'fait');
    await page.fill(`#step-${step.id}-note`, 'Collecteur installé.');
    await page.click(`form[action="/mes-actions/etapes/${step.id}"] button`);
    await page.waitForURL(`${base}/mes-actions`);
    expect(await page.locator('main').innerText()).to.include("L'action est enregistrée : Fait.");
    expect((await t.db('steps').where({ id: step.id }).first()).status).to.equal('fait');
  });
});
