import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { createApp } from '../src/app';
import { deliverDue } from '../src/mail/worker';
import { smtpMailer } from '../src/mail/transport';
import { enrolTotp, FROZEN_FOR_GOOD } from '../src/data/accounts';
import { purgeExpiredEvents } from '../src/services/scheduler';
import { newTotpSecret, totpCode } from '../src/security/totp';
import { ACCOUNTS, csrfOf, freshApp, NOW, type TestApp, textOf, TEST_PASSWORDS } from './helpers';
import { startSmtp } from './smtp';

/**
 * Sign-in throttling, freezes that a stranger cannot use against the owner, limits on the forgotten-password
 * form. The source of a request is its real address: the app listens on 127.0.0.1 and each "machine"
 * connects from its own loopback address (Linux routes all of 127/8 to lo), no proxy header involved.
 */

interface Server { base: string; close(): Promise<void> }

async function listen(app: Express): Promise<Server> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A browser (its own cookies) on a machine of its own address. */
function browser(server: Server, localAddress: string) {
  const httpAgent = new http.Agent({ localAddress });
  const agent = request.agent(server.base);
  return {
    get: (url: string) => agent.get(url).agent(httpAgent),
    post: (url: string) => agent.post(url).agent(httpAgent).type('form'),
    /** Fetches the page holding the form, then posts it with its token. */
    async form(pageUrl: string, actionUrl: string, fields: Record<string, string>) {
      const page = await this.get(pageUrl);
      return this.post(actionUrl).send({ _csrf: csrfOf(page.text), ...fields });
    },
  };
}

/** A sign-in from a fresh browser on the machine `from`. */
async function signInFrom(server: Server, from: string, email: string, password: string) {
  const b = browser(server, from);
  const res = await b.form('/connexion', '/connexion', { email, password });
  return { b, res };
}

const REFUSED = 'Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué.';
const userRow = (t: TestApp, email: string) => t.db('users').where({ email }).first();
const count = async (q: Knex.QueryBuilder) => Number((await q.count({ n: '*' }).first())?.n ?? 0);
const mailConfig = (smtpUrl: string) => ({ smtpUrl, from: 'Plan <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' });

/** Waits (bounded) until the outbox holds `n` messages of a kind; the answer does not wait for them. */
async function outboxReaches(db: Knex, kind: string, n: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const found = await count(db('outbox').where({ kind }));
    if (found >= n) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  return count(db('outbox').where({ kind }));
}

/** A fresh app listening on 127.0.0.1 for each test of a suite, on a clock the tests move. */
function appPerTest() {
  const c = { t: undefined as unknown as TestApp, server: undefined as unknown as Server, clock: NOW };
  beforeEach(async () => {
    c.clock = NOW;
    c.t = await freshApp({}, () => c.clock);
    c.server = await listen(c.t.app);
  });
  afterEach(async () => {
    await c.server.close();
    await c.t.close();
  });
  return c;
}

