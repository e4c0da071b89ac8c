import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { subscribedByCommune } from '../fixtures/digests';
import { freshApp, type TestApp } from '../helpers';
import { startSmtp, tally } from '../smtp';

// The digest command run as cron runs it, in its own processes: concurrent runs, a run killed mid-send, exit codes.
// (The digests' content and delivery in-process: test/mail.test.ts.)

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs the command line as cron would, against the test's database and SMTP server. */
function cli(t: TestApp, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: t.dataDir, PUBLIC_URL: 'https://plan.metropole.example.org', ...env };
  delete childEnv.TEST_DATABASE_URL;
  if (t.config.databaseUrl) childEnv.DATABASE_URL = t.config.databaseUrl;
  else delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: childEnv });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => resolve({ code, out })));
  return { child, done };
}

describe('commune digests through the outbox, to a real SMTP server, by the command line', function () {
  this.timeout(90_000);
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => {
    await smtp?.close();
    smtp = undefined;
    await t.close();
  });

  it('sends each digest once when two runs of the command go at the same time', async () => {
    smtp = await startSmtp();
    const expected = await subscribedByCommune(t);
    const env = { SMTP_URL: smtp.url };
    const [a, b] = [cli(t, ['digest:send', '--all'], env), cli(t, ['digest:send', '--all'], env)];
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.out).to.equal(0);
    expect(rb.code, rb.out).to.equal(0);
    const counts = tally(smtp.received);
    expect([...counts.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).to.deep.equal([]);
    expect(await t.db('digests').whereNot('origin', 'planifie').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(16);
  });

  it('loses nothing and duplicates nothing when the run is killed mid-send and started again', async () => {
    smtp = await startSmtp((n) => (n === 4 ? 'hold' : 'accept'));
    const expected = await subscribedByCommune(t);
    const env = { SMTP_URL: smtp.url, OUTBOX_LEASE_SECONDS: '1' };
    const first = cli(t, ['digest:send', '--all'], env);
    await smtp.held();
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).to.equal(null);
    smtp.release();
    expect(smtp.received).to.have.length(3);
    expect(await t.db('outbox').where({ kind: 'digest', status: 'sending' }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.be.greaterThan(0);
    // the killed run's claim runs out after a second; the new run takes over what it held
    await new Promise((r) => setTimeout(r, 1100));
    const second = await cli(t, ['digest:send', '--all'], env).done;
    expect(second.code, second.out).to.equal(0);
    expect(second.out).to.contain('déjà envoyé pour cette période');
    const counts = tally(smtp.received);
    expect([...counts.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).to.deep.equal([]);
    expect(await t.db('outbox').where('kind', 'digest').whereNot('status', 'sent').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(0);
  });

  it('exits non-zero when a message cannot be delivered, and with a clear message on bad arguments', async () => {
    smtp = await startSmtp(() => ({ code: 554, message: 'Refusé' }));
    const failed = await cli(t, ['digest:send', '--commune', 'villeurbanne'], { SMTP_URL: smtp.url }).done;
    expect(failed.code).to.equal(1);
    expect(failed.out).to.contain('Villeurbanne : point préparé pour 2 destinataire(s)').and.contain('En échec définitif : 2');
    const unknown = await cli(t, ['digest:send', '--commune', 'Atlantis'], {}).done;
    expect(unknown.code).to.equal(1);
    expect(unknown.out).to.contain('la commune « Atlantis » est inconnue');
    const neither = await cli(t, ['digest:send'], {}).done;
    expect(neither.code).to.equal(1);
    expect(neither.out).to.contain('Indiquez --all ou --commune');
    // without SMTP_URL the digests are decided and kept, readable, not sent
    const kept = await cli(t, ['digest:send', '--all', '--period', '2026-S12'], {}).done;
    expect(kept.code, kept.out).to.equal(0);
    expect(kept.out).to.contain("SMTP_URL n'est pas défini");
    expect(await t.db('outbox').where({ status: 'pending' }).count({ n: '*' }).first().then((r) => Number(r!.n))).to.be.greaterThan(15);
  });
});
