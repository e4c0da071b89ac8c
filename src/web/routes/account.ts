import { Router } from 'express';
import {
  attemptSucceeded, chargeAttempt, changePassword, credentialsOf, enrolTotp, passwordReused, remainingRecoveryCodes, renewRecoveryCodes, recordFailure,
  recordTotpStep, personalData,
} from '../../data/accounts';
import { getSecuritySettings } from '../../data/security-settings';
import { sourceOf } from '../../data/throttle';
import { findUser } from '../../data/users';
import { passwordProblem } from '../../domain/password';
import { newTotpSecret, qrSvg, totpUri, verifyTotp } from '../../security/totp';
import { freezeNotifier } from '../../services/accounts';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { str } from '../forms/fields';

/** The signed-in user's own account: password, second factor, personal data. */
export function accountRouter(ctx: AppContext): Router {
  const router = Router();

  /**
   * A signed-in user's secret (current password, second-factor code) is guessed under the same counters as
   * at sign-in: each attempt is charged to (account, source) before it is checked, refused once this source
   * is blocked or the account frozen for it; a wrong one counts towards the account's freeze; a right one clears.
   * `check` returns whether the secret is right; the result is null when the attempt was refused unchecked.
   */
  const guarded = async (req: import('express').Request, check: () => Promise<boolean>): Promise<boolean | null> => {
    const me = actor(req);
    const now = ctx.now();
    const settings = await getSecuritySettings(ctx.db);
    const source = sourceOf(req.ip);
    const charged = await chargeAttempt(ctx.db, me.id, source, settings, now);
    if (!charged.ok) return null;
    if (await check()) {
      await attemptSucceeded(ctx.db, me.id, source);
      return true;
    }
    await recordFailure(ctx.db, me.id, settings, now, freezeNotifier(ctx.config.mail, now));
    ctx.wake?.();
    return false;
  };
  const TOO_MANY = 'Trop d’essais incorrects : pour protéger votre compte, les essais sont suspendus un moment (15 minutes, puis davantage). Réessayez plus tard.';

  router.get('/compte', async (req, res) => {
    const me = (await findUser(ctx.db, actor(req).id))!;
    const settings = await getSecuritySettings(ctx.db);
    res.render('account/index', {
      title: 'Mon compte', me, totpRequired: settings.totpRoles.includes(me.role), recoveryLeft: me.totpEnabled ? await remainingRecoveryCodes(ctx.db, me.id) : 0,
    });
  });

  // ---- password ----
  const passwordPage = async (req: import('express').Request, res: import('express').Response, status = 200, errors: Record<string, string> = {}, done = false) => {
    const settings = await getSecuritySettings(ctx.db);
    res.status(status).render('account/password', { title: 'Changer mon mot de passe', policy: settings.password, errors, done, expired: Boolean(req.session.mustChangePassword) });
  };
  router.get('/compte/mot-de-passe', (req, res) => passwordPage(req, res));
  router.post('/compte/mot-de-passe', async (req, res) => {
    const me = actor(req);
    const settings = await getSecuritySettings(ctx.db);
    const current = str(req.body.current);
    const password = str(req.body.password);
    const confirm = str(req.body.confirm);
    const creds = (await credentialsOf(ctx.db, me.id))!;
    const errors: Record<string, string> = {};
    const right = await guarded(req, () => ctx.passwords.verify(creds.passwordHash, current));
    if (right === null) return passwordPage(req, res, 429, { current: TOO_MANY });
    if (!right) errors.current = 'Le mot de passe actuel est incorrect.';
    const problem = passwordProblem(password, { email: me.email, name: me.name }, settings.password)
      ?? (password !== confirm ? 'Les deux saisies ne sont pas identiques.' : null)
      ?? ((await passwordReused(ctx.db, ctx.passwords, me.id, password, settings.password.history)) ? `Choisissez un mot de passe différent de vos ${settings.password.history} précédents.` : null);
    if (problem) errors.password = problem;
    if (Object.keys(errors).length) return passwordPage(req, res, 422, errors);
    await changePassword(ctx.db, ctx.passwords, me.id, password, settings, me, ctx.now(), 'Mot de passe changé par son titulaire');
    req.session.mustChangePassword = false;
    await passwordPage(req, res, 200, {}, true);
  });

  // ---- second factor ----
  router.get('/compte/double-authentification', async (req, res) => {
    const me = (await findUser(ctx.db, actor(req).id))!;
    const settings = await getSecuritySettings(ctx.db);
    if (me.totpEnabled) {
      return res.render('account/totp', { title: 'Double authentification', me, enabled: true, recoveryLeft: await remainingRecoveryCodes(ctx.db, me.id), codes: null, error: null, required: settings.totpRoles.includes(me.role) });
    }
    req.session.totpSetup ??= newTotpSecret();
    const uri = totpUri(req.session.totpSetup, me.email);
    res.render('account/totp', {
      title: 'Activer la double authentification', me, enabled: false, secret: req.session.totpSetup, qr: await qrSvg(uri), codes: null, error: null,
      required: settings.totpRoles.includes(me.role), mustEnrol: Boolean(req.session.mustEnrol),
    });
  });
  router.post('/compte/double-authentification', async (req, res) => {
    const me = (await findUser(ctx.db, actor(req).id))!;
    const secret = req.session.totpSetup;
    const settings = await getSecuritySettings(ctx.db);
    if (me.totpEnabled || !secret) return res.redirect(303, '/compte/double-authentification');
    let step: number | null = null;
    const right = await guarded(req, async () => (step = verifyTotp(secret, str(req.body.code), ctx.now(), null)) !== null);
    if (!right || step === null) {
      return res.status(right === null ? 429 : 422).render('account/totp', {
        title: 'Activer la double authentification', me, enabled: false, secret, qr: await qrSvg(totpUri(secret, me.email)), codes: null,
        error: right === null ? TOO_MANY : 'Code incorrect : saisissez le code à 6 chiffres affiché maintenant par votre application.', required: settings.totpRoles.includes(me.role), mustEnrol: Boolean(req.session.mustEnrol),
      });
    }
    const codes = await enrolTotp(ctx.db, me.id, secret, step, actor(req), ctx.now());
    req.session.totpSetup = undefined;
    req.session.mustEnrol = false;
    res.render('account/totp', { title: 'Double authentification activée', me: { ...me, totpEnabled: true }, enabled: true, recoveryLeft: codes.length, codes, error: null, required: false });
  });
  router.post('/compte/double-authentification/codes', async (req, res) => {
    const me = (await findUser(ctx.db, actor(req).id))!;
    const creds = (await credentialsOf(ctx.db, me.id))!;
    const settings = await getSecuritySettings(ctx.db);
    const right = await guarded(req, async () => {
      const step = creds.totpSecret ? verifyTotp(creds.totpSecret, str(req.body.code), ctx.now(), creds.totpLastStep) : null;
      return step !== null && (await recordTotpStep(ctx.db, me.id, step));
    });
    if (!right) {
      return res.status(right === null ? 429 : 422).render('account/totp', {
        title: 'Double authentification', me, enabled: true, recoveryLeft: await remainingRecoveryCodes(ctx.db, me.id), codes: null,
        error: right === null ? TOO_MANY : 'Code incorrect ou déjà utilisé : saisissez le code affiché maintenant par votre application.', required: settings.totpRoles.includes(me.role),
      });
    }
    const codes = await renewRecoveryCodes(ctx.db, me.id, actor(req), ctx.now());
    res.render('account/totp', { title: 'Nouveaux codes de secours', me, enabled: true, recoveryLeft: codes.length, codes, error: null, required: settings.totpRoles.includes(me.role) });
  });

  // ---- personal data (RGPD right of access) ----
  router.get('/compte/donnees', async (req, res) => {
    const me = actor(req);
    const data = await personalData(ctx.db, me.id);
    res.set('Content-Disposition', `attachment; filename="mes-donnees-plan-rgs-${ctx.now().toISOString().slice(0, 10)}.json"`)
      .type('application/json; charset=utf-8').send(JSON.stringify(data, null, 2));
  });

  return router;
}