describe('throttling: freezes a stranger cannot use against the owner', function () {
  this.timeout(60_000);
  const c = appPerTest();

  it('stops the guesser (right password refused from its address) while the owner signs in from another address', async () => {
    for (let i = 0; i < 5; i++) expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.admin, 'mauvais mot de passe')).res.status).to.equal(401);
    const frozen = await userRow(c.t, ACCOUNTS.admin);
    expect(frozen.frozen_until).to.equal(new Date(NOW.getTime() + 15 * 60_000).toISOString());
    // the freeze is audited and the admins alerted, as before
    expect(await count(c.t.db('audit_log').where({ action: 'freeze', entity_id: frozen.id }))).to.equal(1);
    expect(await count(c.t.db('outbox').where({ kind: 'security' }))).to.equal(1);
    const guesser = await signInFrom(c.server, '127.0.0.2', ACCOUNTS.admin, DEMO_PASSWORD);
    expect(guesser.res.status).to.equal(401);
    expect(textOf(guesser.res.text)).to.contain(REFUSED);
    await guesser.b.get('/homologations/1').expect(302);
    // the owner, at the office
    const owner = await signInFrom(c.server, '127.0.0.3', ACCOUNTS.admin, DEMO_PASSWORD);
    expect(owner.res.status, textOf(owner.res.text).slice(0, 300)).to.equal(302);
    await owner.b.get('/homologations/1').expect(200);
    // the guesser is still refused after the owner's sign-in
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.admin, DEMO_PASSWORD)).res.status).to.equal(401);
  });

  it('makes the guessing address wait longer each time: 15 minutes, then 30', async () => {
    for (let i = 0; i < 5; i++) await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, 'mauvais mot de passe');
    c.clock = new Date(NOW.getTime() + 14 * 60_000);
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(401);
    c.clock = new Date(NOW.getTime() + 16 * 60_000);
    for (let i = 0; i < 5; i++) expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, 'encore faux')).res.status).to.equal(401);
    c.clock = new Date(NOW.getTime() + (16 + 29) * 60_000);
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(401);
    c.clock = new Date(NOW.getTime() + (16 + 31) * 60_000);
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
  });

  it('counts a freeze once when it is extended to every address: the next freeze lasts 30 minutes, not 60', async () => {
    // spread over addresses: frozen at 5 failures, extended to every address at 10
    for (let a = 2; a <= 11; a++) await signInFrom(c.server, `127.0.0.${a}`, ACCOUNTS.viewer, `essai ${a}`);
    expect(await count(c.t.db('audit_log').where({ action: 'freeze_all' }))).to.equal(1);
    const first = await userRow(c.t, ACCOUNTS.viewer);
    c.clock = new Date(first.frozen_until);
    c.clock = new Date(c.clock.getTime() + 60_000);
    for (let i = 0; i < 5; i++) await signInFrom(c.server, '127.0.0.20', ACCOUNTS.viewer, 'encore faux');
    expect((await userRow(c.t, ACCOUNTS.viewer)).frozen_until).to.equal(new Date(c.clock.getTime() + 30 * 60_000).toISOString());
  });

  it('lets the background work delete failures per source older than a day, except on an account still frozen', async () => {
    for (let i = 0; i < 2; i++) await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, 'mauvais mot de passe');
    for (let i = 0; i < 2; i++) await signInFrom(c.server, '127.0.0.2', ACCOUNTS.editor, 'mauvais mot de passe');
    const ids = async () => (await c.t.db('login_sources').join('users', 'users.id', 'login_sources.user_id').select('users.email')).map((r) => r.email).sort();
    expect(await ids()).to.deep.equal([ACCOUNTS.editor, ACCOUNTS.viewer].sort());
    await c.t.db('users').where({ email: ACCOUNTS.editor }).update({ frozen_until: FROZEN_FOR_GOOD });
    await purgeExpiredEvents({ db: c.t.db, now: () => new Date(NOW.getTime() + 23 * 3_600_000) });
    expect(await ids()).to.have.length(2);
    await purgeExpiredEvents({ db: c.t.db, now: () => new Date(NOW.getTime() + 25 * 3_600_000) });
    expect(await ids()).to.deep.equal([ACCOUNTS.editor]);
  });

  it('refuses an address that failed more than 50 times in a quarter of an hour, whatever the accounts', async () => {
    for (let i = 0; i < 50; i++) expect((await signInFrom(c.server, '127.0.0.2', `inconnu${i}@metropole.example.org`, 'un mot de passe courant')).res.status).to.equal(401);
    const sprayer = await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD);
    expect(sprayer.res.status).to.equal(429);
    expect(textOf(sprayer.res.text)).to.contain('Trop d’échecs de connexion depuis votre adresse réseau');
    expect((await signInFrom(c.server, '127.0.0.3', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
    c.clock = new Date(NOW.getTime() + 16 * 60_000);
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
  });

  it('stops at 50 failures from one address even when they arrive all at once', async () => {
    const forms = await Promise.all(Array.from({ length: 70 }, async (_, i) => {
      const b = browser(c.server, '127.0.0.2');
      return { b, i, token: csrfOf((await b.get('/connexion')).text) };
    }));
    const all = await Promise.all(forms.map(({ b, i, token }) => b.post('/connexion').send({ _csrf: token, email: `inconnu${i}@metropole.example.org`, password: 'un mot de passe courant' })));
    const statuses = all.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).to.have.length(50);
    expect(statuses.filter((s) => s === 429)).to.have.length(20);
  });

  it('does not count a right password against its address', async () => {
    for (let i = 0; i < 49; i++) await signInFrom(c.server, '127.0.0.2', `inconnu${i}@metropole.example.org`, 'un mot de passe courant');
    for (let i = 0; i < 3; i++) expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
    expect((await signInFrom(c.server, '127.0.0.2', 'inconnu-50@metropole.example.org', 'un mot de passe courant')).res.status).to.equal(401);
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(429);
  });

  it('checks no more than 5 passwords from one address even when 20 arrive at once', async () => {
    // twenty forms loaded first, then posted together
    const forms = await Promise.all(Array.from({ length: 20 }, async () => {
      const b = browser(c.server, '127.0.0.2');
      return { b, token: csrfOf((await b.get('/connexion')).text) };
    }));
    const all = await Promise.all(forms.map(({ b, token }) => b.post('/connexion').send({ _csrf: token, email: ACCOUNTS.editor, password: 'mauvais mot de passe' })));
    expect(all.map((r) => r.status)).to.deep.equal(Array(20).fill(401));
    const checked = await count(c.t.db('audit_log').where({ action: 'login_failed' }).where('summary', 'like', '%(mot de passe incorrect)%'));
    expect(checked).to.equal(5);
  });

  it('stops a guesser spread over many addresses; the owner gets in with the unlock link e-mailed to them, once', async () => {
    const smtp = await startSmtp();
    await c.server.close();
    await c.t.close();
    c.t = await freshApp({ mail: mailConfig(smtp.url) }, () => c.clock);
    c.server = await listen(c.t.app);
    try {
      for (let i = 0; i < 5; i++) await signInFrom(c.server, '127.0.0.2', ACCOUNTS.admin, 'mauvais mot de passe');
      // more addresses, one guess each, while the account is frozen: after 10 failures in all, every address is refused
      for (let a = 3; a <= 7; a++) expect((await signInFrom(c.server, `127.0.0.${a}`, ACCOUNTS.admin, `essai ${a}`)).res.status).to.equal(401);
      expect((await signInFrom(c.server, '127.0.0.8', ACCOUNTS.admin, DEMO_PASSWORD)).res.status).to.equal(401);
      expect((await signInFrom(c.server, '127.0.0.9', ACCOUNTS.admin, DEMO_PASSWORD)).res.status).to.equal(401);
      // the owner's message: an unlock link, through the outbox like every e-mail
      const mailer = smtpMailer(smtp.url);
      await deliverDue(c.t.db, mailer, c.t.config.mail, () => c.clock);
      mailer.close();
      const mine = smtp.received.filter((m) => m.envelopeTo[0] === ACCOUNTS.admin && /gelé/.test(m.subject) && !m.subject.includes(ACCOUNTS.admin));
      expect(mine, smtp.received.map((m) => m.subject).join(' | ')).to.have.length(1);
      const link = /https:\/\/plan\.metropole\.example\.org(\/connexion\?deblocage=[\w-]+)/.exec(mine[0]!.text)![1]!;
      const owner = browser(c.server, '127.0.0.9');
      const page = await owner.get(link).expect(200);
      expect(textOf(page.text)).to.contain(ACCOUNTS.admin);
      // a typo is allowed (the link takes a few attempts), then the right password signs in despite the freeze
      const typo = await owner.post('/connexion').send({ _csrf: csrfOf(page.text), deblocage: link.split('=')[1], password: 'faute de frappe' });
      expect(typo.status).to.equal(401);
      expect(textOf(typo.text)).to.contain('Mot de passe incorrect');
      const ok = await owner.post('/connexion').send({ _csrf: csrfOf(typo.text), deblocage: link.split('=')[1], password: DEMO_PASSWORD });
      expect(ok.status, textOf(ok.text).slice(0, 300)).to.equal(302);
      await owner.get('/homologations/1').expect(200);
      expect((await c.t.db('audit_log').where({ action: 'login' }).orderBy('id', 'desc').first()).summary).to.contain('lien de déblocage');
      // single use
      await browser(c.server, '127.0.0.9').get(link).expect(404);
      // the guessers are still refused
      expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.admin, DEMO_PASSWORD)).res.status).to.equal(401);
    } finally {
      await smtp.close();
    }
  });
});

