import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Server } from 'node:http';
import AxeBuilder from '@axe-core/playwright';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { DEMO_PASSWORD } from '../../db/seeds/demo';
import { freshApp, type TestApp } from '../helpers';

export const SHOTS = path.resolve('screenshots/e2e');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's chromium, headless, as every browser test drives it. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium introuvable (${CHROMIUM}) : apt-get install -y chromium, ou CHROMIUM_PATH=…`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The app served on a real localhost port, and Debian's chromium driving it. */
export async function startBrowserSession(): Promise<{ t: TestApp; base: string; browser: Browser; stop(): Promise<void> }> {
  mkdirSync(SHOTS, { recursive: true });
  const t = await freshApp();
  const server: Server = await new Promise((resolve) => {
    const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchChromium();
  return {
    t, base, browser,
    async stop() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    },
  };
}

/**
 * Every page a test reaches goes through here: a screenshot for a person to look at,
 * and axe-core's RGAA-relevant rules (WCAG 2.1 A and AA); serious or critical violations fail the test.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const blocking = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = blocking.map((v) => `${v.id} (${v.impact}) : ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`);
  expect(report, `Accessibilité, page ${name} (${page.url()})`).to.deep.equal([]);
}

export async function signInWithMouse(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/connexion`);
  await page.fill('#email', email);
  await page.fill('#password', DEMO_PASSWORD);
  await page.click('button:has-text("Se connecter")');
  await page.waitForURL(`${base}/homologations`);
}

/** A desktop page (1280 × 900, French) of a new browser context, signed in with the mouse as `email`. */
export async function signedInPage(browser: Browser, base: string, email: string, options: { acceptDownloads?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR', ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await signInWithMouse(page, base, email);
  return page;
}
