// Starts the app on a fresh demo database, signs in with each demo account in headless
// Chromium (Debian's package) and writes full-page screenshots to ./screenshots (git-ignored).
// Usage: npm run screenshots
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../db/seeds/demo';

const port = 3900 + Math.floor(Math.random() * 90);
const base = `http://127.0.0.1:${port}`;
const out = path.resolve('screenshots');
mkdirSync(out, { recursive: true });

const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
  env: { ...process.env, PORT: String(port), DATA_DIR: mkdtempSync(path.join(tmpdir(), 'plan-shots-')), NODE_ENV: 'development' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise<void>((resolve, reject) => {
  server.stdout!.on('data', (d: Buffer) => (String(d).includes('http://localhost') ? resolve() : undefined));
  server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  for (const account of DEMO_ACCOUNTS) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR' });
    const shot = (name: string) => page.screenshot({ path: path.join(out, `${account.role}-${name}.png`), fullPage: true });
    await page.goto(`${base}/connexion`);
    if (account.role === 'admin') await shot('connexion');
    await page.fill('#email', account.email);
    await page.fill('#password', DEMO_PASSWORD);
    await page.click('button[type=submit]:has-text("Se connecter")');
    await page.waitForURL(`${base}/homologations`);
    await shot('accueil');
    await page.goto(`${base}/homologations/1`);
    await shot('plan');
    await page.click('a:has-text("Sécuriser l\'accès aux demandes")');
    await shot('fiche');
    if (account.role === 'editor' || account.role === 'admin') {
      await page.click('a:has-text("Modifier la fiche")');
      await shot('modifier');
      await page.fill('#title', '');
      await page.fill('#targetDate', '');
      await page.click('button[value=save] >> nth=0');
      await shot('modifier-erreurs');
    }
    if (account.role === 'admin') {
      for (const [url, name] of [['/admin', 'admin'], ['/admin/instances', 'instances'], ['/admin/utilisateurs/nouveau', 'utilisateur'], ['/admin/journal', 'journal'], ['/homologations/1/fiches/9999', '404'],
        ['/admin/points', 'points'], ['/communes/1/point', 'point-apercu'], ['/communes/1/contacts', 'contacts'], ['/admin/courriels', 'courriels'], ['/admin/courriels/1', 'courriel'], ['/alertes', 'alertes']]) {
        await page.goto(`${base}${url}`);
        await shot(name!);
      }
    }
    if (account.role === 'commune') {
      await page.goto(`${base}/fiches/2`);
      await shot('fiche-refusee');
    }
    await page.close();
  }
  // the same pages on a phone's width (375 px), as the project team's editor
  const editor = DEMO_ACCOUNTS.find((a) => a.role === 'editor')!;
  const phone = await browser.newPage({ viewport: { width: 375, height: 812 }, locale: 'fr-FR' });
  await phone.goto(`${base}/connexion`);
  await phone.fill('#email', editor.email);
  await phone.fill('#password', DEMO_PASSWORD);
  await phone.click('button[type=submit]:has-text("Se connecter")');
  await phone.waitForURL(`${base}/homologations`);
  for (const [url, name] of [['/homologations', 'accueil'], ['/homologations/1', 'plan'], ['/homologations/1/tableau-de-bord', 'tableau-de-bord'], ['/compte', 'compte']]) {
    await phone.goto(`${base}${url}`);
    await phone.screenshot({ path: path.join(out, `mobile-${name}.png`), fullPage: true });
  }
  await phone.close();
  console.log(`Captures écrites dans ${out}`);
} finally {
  await browser.close();
  server.kill();
}