describe('throttling: the unlock link with a second factor', function () {
  this.timeout(60_000);
  let t: TestApp;
  let server: Server;
  let clock: Date;
  let secret: string;
  /** The unlock link's token, e-mailed when five wrong passwords from 127.0.0.2 froze the admin (second factor enrolled). */
  let token: string;
  beforeEach(async () => {
    clock = NOW;
    t = await freshApp({ mail: mailConfig('smtp://127.0.0.1:9') }, () => clock);
    server = await listen(t.app);
    const id = Number((await userRow(t, ACCOUNTS.admin)).id);
    secret = newTotpSecret();
    await enrolTotp(t.db, id, secret, 0, { id, name: 'Test', email: ACCOUNTS.admin }, NOW);
    for (let i = 0; i < 5; i++) await signInFrom(server, '127.0.0.2', ACCOUNTS.admin, 'mauvais mot de passe');
    const message = await t.db('outbox').where({ kind: 'account', to_address: ACCOUNTS.admin }).first();
    token = /\/connexion\?deblocage=([\w-]+)/.exec(message.text)![1]!;
  });
  afterEach(async () => {
    await server.close();
    await t.close();
  });

  /** Signs in with the unlock link and the right password from `from`: the code page comes next. */
  async function throughTheLink(from: string) {
    const holder = browser(server, from);
    const page = await holder.get(`/connexion?deblocage=${token}`).expect(200);
    const pass = await holder.post('/connexion').send({ _csrf: csrfOf(page.text), deblocage: token, password: DEMO_PASSWORD });
    expect(pass.headers.location).to.equal('/connexion/code');
    clock = new Date(NOW.getTime() + 60_000);
    const good = totpCode(secret, clock);
    return { holder, good, wrongCode: good === '000000' ? '111111' : '000000', form: (await holder.get('/connexion/code').expect(200)).text };
  }

  it('asks the owner for their code after the unlock link, and still counts wrong codes', async () => {
    for (let a = 3; a <= 7; a++) await signInFrom(server, `127.0.0.${a}`, ACCOUNTS.admin, `essai ${a}`);
    expect((await signInFrom(server, '127.0.0.8', ACCOUNTS.admin, DEMO_PASSWORD)).res.status).to.equal(401);
    const { holder: owner, good, wrongCode, form } = await throughTheLink('127.0.0.8');
    const wrong = await owner.post('/connexion/code').send({ _csrf: csrfOf(form), code: wrongCode });
    expect(wrong.status).to.equal(401);
    expect(Number((await userRow(t, ACCOUNTS.admin)).failed_logins)).to.equal(11);
    const ok = await owner.post('/connexion/code').send({ _csrf: csrfOf(wrong.text), code: good });
    expect(ok.status).to.equal(302);
    await owner.get('/homologations/1').expect(200);
  });

  it('gives the unlock link holder only 3 second-factor codes, then ends the attempt (the link is spent)', async () => {
    const { holder, good, wrongCode, form: first } = await throughTheLink('127.0.0.9');
    let form = first;
    for (let i = 0; i < 2; i++) {
      const wrong = await holder.post('/connexion/code').send({ _csrf: csrfOf(form), code: wrongCode });
      expect(wrong.status).to.equal(401);
      expect(textOf(wrong.text)).to.contain('Code incorrect');
      form = wrong.text;
    }
    const third = await holder.post('/connexion/code').send({ _csrf: csrfOf(form), code: wrongCode });
    expect(third.status).to.equal(401);
    expect(textOf(third.text)).to.contain(REFUSED);
    // the attempt is over: even the right code now leads back to the sign-in page
    const late = await holder.post('/connexion/code').send({ _csrf: csrfOf(third.text), code: good });
    expect(late.status).to.equal(303);
    expect(late.headers.location).to.equal('/connexion');
    expect((await holder.get('/homologations/1')).status).to.equal(302);
  });
});

