import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ACCOUNTS, ficheIdByNumber, type TestApp } from '../helpers';
import { checkPage, signedInPage, signInWithMouse, startBrowserSession } from './browser';

describe('evidence in a real browser (chromium)', function () {
  this.timeout(180_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;
  let fiche: number;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'evidence-e2e-'));
  const report = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(300_000)]);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    fiche = await ficheIdByNumber(t.db, 1);
    page = await signedInPage(browser, base, ACCOUNTS.editor, { acceptDownloads: true });
  });
  after(async () => {
    await page?.context().close();
    await session?.stop();
  });

  it('attaches a PDF to a fiche (an error first, told next to its field), then the committee opens it', async () => {
    await page.goto(`${base}/homologations/1/fiches/${fiche}`);
    await page.click('#pieces a:has-text("Joindre une pièce")');
    await page.waitForURL(/\/pieces\/nouvelle\?objet=fiche/);
    await checkPage(page, 'pieces-formulaire');

    // sent without a title: refused, the file asked for again
    const file = path.join(dir, 'rapport-test-intrusion.pdf');
    writeFileSync(file, report);
    await page.setInputFiles('#fichier', file);
    await page.click('button:has-text("Joindre la pièce")');
    expect(await page.locator('#title-error').innerText()).to.include('Donnez un titre à la pièce');
    await checkPage(page, 'pieces-formulaire-erreur');

    await page.fill('#title', 'Rapport du test d’intrusion de mars');
    await page.setInputFiles('#fichier', file);
    await page.click('button:has-text("Joindre la pièce")');
    await page.waitForURL(`${base}/homologations/1/fiches/${fiche}#pieces`);
    const section = await page.locator('#pieces').innerText();
    expect(section).to.include('Rapport du test d’intrusion de mars').and.include(sha(report));
    await checkPage(page, 'pieces-fiche');
    await page.click('#pieces a:has-text("Détails et versions")');
    await checkPage(page, 'pieces-versions');

    // the committee (read-only) downloads it
    const committee = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR', acceptDownloads: true });
    const reader = await committee.newPage();
    try {
      await signInWithMouse(reader, base, ACCOUNTS.viewer);
      await reader.goto(`${base}/homologations/1/fiches/${fiche}`);
      expect(await reader.locator('#pieces a:has-text("Joindre une pièce")').count(), 'no add link for the committee').to.equal(0);
      const [download] = await Promise.all([reader.waitForEvent('download'), reader.click('#pieces a:has-text("Rapport du test d’intrusion de mars")')]);
      expect(download.suggestedFilename()).to.equal('rapport-test-intrusion.pdf');
      expect(sha(readFileSync((await download.path())!))).to.equal(sha(report));
    } finally {
      await committee.close();
    }
  });
});
