import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DEMO_PASSWORD } from '../../db/seeds/demo';
import { openDatabase } from '../../src/db';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// `npm start` runs the bundle of scripts/build.mjs with node alone. The pages that load a library when first used
// (spreadsheet export, PDF, QR code) and the background work (e-mails rendered from their views) work from it, and
// each finds its files (views, fonts) from where its source lies.
describe('npm start (scripts/start.mjs): the bundled server', function () {
  this.timeout(120_000);
  let child: ChildProcess;
  let dir: string;
  let out = '';
  let err = '';
  let base = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plan-start-'));
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, PORT: '0', NODE_ENV: 'development' };
    for (const name of ['SESSION_SECRET', 'DATABASE_URL', 'TEST_DATABASE_URL', 'SMTP_URL', 'PUBLIC_URL', 'NODE_OPTIONS']) delete env[name];
    child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const deadline = Date.now() + 60_000;
    while (!/http:\/\/localhost:(\d+)/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`le serveur n'a pas démarré :\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    base = `http://127.0.0.1:${/http:\/\/localhost:(\d+)/.exec(out)![1]}`;
  });

  after(async () => {
    if (child.exitCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the bundle, not the sources through tsx', () => {
    // a bundle that could not be built (and the fall-back to tsx) is said on stderr
    expect(err).to.equal('');
    expect(out).to.contain('Base vide : plan de démonstration chargé');
  });

  it('serves the export, the agenda PDF, the QR code and sends the background work’s e-mails to the outbox', async () => {
    const login = await fetch(`${base}/connexion`);
    const html = await login.text();
    expect(html).to.contain('Comptes de démonstration');
    const csrf = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const signed = await fetch(`${base}/connexion`, {
      method: 'POST', redirect: 'manual', headers: { cookie: csrf, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token, email: 'admin@metropole.example.org', password: DEMO_PASSWORD }),
    });
    expect(signed.status).to.equal(302);
    const cookie = signed.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const get = async (url: string) => {
      const res = await fetch(base + url, { headers: { cookie } });
      expect(res.status, url).to.equal(200);
      return { type: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
    };

    const xlsx = await get('/homologations/1/export.xlsx');
    expect(xlsx.type).to.contain('spreadsheetml');
    expect(xlsx.body.subarray(0, 2).toString('latin1')).to.equal('PK');

    const meetings = (await get('/homologations/1/seances')).body.toString('utf8');
    const meeting = /\/homologations\/1\/seances\/(\d+)"/.exec(meetings)![1];
    const pdf = await get(`/homologations/1/seances/${meeting}/ordre-du-jour.pdf`);
    expect(pdf.body.subarray(0, 5).toString('latin1')).to.equal('%PDF-');

    const totp = (await get('/compte/double-authentification')).body.toString('utf8');
    expect(totp).to.match(/<svg[^>]*>/);

    // the first round of background work (a few seconds after start) puts the late fiche's alert in the outbox
    const db = openDatabase(path.join(dir, 'plan.sqlite'));
    try {
      const deadline = Date.now() + 30_000;
      let queued = 0;
      while (queued === 0 && Date.now() < deadline) {
        queued = Number((await db('outbox').count({ n: '*' }).first())!.n);
        if (!queued) await new Promise((r) => setTimeout(r, 200));
      }
      expect(queued).to.be.greaterThan(0);
      const message = await db('outbox').first();
      // rendered from views/mail, found from src/mail/render.ts's place
      expect(String(message.html)).to.match(/<html|<p|<table/i);
    } finally {
      await db.destroy();
    }
    expect(err, 'erreurs du serveur').to.equal('');
  });
});