describe('throttling: secrets typed in a signed-in session', function () {
  this.timeout(60_000);
  const c = appPerTest();

  it('limits guesses of the current password on the change-password form, like sign-in, and freezes the account', async () => {
    const { b } = await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD);
    const change = (current: string) => b.form('/compte/mot-de-passe', '/compte/mot-de-passe', { current, password: 'une toute nouvelle phrase', confirm: 'une toute nouvelle phrase' });
    for (let i = 0; i < 5; i++) {
      const res = await change(`essai ${i}`);
      expect(res.status).to.equal(422);
      expect(textOf(res.text)).to.contain('Le mot de passe actuel est incorrect.');
    }
    const right = await change(DEMO_PASSWORD);
    expect(right.status).to.equal(429);
    expect(textOf(right.text)).to.contain('Trop d’essais incorrects');
    expect(right.text).to.match(/id="current-error"/);
    const row = await userRow(c.t, ACCOUNTS.viewer);
    expect(row.frozen_until).to.equal(new Date(NOW.getTime() + 15 * 60_000).toISOString());
    expect(await count(c.t.db('audit_log').where({ action: 'freeze', entity_id: row.id }))).to.equal(1);
    // the password did not change, and signing in from that address is refused too
    expect((await signInFrom(c.server, '127.0.0.2', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(401);
    expect((await signInFrom(c.server, '127.0.0.3', ACCOUNTS.viewer, DEMO_PASSWORD)).res.status).to.equal(302);
  });

  it('limits guesses of the code confirming a second-factor enrolment', async () => {
    const { b } = await signInFrom(c.server, '127.0.0.2', ACCOUNTS.editor, DEMO_PASSWORD);
    const page = await b.get('/compte/double-authentification').expect(200);
    const secret = /class="app-secret">([A-Z2-7 ]+)</.exec(page.text)![1]!.replace(/ /g, '');
    const good = totpCode(secret, c.clock);
    const wrong = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expect((await b.form('/compte/double-authentification', '/compte/double-authentification', { code: wrong })).status).to.equal(422);
    const right = await b.form('/compte/double-authentification', '/compte/double-authentification', { code: good });
    expect(right.status).to.equal(429);
    expect(textOf(right.text)).to.contain('Trop d’essais incorrects');
    expect((await userRow(c.t, ACCOUNTS.editor)).totp_enabled_at).to.equal(null);
    expect((await userRow(c.t, ACCOUNTS.editor)).frozen_until).to.be.a('string');
  });

  it('limits guesses of the second-factor code on the recovery-codes page', async () => {
    const { b } = await signInFrom(c.server, '127.0.0.2', ACCOUNTS.editor, DEMO_PASSWORD);
    const page = await b.get('/compte/double-authentification').expect(200);
    const secret = /class="app-secret">([A-Z2-7 ]+)</.exec(page.text)![1]!.replace(/ /g, '');
    await b.post('/compte/double-authentification').send({ _csrf: csrfOf(page.text), code: totpCode(secret, c.clock) }).expect(200);
    const before = await c.t.db('recovery_codes').where({ user_id: (await userRow(c.t, ACCOUNTS.editor)).id }).select('code_hash');
    c.clock = new Date(NOW.getTime() + 60_000);
    const good = totpCode(secret, c.clock);
    const wrong = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      expect((await b.form('/compte/double-authentification', '/compte/double-authentification/codes', { code: wrong })).status).to.equal(422);
    }
    const right = await b.form('/compte/double-authentification', '/compte/double-authentification/codes', { code: good });
    expect(right.status).to.equal(429);
    expect(textOf(right.text)).to.contain('Trop d’essais incorrects');
    const after = await c.t.db('recovery_codes').where({ user_id: (await userRow(c.t, ACCOUNTS.editor)).id }).select('code_hash');
    expect(after).to.deep.equal(before);
  });
});

describe('throttling: forgotten password', function () {
  this.timeout(60_000);
  let t: TestApp;
  let server: Server;
  let clock: Date;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  beforeEach(async () => {
    clock = NOW;
    smtp = await startSmtp();
    t = await freshApp({ mail: mailConfig(smtp.url) }, () => clock);
    server = await listen(t.app);
  });
  afterEach(async () => {
    await server.close();
    await t.close();
    await smtp.close();
  });

  const ask = (s: Server, from: string, email: string) => browser(s, from).form('/mot-de-passe-oublie', '/mot-de-passe-oublie', { email });

  it('sends at most 3 links an hour to one address from one source, counted in the database across app processes, with the same answer beyond', async () => {
    // a second app process over the same database
    const other = await listen(createApp({ db: t.openAnother(), config: t.config, now: () => clock, passwords: TEST_PASSWORDS }));
    try {
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await ask(i % 2 ? other : server, '127.0.0.2', ACCOUNTS.viewer));
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
      const text = textOf(answers[0]!.text);
      expect(text).to.contain('Si un compte actif existe');
      for (const a of answers) expect(textOf(a.text)).to.equal(text);
      expect(await outboxReaches(t.db, 'account', 3)).to.equal(3);
      // an hour later, one more
      clock = new Date(NOW.getTime() + 61 * 60_000);
      await ask(server, '127.0.0.2', ACCOUNTS.viewer);
      expect(await outboxReaches(t.db, 'account', 4)).to.equal(4);
    } finally {
      await other.close();
    }
  });

  it("does not let a stranger spend the owner's links: the owner still gets one from their own address", async () => {
    for (let i = 0; i < 8; i++) await ask(server, '127.0.0.2', ACCOUNTS.viewer);
    expect(await outboxReaches(t.db, 'account', 3)).to.equal(3);
    await ask(server, '127.0.0.3', ACCOUNTS.viewer);
    expect(await outboxReaches(t.db, 'account', 4)).to.equal(4);
    // many sources together still meet a cap per address: 10 links an hour
    for (let a = 4; a <= 12; a++) await ask(server, `127.0.0.${a}`, ACCOUNTS.viewer);
    expect(await outboxReaches(t.db, 'account', 11)).to.equal(10);
  });

  it('refuses more than 10 requests in a quarter of an hour from one address with a 429 in French, and sends nothing', async () => {
    for (let i = 0; i < 10; i++) expect((await ask(server, '127.0.0.2', `inconnu${i}@metropole.example.org`)).status).to.equal(200);
    const over = await ask(server, '127.0.0.2', ACCOUNTS.viewer);
    expect(over.status).to.equal(429);
    expect(textOf(over.text)).to.contain('Trop de demandes de lien depuis votre adresse réseau');
    expect(over.text).to.contain(`value="${ACCOUNTS.viewer}"`);
    expect(over.text).not.to.match(/at .*\.ts:\d+/);
    // another machine is not affected
    expect((await ask(server, '127.0.0.3', ACCOUNTS.editor)).status).to.equal(200);
    expect(await outboxReaches(t.db, 'account', 1)).to.equal(1);
    expect((await t.db('outbox').where({ kind: 'account' }).first()).to_address).to.equal(ACCOUNTS.editor);
  });

  it('does the same work before answering whether or not the address has an account', async () => {
    // the statements run between the request and its answer, per request
    const statements: string[] = [];
    let recording: string[] | null = null;
    const onQuery = (q: { sql: string }) => recording?.push(q.sql.replace(/\s+/g, ' '));
    t.db.on('query', onQuery);
    const outer = express();
    outer.use((req, res, next) => {
      if (req.method === 'POST') {
        recording = [];
        res.once('finish', () => {
          statements.push(JSON.stringify(recording));
          recording = null;
        });
      }
      next();
    });
    outer.use(t.app);
    const wrapped = await listen(outer);
    try {
      // a first request warms up what is done once per process
      await ask(wrapped, '127.0.0.4', 'premier@metropole.example.org');
      await ask(wrapped, '127.0.0.2', ACCOUNTS.viewer);
      // the known address does get its link, after its answer (waited for here, so that it is not counted with the next request)
      expect(await outboxReaches(t.db, 'account', 1)).to.equal(1);
      await ask(wrapped, '127.0.0.3', 'personne@metropole.example.org');
      expect(statements).to.have.length(3);
      expect(JSON.parse(statements[2]!)).to.deep.equal(JSON.parse(statements[1]!));
    } finally {
      t.db.removeListener('query', onQuery);
      await wrapped.close();
    }
  });
});
