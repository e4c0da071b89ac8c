import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { DEMO_ACCOUNTS } from '../../db/seeds/demo';
import type { TestApp } from '../helpers';
import { checkPage, signInWithMouse, startBrowserSession } from './browser';

/**
 * The two renderings of every page — the State's design system (State services only) and the neutral one —
 * at a desktop and a phone width, for every role of the demo: pages pass axe, the phone menu opens on the
 * account and the sign-out, tables scroll inside their box, and a neutral page carries nothing of the State.
 */
const IDENTITIES = ['neutre', 'etat'] as const;
type IdentityName = (typeof IDENTITIES)[number];
const WIDTHS = [1280, 375] as const;

async function wear(t: TestApp, identity: IdentityName): Promise<void> {
  await t.db('organisation_identity').where({ id: 1 }).update({ nature: identity === 'etat' ? 'etat' : 'autre', version: t.db.raw('version + 1') });
}

async function open(page: Page, url: string, identity: IdentityName): Promise<void> {
  const res = await page.goto(url);
  expect(res!.status(), url).to.be.lessThan(400);
  // the DSFR's script marks <html> once it has set up its components (the menu among them)
  if (identity === 'etat') await page.waitForSelector('html[data-fr-js="true"]', { state: 'attached' });
}

describe('the two identities in a real browser (chromium), desktop and phone, every role', function () {
  this.timeout(180_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let ficheId: number;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    // a fiche every role of the demo may read (it touches the Villeurbanne instances)
    ficheId = (await t.db('fiches').where('title', 'like', 'Sécuriser l%').first()).id;
  });
  after(async () => session?.stop());

  const newPage = async (width: number) => {
    const context = await browser.newContext({ viewport: { width, height: width < 500 ? 800 : 900 }, locale: 'fr-FR' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    return page;
  };

  for (const identity of IDENTITIES) {
    describe(identity === 'etat' ? 'State service (DSFR)' : 'another organisation (neutral)', () => {
      before(async () => wear(t, identity));

      it('sign-in page and legal pages, at both widths', async () => {
        const page = await newPage(1280);
        try {
          for (const width of WIDTHS) {
            await page.setViewportSize({ width, height: width < 500 ? 800 : 900 });
            await open(page, `${base}/connexion`, identity);
            await checkPage(page, `${identity}-${width}-anonyme-connexion`);
            // the demo accounts' table is whole: nothing sticks out of the page
            expect(await page.evaluate(() => document.documentElement.scrollWidth), 'largeur de la page de connexion').to.be.at.most(width);
            for (const [name, url] of [['accessibilite', '/accessibilite'], ['mentions-legales', '/mentions-legales'], ['donnees-personnelles', '/donnees-personnelles']]) {
              await open(page, `${base}${url}`, identity);
              await checkPage(page, `${identity}-${width}-anonyme-${name}`);
            }
          }
          // every footer links to them
          await open(page, `${base}/connexion`, identity);
          for (const href of ['/accessibilite', '/mentions-legales', '/donnees-personnelles']) {
            expect(await page.locator(`footer a[href="${href}"]`).count(), href).to.equal(1);
          }
          expect(await page.locator('footer a[href="/accessibilite"]').innerText()).to.contain('non conforme');
        } finally {
          await page.context().close();
        }
      });

      for (const account of DEMO_ACCOUNTS) {
        const role = account.role;
        it(`${role}: home, plan, fiche${role === 'admin' ? ', administration' : ''} at 1280 and 375 px; the phone menu holds the account and signs out`, async () => {
          const page = await newPage(1280);
          try {
            await signInWithMouse(page, base, account.email);
            const pages: [string, string][] = [['accueil', '/homologations'], ['plan', '/homologations/1'], ['fiche', `/homologations/1/fiches/${ficheId}`]];
            if (role === 'admin') pages.push(['admin', '/admin'], ['identite', '/admin/identite']);
            for (const width of WIDTHS) {
              await page.setViewportSize({ width, height: width < 500 ? 800 : 900 });
              for (const [name, url] of pages) {
                await open(page, `${base}${url}`, identity);
                await checkPage(page, `${identity}-${width}-${role}-${name}`);
                // nothing sticks out of the page sideways: a wide table scrolls inside its own box
                expect(await page.evaluate(() => document.documentElement.scrollWidth), `largeur de ${url}`).to.be.at.most(width);
                if (name === 'plan' && width === 375) {
                  const header = page.locator('th', { hasText: 'Date cible' });
                  await header.scrollIntoViewIfNeeded();
                  expect(await header.isVisible(), 'colonne « Date cible » du plan').to.equal(true);
                }
              }
            }
            // at 375 px the account and the sign-out are behind the menu button
            await open(page, `${base}/homologations`, identity);
            const accountLink = page.locator('#menu-principal a[href="/compte"]');
            const signOut = page.locator('#menu-principal button', { hasText: 'Se déconnecter' });
            expect(await signOut.isVisible(), 'menu fermé').to.equal(false);
            await page.click('#bouton-menu');
            await accountLink.waitFor({ state: 'visible' });
            expect(await accountLink.innerText()).to.contain(account.name);
            expect(await page.locator('#menu-principal a', { hasText: 'Homologations' }).isVisible()).to.equal(true);
            expect(await signOut.isVisible(), 'bouton « Se déconnecter »').to.equal(true);
            await checkPage(page, `${identity}-375-${role}-menu`);
            await signOut.click();
            await page.waitForURL(`${base}/connexion`);
            await page.goto(`${base}/homologations`);
            expect(page.url()).to.contain('/connexion');
          } finally {
            await page.context().close();
          }
        });
      }
    });
  }

  it('without JavaScript, the neutral menu stays open on a phone: navigation, account and sign-out are reachable', async () => {
    await wear(t, 'neutre');
    const context = await browser.newContext({ viewport: { width: 375, height: 800 }, locale: 'fr-FR', javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      await signInWithMouse(page, base, DEMO_ACCOUNTS[1]!.email);
      expect(await page.locator('#bouton-menu').isVisible(), 'bouton Menu inutile sans script').to.equal(false);
      for (const link of ['a[href="/homologations"]', 'a[href="/compte"]', 'button:has-text("Se déconnecter")']) {
        expect(await page.locator(`#menu-principal ${link}`).isVisible(), link).to.equal(true);
      }
      // the breadcrumb's trail is shown, its (scripted) button hidden
      await page.goto(`${base}/homologations/1/fiches/${ficheId}`);
      expect(await page.locator('.fr-breadcrumb__list').isVisible()).to.equal(true);
      expect(await page.locator('.fr-breadcrumb__button').isVisible()).to.equal(false);
    } finally {
      await context.close();
    }
  });

  it('a neutral page loads nothing of the State: no DSFR file, no Marianne font, no bloc marque', async () => {
    await wear(t, 'neutre');
    const page = await newPage(1280);
    try {
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      await page.goto(`${base}/connexion`);
      await page.waitForLoadState('networkidle');
      await signInWithMouse(page, base, DEMO_ACCOUNTS[0]!.email);
      await page.goto(`${base}/homologations/1`);
      await page.waitForLoadState('networkidle');
      expect(requested.filter((u) => new URL(u).pathname.startsWith('/dsfr/')), 'fichiers du DSFR').to.deep.equal([]);
      expect(requested.filter((u) => /marianne/i.test(u)), 'police Marianne').to.deep.equal([]);
      expect(requested.some((u) => u.includes('/static/css/neutral.css')), 'feuille neutre chargée').to.equal(true);
      expect(requested.some((u) => /atkinson-hyperlegible-latin-400-normal\.woff2/.test(u)), 'police neutre chargée').to.equal(true);
      expect(await page.locator('.fr-logo, .fr-header__brand, .fr-footer__brand').count()).to.equal(0);
      expect(await page.locator('body').innerText()).not.to.match(/République\s+française/i);
      // the State's blue is nowhere in the page's computed colours
      const blue = await page.evaluate(() => {
        const found: string[] = [];
        for (const el of Array.from(document.querySelectorAll('body *'))) {
          const s = getComputedStyle(el);
          for (const c of [s.color, s.backgroundColor, s.borderTopColor, s.borderLeftColor]) if (c === 'rgb(0, 0, 145)') found.push(el.tagName);
        }
        return found;
      });
      expect(blue, 'bleu de l\'État (#000091)').to.deep.equal([]);
      // a State service wears it, for comparison
      await wear(t, 'etat');
      requested.length = 0;
      await page.goto(`${base}/homologations/1`);
      await page.waitForLoadState('networkidle');
      expect(requested.some((u) => new URL(u).pathname.startsWith('/dsfr/'))).to.equal(true);
      expect(await page.locator('.fr-header .fr-logo').count()).to.equal(1);
    } finally {
      await page.context().close();
      await wear(t, 'neutre');
    }
  });
});
