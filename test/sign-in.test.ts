import { expect } from 'chai';
import { enrolTotp, issueToken, sessionTokenOf } from '../src/data/accounts';
import { getSecuritySettings, saveSecuritySettings } from '../src/data/security-settings';
import { findUser } from '../src/data/users';
import { newTotpSecret, totpCode } from '../src/security/totp';
import { accountSecurityService } from '../src/services/account-security';
import { LOGIN_FAILURES_PER_SOURCE, RESET_PER_SOURCE, signInService, type SignInService } from '../src/services/sign-in';
import { aUser, BUILDER, type BuiltUser } from './builders';
import { freshApp, NOW, type TestApp, TEST_PASSWORDS } from './helpers';

/**
 * The sign-in decision chain without HTTP: each branch is a plain result. One database for the file; each test
 * builds its own accounts and signs in from its own sources, so the counters of one test never reach another.
 */
describe('sign-in rules (services/sign-in)', function () {
  this.timeout(20_000);
  let t: TestApp;
  let service: SignInService;
  let sources = 0;
  /** A network source no other test uses. */
  const aSource = () => `198.51.100.${++sources}`;
  const MAIL = { smtpUrl: 'smtp://127.0.0.1:1', from: 'Plan <plan@metropole.example.org>', publicUrl: 'https://plan.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' };

  before(async () => {
    t = await freshApp();
    service = signInService({ db: t.db, passwords: TEST_PASSWORDS, mail: t.config.mail });
  });
  after(() => t.close());

  const failures = (entityId: number | null, summary: string) =>
    t.db('audit_log').where({ action: 'login_failed', entity_id: entityId }).where('summary', 'like', `%${summary}%`);
  const signInAs = (user: BuiltUser, source: string, password = user.password, now = NOW) =>
    service.signIn({ email: user.email, password, source, now });

  it('refuses an unknown address, audited as such', async () => {
    const email = `inconnu-${process.pid}@example.org`;
    expect(await service.signIn({ email, password: 'peu importe', source: aSource(), now: NOW })).to.deep.equal({ kind: 'refused' });
    expect(await failures(null, `${email} (compte inconnu)`)).to.have.length(1);
  });

  it('refuses a wrong password and counts the failure against the account', async () => {
    const user = await aUser().insert(t.db);
    expect(await signInAs(user, aSource(), 'pas le bon')).to.deep.equal({ kind: 'refused' });
    expect(await failures(user.id, 'mot de passe incorrect')).to.have.length(1);
    expect((await findUser(t.db, user.id))!.failedLogins).to.equal(1);
  });

  it('freezes the account for the failing source only: the right password is refused from there, accepted from elsewhere', async () => {
    const user = await aUser().insert(t.db);
    const guesser = aSource();
    const { lockoutThreshold } = await getSecuritySettings(t.db);
    for (let i = 0; i < lockoutThreshold; i++) expect((await signInAs(user, guesser, `essai ${i}`)).kind).to.equal('refused');
    expect((await findUser(t.db, user.id))!.frozenUntil).to.not.equal(null);
    expect(await signInAs(user, guesser)).to.deep.equal({ kind: 'refused' });
    expect(await failures(user.id, 'bloquée pour ce compte')).to.have.length(1);
    expect((await signInAs(user, aSource())).kind).to.equal('signed_in');
  });

  it('refuses a suspended account even with the right password', async () => {
    const user = await aUser().suspended().insert(t.db);
    expect(await signInAs(user, aSource())).to.deep.equal({ kind: 'refused' });
    expect(await failures(user.id, 'compte suspendu')).to.have.length(1);
  });

  it(`refuses a source past ${LOGIN_FAILURES_PER_SOURCE} failures in a quarter of an hour before looking at the account`, async () => {
    const source = aSource();
    const email = `inconnu-bis-${process.pid}@example.org`;
    for (let i = 0; i < LOGIN_FAILURES_PER_SOURCE; i++) await service.signIn({ email, password: 'x', source, now: NOW });
    const user = await aUser().insert(t.db);
    expect(await signInAs(user, source)).to.deep.equal({ kind: 'too_many_failures' });
  });

  it('signs in with the right password: a new session token, the sign-in audited, nothing to do first', async () => {
    const user = await aUser().insert(t.db);
    const result = await signInAs(user, aSource());
    if (result.kind !== 'signed_in') throw new Error(result.kind);
    expect(result.session).to.include({ mustEnrol: false, mustChangePassword: false });
    expect(result.session.user).to.include({ id: user.id, email: user.email }).and.not.have.property('passwordHash');
    expect(result.session.sessionToken).to.equal(await sessionTokenOf(t.db, user.id));
    expect(await t.db('audit_log').where({ action: 'login', entity_id: user.id, summary: 'Connexion' })).to.have.length(1);
  });

  it('signs in with an expired password, which must be changed first', async () => {
    const user = await aUser().insert(t.db);
    const settings = await getSecuritySettings(t.db);
    await saveSecuritySettings(t.db, { ...settings, password: { ...settings.password, maxAgeDays: 90 } }, BUILDER, NOW);
    try {
      const later = new Date(NOW.getTime() + 91 * 86_400_000);
      const result = await signInAs(user, aSource(), user.password, later);
      if (result.kind !== 'signed_in') throw new Error(result.kind);
      expect(result.session.mustChangePassword).to.equal(true);
      expect(await signInAs(user, aSource())).to.have.nested.property('session.mustChangePassword', false);
    } finally {
      await saveSecuritySettings(t.db, settings, BUILDER, NOW);
    }
  });

  it('signs in a role that must enrol a second factor, which must be enrolled first', async () => {
    const user = await aUser().withRole('viewer').insert(t.db);
    const settings = await getSecuritySettings(t.db);
    await saveSecuritySettings(t.db, { ...settings, totpRoles: ['viewer'] }, BUILDER, NOW);
    try {
      const result = await signInAs(user, aSource());
      expect(result).to.have.nested.property('session.mustEnrol', true);
    } finally {
      await saveSecuritySettings(t.db, settings, BUILDER, NOW);
    }
  });

  describe('second factor', () => {
    const enrolled = async () => {
      const user = await aUser().insert(t.db);
      const secret = newTotpSecret();
      await enrolTotp(t.db, user.id, secret, 0, BUILDER, NOW);
      return { user, secret };
    };

    it('asks for the code after a right password, opening no session yet', async () => {
      const { user } = await enrolled();
      expect(await signInAs(user, aSource())).to.deep.equal({ kind: 'second_factor', userId: user.id, unlock: false });
      expect(await t.db('audit_log').where({ action: 'login', entity_id: user.id })).to.have.length(0);
    });

    it('signs in with the current code, once; a wrong code may be typed again', async () => {
      const { user, secret } = await enrolled();
      const source = aSource();
      const code = totpCode(secret, NOW);
      const wrong = code === '000000' ? '111111' : '000000';
      expect(await service.secondFactor({ userId: user.id, code: wrong, source, now: NOW, unlock: false })).to.deep.equal({ kind: 'wrong_code', wrongCodes: undefined });
      expect(await t.db('audit_log').where({ action: 'login_failed', entity_id: user.id }).where('summary', 'like', 'Code de double authentification refusé%')).to.have.length(1);
      const result = await service.secondFactor({ userId: user.id, code, source, now: NOW, unlock: false });
      expect(result).to.have.nested.property('session.user.id', user.id);
      expect(await t.db('audit_log').where({ action: 'login', entity_id: user.id, summary: 'Connexion (double authentification)' })).to.have.length(1);
      // the same code again is refused
      expect((await service.secondFactor({ userId: user.id, code, source, now: NOW, unlock: false })).kind).to.equal('wrong_code');
    });

    it('ends an unlock-link attempt after 3 wrong codes', async () => {
      const { user } = await enrolled();
      const source = aSource();
      let wrongCodes: number | undefined;
      for (let i = 1; i <= 2; i++) {
        const r = await service.secondFactor({ userId: user.id, code: 'faux', source, now: NOW, unlock: true, wrongCodes });
        expect(r).to.deep.equal({ kind: 'wrong_code', wrongCodes: i });
        wrongCodes = i;
      }
      expect(await service.secondFactor({ userId: user.id, code: 'faux', source, now: NOW, unlock: true, wrongCodes })).to.deep.equal({ kind: 'refused' });
    });
  });

  describe('unlock link', () => {
    it('signs the owner in despite a freeze extended to every source, with the password; the link is then spent', async () => {
      const user = await aUser().insert(t.db);
      const guesser = aSource();
      const { lockoutThreshold } = await getSecuritySettings(t.db);
      // a guesser spread over many sources: the freeze then applies to every source, the owner's too
      for (let i = 0; i < 2 * lockoutThreshold; i++) await signInAs(user, aSource(), `essai ${i}`);
      expect(await signInAs(user, aSource())).to.deep.equal({ kind: 'refused' });
      const token = await issueToken(t.db, user.id, 'unlock', NOW);
      expect(await service.unlockLink(token, NOW)).to.deep.equal({ email: user.email });
      expect(await service.signInWithUnlockLink({ token, password: '', source: guesser, now: NOW })).to.deep.equal({ kind: 'password_missing' });
      expect(await service.signInWithUnlockLink({ token, password: 'faute de frappe', source: guesser, now: NOW })).to.deep.equal({ kind: 'wrong_password' });
      const result = await service.signInWithUnlockLink({ token, password: user.password, source: guesser, now: NOW });
      expect(result).to.have.property('kind', 'signed_in');
      expect(await t.db('audit_log').where({ action: 'login', entity_id: user.id, summary: 'Connexion (avec le lien de déblocage)' })).to.have.length(1);
      expect(await service.signInWithUnlockLink({ token, password: user.password, source: guesser, now: NOW })).to.deep.equal({ kind: 'link_unusable' });
      expect(await service.unlockLink(token, NOW)).to.equal(null);
    });
  });

  describe('forgotten password', () => {
    const mailing = () => signInService({ db: t.db, passwords: TEST_PASSWORDS, mail: MAIL });

    it('gives the same answer for an unknown address, with nothing to deliver; a known one gets its link once the answer is sent', async () => {
      const user = await aUser().insert(t.db);
      const s = mailing();
      expect(await s.requestPasswordReset({ email: `personne-${process.pid}@example.org`, source: aSource(), now: NOW })).to.deep.equal({ kind: 'answered', deliver: null });
      const known = await s.requestPasswordReset({ email: user.email, source: aSource(), now: NOW });
      if (known.kind !== 'answered' || !known.deliver) throw new Error('no link to deliver');
      // nothing is stored before the answer is sent
      expect(await t.db('auth_tokens').where({ user_id: user.id, purpose: 'reset' })).to.have.length(0);
      known.deliver();
      known.deliver();
      for (let i = 0; i < 100 && (await t.db('outbox').where({ kind: 'account', to_address: user.email })).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await t.db('auth_tokens').where({ user_id: user.id, purpose: 'reset' })).to.have.length(1);
      expect(await t.db('outbox').where({ kind: 'account', to_address: user.email })).to.have.length(1);
    });

    it('delivers nothing without an SMTP server, and nothing to a suspended account', async () => {
      const user = await aUser().insert(t.db);
      const suspended = await aUser().suspended().insert(t.db);
      expect(await service.requestPasswordReset({ email: user.email, source: aSource(), now: NOW })).to.deep.equal({ kind: 'answered', deliver: null });
      expect(await mailing().requestPasswordReset({ email: suspended.email, source: aSource(), now: NOW })).to.deep.equal({ kind: 'answered', deliver: null });
    });

    it(`refuses more than ${RESET_PER_SOURCE} requests from one source in a quarter of an hour`, async () => {
      const source = aSource();
      for (let i = 0; i < RESET_PER_SOURCE; i++) expect((await service.requestPasswordReset({ email: `x${i}@example.org`, source, now: NOW })).kind).to.equal('answered');
      expect(await service.requestPasswordReset({ email: 'y@example.org', source, now: NOW })).to.deep.equal({ kind: 'too_many_requests' });
    });

    it('sets the password with a reset link once, under the policy and the confirmation', async () => {
      const user = await aUser().insert(t.db);
      const token = await issueToken(t.db, user.id, 'reset', NOW);
      expect(await service.passwordLinkOf(token, NOW)).to.have.property('purpose', 'reset');
      expect(await service.setPasswordWithLink({ token, password: 'court', confirm: 'court', now: NOW })).to.have.property('kind', 'invalid');
      const password = 'une-phrase-de-passe-bien-longue-2026';
      expect(await service.setPasswordWithLink({ token, password, confirm: `${password}!`, now: NOW }))
        .to.deep.equal({ kind: 'invalid', problem: 'Les deux saisies ne sont pas identiques.' });
      expect(await service.setPasswordWithLink({ token, password, confirm: password, now: NOW })).to.deep.equal({ kind: 'done' });
      expect(await service.setPasswordWithLink({ token, password, confirm: password, now: NOW })).to.deep.equal({ kind: 'link_unusable' });
      expect((await signInAs({ ...user, password }, aSource())).kind).to.equal('signed_in');
    });
  });

  describe("a signed-in user's own secrets (services/account-security)", () => {
    const security = () => accountSecurityService({ db: t.db, passwords: TEST_PASSWORDS, mail: t.config.mail });
    const NEW_PASSWORD = 'une-autre-phrase-de-passe-2026';

    it('changes the password only with the current one, under the policy; the new one signs in', async () => {
      const user = await aUser().insert(t.db);
      const source = aSource();
      const change = (current: string, password = NEW_PASSWORD, confirm = password) => security().changeOwnPassword({ me: user, current, password, confirm, source, now: NOW });
      const both = await change('pas le bon', 'court');
      expect(both).to.have.nested.property('errors.current', 'Le mot de passe actuel est incorrect.');
      expect(both).to.have.nested.property('errors.password').that.is.a('string');
      expect(await change(user.password, NEW_PASSWORD, 'autre')).to.deep.equal({ kind: 'invalid', errors: { password: 'Les deux saisies ne sont pas identiques.' } });
      expect(await change(user.password)).to.deep.equal({ kind: 'done' });
      expect(await t.db('audit_log').where({ action: 'password_change', entity_id: user.id, summary: 'Mot de passe changé par son titulaire' })).to.have.length(1);
      expect((await signInAs({ ...user, password: NEW_PASSWORD }, aSource())).kind).to.equal('signed_in');
    });

    it('stops guesses of the current password once the source is blocked, unchecked', async () => {
      const user = await aUser().insert(t.db);
      const source = aSource();
      const { lockoutThreshold } = await getSecuritySettings(t.db);
      for (let i = 0; i < lockoutThreshold; i++) {
        expect(await security().changeOwnPassword({ me: user, current: `essai ${i}`, password: NEW_PASSWORD, confirm: NEW_PASSWORD, source, now: NOW })).to.have.property('kind', 'invalid');
      }
      expect(await security().changeOwnPassword({ me: user, current: user.password, password: NEW_PASSWORD, confirm: NEW_PASSWORD, source, now: NOW }))
        .to.deep.equal({ kind: 'too_many_attempts' });
    });

    it('enrols a second factor with its first code, then renews the recovery codes with a later one', async () => {
      const user = await aUser().insert(t.db);
      const source = aSource();
      const secret = newTotpSecret();
      const code = totpCode(secret, NOW);
      const wrong = code === '000000' ? '111111' : '000000';
      expect(await security().confirmEnrolment({ actor: user, secret, code: wrong, source, now: NOW })).to.deep.equal({ kind: 'wrong_code' });
      const enrolled = await security().confirmEnrolment({ actor: user, secret, code, source, now: NOW });
      if (enrolled.kind !== 'enrolled') throw new Error(enrolled.kind);
      expect(enrolled.codes).to.have.length(10);
      expect(await security().secondFactorStatus(user.id)).to.include({ required: false, recoveryLeft: 10 });
      // the enrolment's code is spent: the next step's code renews
      expect(await security().renewRecoveryCodes({ actor: user, code, source, now: NOW })).to.deep.equal({ kind: 'wrong_code' });
      const later = new Date(NOW.getTime() + 30_000);
      const renewed = await security().renewRecoveryCodes({ actor: user, code: totpCode(secret, later), source, now: later });
      if (renewed.kind !== 'renewed') throw new Error(renewed.kind);
      expect(renewed.codes).to.have.length(10).and.not.include.members(enrolled.codes);
    });
  });
});
