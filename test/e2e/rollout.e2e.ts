import { expect } from 'chai';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ACCOUNTS, ficheIdByNumber, type TestApp } from '../helpers';
import { checkPage, SHOTS, signedInPage, startBrowserSession } from './browser';

/**
 * The deck's fiche 3 rolled out over the communal instances: the project team in two bulk steps, then the Villeurbanne
 * agent marks its own production instance done and answers the fiche's strong side effect.
 */
describe('Rollout per instance and bulk changes in a real browser (chromium)', function () {
  this.timeout(240_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let hid: number;
  let ficheId: number;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    hid = Number((await t.db('plans').orderBy('id').first()).id);
    ficheId = await ficheIdByNumber(t.db, 3);
  });
  after(async () => {
    await session?.stop();
  });

  const statusCounts = async () => {
    const rows: { status: string; n: number | string }[] = await t.db('fiche_rollouts').where({ fiche_id: ficheId }).groupBy('status').select('status', t.db.raw('count(*) as n'));
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  };

  it('the project team rolls fiche 3 out in two bulk steps, each previewed, then reviews the operations', async () => {
    const page: Page = await signedInPage(browser, base, ACCOUNTS.editor);
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheId}`);
    expect(await page.locator('#deploiement').count()).to.equal(1);
    await page.click('text=Voir et mettre à jour la grille des instances');
    await page.waitForURL(`${base}/homologations/${hid}/fiches/${ficheId}/deploiement`);
    await checkPage(page, 'deploiement-grille');

    // step 1: every recette instance not yet done goes "en cours", by filter
    await page.selectOption('#f-env', { label: 'Recette' });
    await page.selectOption('#f-etat', 'pas_fait');
    await page.click('button:has-text("Filtrer")');
    const shown = await page.locator('tbody tr').count();
    expect(shown).to.be.greaterThan(10);
    await page.selectOption('#status', 'en_cours');
    await page.fill('#note', 'Raccordement au service d’authentification en test.');
    await page.click('button[value="affichees"]');
    await page.waitForURL(/deploiement\/apercu$/);
    const preview = await page.locator('main').innerText();
    // the note changes even the instances already under way: every instance displayed changes
    expect(preview).to.include(`${shown} instances passeront à « En cours »`);
    await checkPage(page, 'deploiement-apercu');
    const before = await statusCounts();
    await page.click('button:has-text("Confirmer le changement")');
    await page.waitForURL(/deploiement\?environnement=recette&etat=pas_fait$/);
    expect(await page.locator('main').innerText()).to.match(/\d+ instances mises à jour \(« En cours »\), opération par lot n°\d+/);
    const afterFirst = await statusCounts();
    expect(afterFirst.en_cours ?? 0).to.be.greaterThan(before.en_cours ?? 0);

    // step 2: the production instances of three communes go "fait", checked one by one
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheId}/deploiement?environnement=prod&etat=pas_fait`);
    const boxes = page.locator('tbody input[type="checkbox"]');
    for (const i of [0, 1, 2]) await boxes.nth(i).check();
    await page.selectOption('#status', 'fait');
    await page.click('button[value="cochees"]');
    await page.waitForURL(/deploiement\/apercu$/);
    expect(await page.locator('main').innerText()).to.include('3 instances passeront à « Fait »');
    await page.click('button:has-text("Confirmer le changement de 3 instances")');
    await page.waitForURL(/deploiement\?environnement=prod&etat=pas_fait$/);
    expect((await statusCounts()).fait).to.equal((afterFirst.fait ?? 0) + 3);
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheId}`);
    expect(await page.locator('#deploiement + p, section[aria-labelledby="deploiement"]').first().innerText()).to.match(/Fait sur \d+ des \d+ instances de production/);
    await checkPage(page, 'deploiement-fiche');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheId}/deploiement`);
    await page.screenshot({ path: path.join(SHOTS, 'deploiement-grille-375.png'), fullPage: true });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, 'la page tient dans 375 px (le tableau défile dans sa boîte)').to.be.at.most(375);
    // the operations are reviewable: who, when, what, how many
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/homologations/${hid}/lots`);
    const ops = await page.locator('main').innerText();
    expect(ops).to.include('Julien Petit');
    expect(ops).to.match(/Déploiement par instance/);
    await checkPage(page, 'deploiement-operations');
    await page.context().close();
  });

  it('the Villeurbanne agent marks its own production instance done and acknowledges the strong side effect', async () => {
    const page: Page = await signedInPage(browser, base, ACCOUNTS.commune);
    const villeurbanne = Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id);
    const ownProd = Number((await t.db('instances').where({ commune_id: villeurbanne, environment: 'prod' }).first()).id);
    await page.goto(`${base}/homologations/${hid}/ma-commune`);
    await checkPage(page, 'commune-page');
    await page.click(`a[href="/homologations/${hid}/fiches/${ficheId}/deploiement"]`);
    await page.waitForURL(`${base}/homologations/${hid}/fiches/${ficheId}/deploiement`);
    const grid = await page.locator('main').innerText();
    expect(grid).to.include('Chez vous');
    expect(await page.locator('tbody tr').count(), 'only its own instances').to.equal(2);
    expect(await page.locator('#dueOn').count(), 'no date for a commune').to.equal(0);
    await checkPage(page, 'commune-deploiement');
    await page.check(`#i-${ownProd}`);
    await page.selectOption('#status', 'fait');
    await page.fill('#note', 'Double authentification activée pour nos agents.');
    await page.click('button[value="cochees"]');
    await page.waitForURL(/deploiement\/apercu$/);
    expect(await page.locator('main').innerText()).to.include('1 instance passera à « Fait »');
    await page.click('button:has-text("Confirmer le changement de 1 instance")');
    await page.waitForURL(`${base}/homologations/${hid}/fiches/${ficheId}/deploiement`);
    const row = await t.db('fiche_rollouts').where({ fiche_id: ficheId, instance_id: ownProd }).first();
    expect([row.status, Number(row.updated_by_commune)]).to.deep.equal(['fait', villeurbanne]);

    // the strong side effect of fiche 3, acknowledged from the commune's page
    await page.goto(`${base}/homologations/${hid}/ma-commune`);
    await page.check(`#f${ficheId}-answer-prise_acte`);
    await page.fill(`#f${ficheId}-comment`, 'Nos agents seront inscrits dans l’annuaire avant la bascule.');
    await page.click(`form[action="/homologations/${hid}/fiches/${ficheId}/commune/effets"] button[type="submit"]`);
    await page.waitForLoadState('load');
    const answer = await t.db('side_effect_answers').where({ fiche_id: ficheId, commune_id: villeurbanne }).first();
    expect(answer?.answer).to.equal('prise_acte');
    await checkPage(page, 'commune-page-apres');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/homologations/${hid}/ma-commune`);
    await page.screenshot({ path: path.join(SHOTS, 'commune-page-375.png'), fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(375);
    await page.context().close();

    // the project team reads the answer on the fiche's page
    const team: Page = await signedInPage(browser, base, ACCOUNTS.editor);
    await team.goto(`${base}/homologations/${hid}/fiches/${ficheId}`);
    const fiche = await team.locator('main').innerText();
    expect(fiche).to.include('Villeurbanne');
    expect(fiche).to.match(/Prise d.acte/);
    await team.context().close();
  });
});
