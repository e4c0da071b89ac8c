import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { loadOidcConfig } from '../../src/config';
import { ACCOUNTS, freshApp, type TestApp } from '../helpers';
import { type RunningProvider, startOidcProvider } from '../support/oidc-provider';
import { checkPage, launchChromium } from './browser';

/**
 * "S'identifier avec ProConnect" in a real browser (chromium), through a real local provider (the one `npm run
 * oidc:dev` starts): the button on the sign-in page, the provider's page where the agent chooses their account and a
 * second factor, back in the app signed in; then signing out of both. Under both identities: the CSP lets the form's
 * redirect reach the provider, and the button wears the right look.
 */
describe('sign-in through ProConnect in a real browser (chromium)', function () {
  this.timeout(180_000);
  let provider: RunningProvider;
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let server: http.Server;

  before(async () => {
    // the app's address first (the provider must know where to send the browser back), then the app behind it
    let handler: http.RequestListener = (_req, res) => res.end();
    server = http.createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    provider = await startOidcProvider({
      interactive: true,
      clients: [{
        client_id: 'plan-action-rgs', client_secret: 'secret-du-client-e2e-0123456789', redirect_uris: [`${base}/connexion/oidc/retour`],
        post_logout_redirect_uris: [`${base}/connexion`], userinfo_signed_response_alg: 'RS256',
      }],
      accounts: [{ sub: 'sub-equipe-projet', email: ACCOUNTS.editor, given_name: 'Camille', usual_name: 'Martin', siret: '20004697700019' }],
    });
    t = await freshApp({
      oidc: loadOidcConfig({ OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID: 'plan-action-rgs', OIDC_CLIENT_SECRET: 'secret-du-client-e2e-0123456789', OIDC_USERINFO_SIGNED: 'RS256' }, base),
    });
    handler = t.app;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await t?.close();
    await provider?.close();
  });

  for (const identity of ['autre', 'etat'] as const) {
    it(`signs in with the button, the provider's page and a second factor, then signs out of both (${identity === 'etat' ? 'State identity' : 'neutral identity'})`, async () => {
      await t.db('organisation_identity').where({ id: 1 }).update({ nature: identity, version: t.db.raw('version + 1') });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR' });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const blocked: string[] = [];
      page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
      try {
        await page.goto(`${base}/connexion`);
        const button = page.getByRole('button', { name: /S’identifier avec\s+ProConnect/ });
        await expect(await button.isVisible()).to.equal(true);
        await checkPage(page, `proconnect-${identity}-connexion`);
        await button.click();
        // at the provider: choose the account, tick the second factor
        await page.waitForURL(`${provider.issuer}/**`);
        await page.check('input[name="mfa"]');
        await page.click('button[value="login"]');
        await page.waitForURL(`${base}/homologations`);
        expect(await page.locator('h1').first().textContent()).to.match(/Homologations/);
        expect(blocked).to.deep.equal([]);
        const login = await t.db('audit_log').where({ action: 'login' }).orderBy('id', 'desc').first();
        expect(login.summary).to.include('par ProConnect, double authentification attestée par le fournisseur');
        // signing out: the provider asks to confirm, then the browser is back on the sign-in page
        const ended = provider.endedSessions;
        await page.getByRole('button', { name: 'Se déconnecter' }).first().click();
        await page.waitForURL(`${provider.issuer}/**`);
        await page.click('button[value="yes"]');
        await page.waitForURL(`${base}/connexion**`);
        expect(provider.endedSessions).to.equal(ended + 1);
        await page.goto(`${base}/homologations`);
        expect(new URL(page.url()).pathname).to.equal('/connexion');
      } finally {
        await context.close();
      }
    });
  }
});
