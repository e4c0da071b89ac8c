import { type Request, type Response, Router } from 'express';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../../db/seeds/demo';
import { recordAudit } from '../../data/audit';
import { hasDemoHomologation } from '../../data/plans';
import { hit, sourceOf } from '../../data/throttle';
import { SECOND_FACTOR_WAIT_MS, type SecondFactorAwaited, type SignedIn, signInService } from '../../services/sign-in';
import { type AppContext, servicesOf } from '../context';
import { forgottenPasswordForm, newPasswordForm, signInCodeForm, signInForm } from '../forms/auth';
import { parseForm, str } from '../forms/fields';
import { OidcRefused, OidcUnavailable, oidcClient } from '../../security/oidc';

/** Only paths of this app: never an open redirect. */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/homologations';
}

/** One message for every refusal: it never tells whether the account exists, is frozen or suspended. */
const REFUSED = 'Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué. Après plusieurs échecs, le compte est gelé un moment ; en cas de doute, utilisez « Mot de passe oublié » ou contactez votre administrateur.';
const TOO_MANY_FAILURES = 'Trop d’échecs de connexion depuis votre adresse réseau. Réessayez dans un quart d’heure, ou utilisez « Mot de passe oublié ».';
const TOO_MANY_RESETS = 'Trop de demandes de lien depuis votre adresse réseau. Réessayez dans un quart d’heure.';
const UNLOCK_TITLE = 'Connexion malgré le gel du compte';
const CODE_TITLE = 'Double authentification';
/** How long the browser may stay at the identity provider before its answer is no longer awaited. */
const PROVIDER_WAIT_MS = 10 * 60_000;
/** Sign-ins through the provider started from one network source per quarter of an hour (each opens a session). */
export const PROVIDER_STARTS_PER_SOURCE = 30;

/** Why the provider's sign-in was refused, in words the agent can act on. */
const PROVIDER_REFUSALS: Record<'unverified_email' | 'unknown' | 'suspended' | 'admin' | 'linked_elsewhere' | 'provider_mfa_required', (label: string, email: string) => string> = {
  unverified_email: (label) => `${label} n’atteste pas que votre adresse électronique est vérifiée : elle ne peut pas servir à retrouver votre compte. Vérifiez votre adresse auprès de votre fournisseur d’identité, ou connectez-vous avec votre mot de passe.`,
  unknown: (_label, email) => `Aucun compte n’est ouvert pour ${email || 'cette adresse'} dans cet outil, et votre organisation n’y accepte pas de demande d’accès. Demandez un compte à l’administrateur de votre commune ou de l’outil.`,
  suspended: () => 'Votre compte est suspendu. Contactez l’administrateur de votre commune ou de l’outil.',
  admin: (label) => `Un compte d’administrateur ne se lie pas automatiquement à ${label} : connectez-vous avec votre adresse électronique, votre mot de passe et votre second facteur.`,
  linked_elsewhere: (label) => `Votre compte est déjà lié à une autre identité ${label}. Connectez-vous avec celle-ci, ou demandez à l’administrateur de l’outil de vérifier votre compte.`,
  provider_mfa_required: (label) => `Votre rôle exige une double authentification attestée par ${label}. Reconnectez-vous en choisissant chez votre fournisseur d’identité une connexion avec un second facteur (code, application ou clé).`,
};

