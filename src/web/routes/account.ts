import { type Request, type Response, Router } from 'express';
import { personalData } from '../../data/accounts';
import { identitiesOf } from '../../data/identities';
import { sourceOf } from '../../data/throttle';
import { newTotpSecret, qrSvg, totpUri } from '../../security/totp';
import { accountSecurityService, type SecondFactorStatus } from '../../services/account-security';
import { actor } from '../auth';
import { type AppContext, servicesOf } from '../context';
import { changePasswordForm, totpCodeForm } from '../forms/auth';
import { parseForm } from '../forms/fields';

const TOO_MANY = 'Trop d’essais incorrects : pour protéger votre compte, les essais sont suspendus un moment (15 minutes, puis davantage). Réessayez plus tard.';

/** The signed-in user's own account: password, second factor, personal data. */
export function accountRouter(ctx: AppContext): Router {
  const security = accountSecurityService(servicesOf(ctx));
  const router = Router();

  router.get('/compte', async (req, res) => {
    const { me, required, recoveryLeft } = await security.secondFactorStatus(actor(req).id);
    const identities = await identitiesOf(ctx.db, me.id);
    res.render('account/index', { title: 'Mon compte', me, totpRequired: required, recoveryLeft, identities, providerLabel: ctx.config.oidc?.label ?? 'ProConnect' });
  });

  // ---- password ----
  const passwordPage = async (req: Request, res: Response, status = 200, errors: Record<string, string> = {}, done = false) => {
    res.status(status).render('account/password', {
      title: 'Changer mon mot de passe', policy: await security.passwordPolicy(), errors, done, expired: Boolean(req.session.mustChangePassword),
    });
  };
  router.get('/compte/mot-de-passe', (req, res) => passwordPage(req, res));
  router.post('/compte/mot-de-passe', async (req, res) => {
    const { current, password, confirm } = parseForm(changePasswordForm, req.body).values;
    const result = await security.changeOwnPassword({ me: actor(req), current, password, confirm, source: sourceOf(req.ip), now: ctx.now() });
    switch (result.kind) {
      case 'too_many_attempts': return passwordPage(req, res, 429, { current: TOO_MANY });
      case 'invalid': return passwordPage(req, res, 422, result.errors);
      case 'done':
        req.session.mustChangePassword = false;
        return passwordPage(req, res, 200, {}, true);
    }
  });

  // ---- second factor ----
  /** The enrolment page: the secret being enrolled (kept in the session until a code confirms it) as text and QR code. */
  const enrolPage = async (req: Request, res: Response, { me, required }: SecondFactorStatus, secret: string, status = 200, error: string | null = null) => {
    res.status(status).render('account/totp', {
      title: 'Activer la double authentification', me, enabled: false, secret, qr: await qrSvg(totpUri(secret, me.email)), codes: null, error,
      required, mustEnrol: Boolean(req.session.mustEnrol),
    });
  };
  router.get('/compte/double-authentification', async (req, res) => {
    const status = await security.secondFactorStatus(actor(req).id);
    const { me, required, recoveryLeft } = status;
    if (me.totpEnabled) return res.render('account/totp', { title: 'Double authentification', me, enabled: true, recoveryLeft, codes: null, error: null, required });
    req.session.totpSetup ??= newTotpSecret();
    await enrolPage(req, res, status, req.session.totpSetup);
  });
  router.post('/compte/double-authentification', async (req, res) => {
    const status = await security.secondFactorStatus(actor(req).id);
    const secret = req.session.totpSetup;
    if (status.me.totpEnabled || !secret) return res.redirect(303, '/compte/double-authentification');
    const { code } = parseForm(totpCodeForm, req.body).values;
    const result = await security.confirmEnrolment({ actor: actor(req), secret, code, source: sourceOf(req.ip), now: ctx.now() });
    if (result.kind === 'too_many_attempts') return enrolPage(req, res, status, secret, 429, TOO_MANY);
    if (result.kind === 'wrong_code') return enrolPage(req, res, status, secret, 422, 'Code incorrect : saisissez le code à 6 chiffres affiché maintenant par votre application.');
    req.session.totpSetup = undefined;
    req.session.mustEnrol = false;
    res.render('account/totp', {
      title: 'Double authentification activée', me: { ...status.me, totpEnabled: true }, enabled: true, recoveryLeft: result.codes.length, codes: result.codes, error: null, required: false,
    });
  });
  router.post('/compte/double-authentification/codes', async (req, res) => {
    const { me, required, recoveryLeft } = await security.secondFactorStatus(actor(req).id);
    const { code } = parseForm(totpCodeForm, req.body).values;
    const result = await security.renewRecoveryCodes({ actor: actor(req), code, source: sourceOf(req.ip), now: ctx.now() });
    if (result.kind !== 'renewed') {
      return res.status(result.kind === 'too_many_attempts' ? 429 : 422).render('account/totp', {
        title: 'Double authentification', me, enabled: true, recoveryLeft, codes: null,
        error: result.kind === 'too_many_attempts' ? TOO_MANY : 'Code incorrect ou déjà utilisé : saisissez le code affiché maintenant par votre application.', required,
      });
    }
    res.render('account/totp', { title: 'Nouveaux codes de secours', me, enabled: true, recoveryLeft: result.codes.length, codes: result.codes, error: null, required });
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