export function authRouter(ctx: AppContext): Router {
  const signIn = signInService(servicesOf(ctx));
  const router = Router();
  const oidcConfig = ctx.config.oidc ?? null;
  const provider = oidcConfig ? oidcClient(oidcConfig) : null;
  const label = provider?.label ?? '';
  const unavailable = () => `${label} ne répond pas pour le moment. Réessayez dans quelques minutes, ou connectez-vous avec votre adresse électronique et votre mot de passe si vous en avez un.`;

  const renderLogin = async (
    res: Response, status: number, values: { email: string; retour: string }, error?: string, notice?: string, fieldErrors: Record<string, string> = {},
  ) => {
    const demoAccounts = ctx.config.demo && (await hasDemoHomologation(ctx.db)) ? DEMO_ACCOUNTS : [];
    res.status(status).render('auth/login', { title: 'Connexion', values, error, notice, fieldErrors, demoAccounts, demoPassword: DEMO_PASSWORD, provider: label || null });
  };

  /** The session the service opened becomes this browser's; passport regenerates the session id: a session fixed before sign-in is worthless. */
  const attach = async (req: Request, res: Response, { session }: SignedIn, retour: string, idToken?: string) => {
    await new Promise<void>((resolve, reject) => req.login({ ...session.user, sessionToken: session.sessionToken }, (e) => (e ? reject(e) : resolve())));
    req.session.seenAt = ctx.now().getTime();
    if (idToken) req.session.oidcIdToken = idToken;
    req.session.mustEnrol = session.mustEnrol;
    req.session.mustChangePassword = session.mustChangePassword;
    if (session.mustEnrol) return res.redirect('/compte/double-authentification');
    if (session.mustChangePassword) return res.redirect('/compte/mot-de-passe?expire=1');
    res.redirect(retour);
  };

  /** The password is right: the second factor next, or signed in. */
  const passwordRight = async (req: Request, res: Response, result: SecondFactorAwaited | SignedIn, retour: string, idToken?: string) => {
    if (result.kind === 'signed_in') return attach(req, res, result, retour, idToken);
    // the password is right; the session is opened only after the second factor
    await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
    req.session.pending = { userId: result.userId, retour, at: ctx.now().getTime(), unlock: result.unlock, ...(idToken ? { idToken } : {}) };
    res.redirect('/connexion/code');
  };

  /** The owner's unlock link (e-mailed when the account froze): sign in despite the freeze, with the password. */
  const unlockPage = async (res: Response, token: string, status = 200, error: string | null = null) => {
    const link = await signIn.unlockLink(token, ctx.now());
    if (!link) return res.status(404).render('auth/link-invalid', { title: 'Lien expiré ou déjà utilisé' });
    res.status(status).render('auth/unlock', { title: UNLOCK_TITLE, token, email: link.email, error });
  };

  router.get('/connexion', async (req, res) => {
    if (req.user) return res.redirect('/homologations');
    if (typeof req.query.deblocage === 'string') return unlockPage(res, req.query.deblocage);
    const notice = req.query.expiree ? 'Votre session a été fermée après une période d’inactivité. Reconnectez-vous.'
      : req.query['mot-de-passe'] ? 'Votre mot de passe est enregistré. Vous pouvez vous connecter.' : undefined;
    await renderLogin(res, 200, { email: '', retour: safeReturn(req.query.retour) }, undefined, notice);
  });

  router.post('/connexion', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const unlockToken = typeof body.deblocage === 'string' && body.deblocage ? body.deblocage : null;
    const source = sourceOf(req.ip);
    if (unlockToken) return unlockSignIn(req, res, unlockToken, str(body.password), source);
    const form = parseForm(signInForm, body);
    const values = { email: form.values.email.trim(), retour: safeReturn(body.retour) };
    if (!form.ok) return renderLogin(res, 422, values, 'Saisissez votre adresse électronique et votre mot de passe.', undefined, form.errors);
    const result = await signIn.signIn({ ...form.data, source, now: ctx.now() });
    switch (result.kind) {
      case 'too_many_failures': return renderLogin(res, 429, values, TOO_MANY_FAILURES);
      case 'refused': return renderLogin(res, 401, values, REFUSED);
      default: return passwordRight(req, res, result, values.retour);
    }
  });

  /** A sign-in with the unlock link: the account is the link's, freezes and source blocks do not apply, a few attempts only. */
  const unlockSignIn = async (req: Request, res: Response, token: string, password: string, source: string) => {
    const result = await signIn.signInWithUnlockLink({ token, password, source, now: ctx.now() });
    switch (result.kind) {
      case 'link_unusable': return unlockPage(res, token);
      case 'password_missing': return unlockPage(res, token, 422, 'Saisissez votre mot de passe.');
      case 'wrong_password': return unlockPage(res, token, 401, 'Mot de passe incorrect. Ce lien n’accepte que quelques essais ; ensuite, utilisez « Mot de passe oublié ».');
      default: return passwordRight(req, res, result, '/homologations');
    }
  };

  const pendingUser = (req: Request) => {
    const p = req.session.pending;
    if (!p || ctx.now().getTime() - p.at > SECOND_FACTOR_WAIT_MS) return undefined;
    return p;
  };

  router.get('/connexion/code', (req, res) => {
    if (!pendingUser(req)) return res.redirect('/connexion');
    res.render('auth/code', { title: CODE_TITLE, error: null });
  });

  router.post('/connexion/code', async (req, res) => {
    const pending = pendingUser(req);
    if (!pending) return res.redirect(303, '/connexion');
    const form = parseForm(signInCodeForm, req.body);
    const again = (status: number, error: string) => res.status(status).render('auth/code', { title: CODE_TITLE, error });
    if (!form.ok) return again(422, form.errors.code!);
    const result = await signIn.secondFactor({
      userId: pending.userId, code: form.data.code, source: sourceOf(req.ip), now: ctx.now(), unlock: Boolean(pending.unlock), wrongCodes: pending.wrongCodes,
      ...(pending.idToken ? { provider: label } : {}),
    });
    switch (result.kind) {
      case 'refused':
        req.session.pending = undefined;
        return renderLogin(res, 401, { email: '', retour: '/homologations' }, REFUSED);
      case 'wrong_code':
        pending.wrongCodes = result.wrongCodes;
        return again(401, 'Code incorrect ou déjà utilisé. Saisissez le code affiché maintenant par votre application.');
      case 'signed_in':
        req.session.pending = undefined;
        return attach(req, res, result, pending.retour, pending.idToken);
    }
  });

  // ---- sign-in through the identity provider (ProConnect), when configured ----

  const providerPage = (res: Response, status: number, heading: string, text: string) =>
    res.status(status).render('auth/provider', { title: heading, heading, text, provider: label, kind: status === 202 ? 'info' : 'warning' });

  // only when configured: without a provider, these addresses do not exist
  if (provider && oidcConfig) {
    router.post('/connexion/oidc', async (req, res) => {
      const retour = safeReturn((req.body as Record<string, unknown>).retour);
      if ((await hit(ctx.db, `oidc-start:${sourceOf(req.ip)}`, 15 * 60_000, ctx.now())) > PROVIDER_STARTS_PER_SOURCE) {
        return renderLogin(res, 429, { email: '', retour }, `Trop de connexions par ${label} commencées depuis votre adresse réseau. Réessayez dans un quart d’heure.`);
      }
      try {
        const { url, pending } = await provider.start(retour, ctx.now().getTime());
        req.session.oidc = pending;
        res.redirect(303, url);
      } catch (err) {
        if (!(err instanceof OidcUnavailable)) throw err;
        console.error(`Fournisseur d'identité injoignable : ${err.message}`);
        await renderLogin(res, 503, { email: '', retour }, unavailable());
      }
    });

    router.get('/connexion/oidc/retour', async (req, res) => {
      const pending = req.session.oidc;
      // one use: a replayed answer, or an answer for another browser, finds nothing to match
      req.session.oidc = undefined;
      const again = `La connexion par ${label} n’a pas abouti`;
      if (!pending || ctx.now().getTime() - pending.at > PROVIDER_WAIT_MS) {
        return renderLogin(res, 400, { email: '', retour: '/homologations' }, `${again} : cette réponse n’était pas attendue (demande expirée, déjà utilisée ou faite depuis un autre navigateur). Recommencez la connexion.`);
      }
      let identity;
      try {
        identity = await provider.finish(new URL(req.originalUrl, oidcConfig.redirectUri), pending, ctx.now().getTime());
      } catch (err) {
        if (err instanceof OidcUnavailable) return renderLogin(res, 503, { email: '', retour: pending.retour }, unavailable());
        if (!(err instanceof OidcRefused)) throw err;
        await recordAudit(ctx.db, { actor: { id: null, name: 'Anonyme' }, at: ctx.now(), action: 'login_failed', entityType: 'session', entityId: null, summary: `Échec de connexion par ${label} : réponse du fournisseur refusée (${err.message.slice(0, 300)})` });
        return renderLogin(res, 401, { email: '', retour: pending.retour }, `${again} : la réponse du fournisseur n’a pas passé les contrôles de sécurité. Recommencez ; si cela se reproduit, prévenez votre administrateur.`);
      }
      const result = await signIn.signInWithProvider({ identity, label, mfaAcr: oidcConfig.mfaAcr, trustsEmail: oidcConfig.trustsEmail, now: ctx.now() });
      switch (result.kind) {
        case 'signed_in':
        case 'second_factor':
          return passwordRight(req, res, result, pending.retour, identity.idToken);
        case 'requested':
          return providerPage(res, 202, 'Demande d’accès transmise', result.fresh
            ? `Vous n’avez pas encore de compte. Votre demande d’accès est transmise à l’administrateur de ${result.commune}, qui vous attribuera un rôle. Vous pourrez vous connecter avec ${label} dès qu’elle sera acceptée.`
            : `Votre demande d’accès attend la décision de l’administrateur de ${result.commune}. Vous pourrez vous connecter avec ${label} dès qu’elle sera acceptée.`);
        case 'refused':
          return providerPage(res, 403, 'Connexion refusée', PROVIDER_REFUSALS[result.reason](label, identity.email ?? ''));
      }
    });
  }

  router.post('/deconnexion', (req, res, next) => {
    const user = req.user;
    const idToken = req.session?.oidcIdToken;
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy(() => {
        res.clearCookie('plan.sid');
        // signed in through the provider: its session ends too (RP-initiated logout), then back to the sign-in page
        const leave = async () => (idToken && provider ? (await provider.endSessionUrl(idToken, ctx.now().getTime())) ?? '/connexion' : '/connexion');
        const audited = user
          ? recordAudit(ctx.db, { actor: user, at: ctx.now(), action: 'logout', entityType: 'session', entityId: user.id, summary: idToken ? `Déconnexion (et de ${label})` : 'Déconnexion' })
          : Promise.resolve();
        audited.then(leave).then((to) => res.redirect(to), next);
      });
    });
  });

  // ---- forgotten password, and the one-time links ----

  router.get('/mot-de-passe-oublie', (_req, res) => {
    res.render('auth/forgotten', { title: 'Mot de passe oublié', values: { email: '' }, sent: false, smtp: Boolean(ctx.config.mail.smtpUrl), error: null });
  });
  /** Answers the same, after the same work, whether or not the address has an account (see requestPasswordReset). */
  router.post('/mot-de-passe-oublie', async (req, res) => {
    const form = parseForm(forgottenPasswordForm, req.body);
    const email = form.values.email.trim();
    const smtp = Boolean(ctx.config.mail.smtpUrl);
    const page = (status: number, sent: boolean, error: string | null) => res.status(status).render('auth/forgotten', { title: 'Mot de passe oublié', values: { email }, sent, smtp, error });
    if (!form.ok) return page(422, false, form.errors.email!);
    const result = await signIn.requestPasswordReset({ email: form.data.email, source: sourceOf(req.ip), now: ctx.now() });
    if (result.kind === 'too_many_requests') return page(429, false, TOO_MANY_RESETS);
    // the link is stored and queued only once the answer is sent, so the answer's timing tells nothing
    if (result.deliver) {
      res.once('finish', result.deliver);
      res.once('close', result.deliver);
    }
    // the same answer whether or not the address is known, or over its limit
    page(200, true, null);
  });

  const linkPage = async (res: Response, token: string, status = 200, errors: Record<string, string> = {}) => {
    const link = await signIn.passwordLinkOf(token, ctx.now());
    if (!link) return res.status(404).render('auth/link-invalid', { title: 'Lien expiré ou déjà utilisé' });
    res.status(status).render('auth/set-password', { title: link.purpose === 'set' ? 'Choisir votre mot de passe' : 'Nouveau mot de passe', token, user: link.user, policy: link.policy, errors });
  };
  router.get('/mot-de-passe/:token', async (req, res) => linkPage(res, req.params.token));
  router.post('/mot-de-passe/:token', async (req, res) => {
    const token = req.params.token;
    const form = parseForm(newPasswordForm, req.body);
    const { password, confirm } = form.values;
    const result = await signIn.setPasswordWithLink({ token, password, confirm, now: ctx.now() });
    switch (result.kind) {
      case 'link_unusable': return linkPage(res, token);
      case 'invalid': return linkPage(res, token, 422, { password: result.problem });
      case 'done': return res.redirect(303, '/connexion?mot-de-passe=1');
    }
  });

  return router;
}
