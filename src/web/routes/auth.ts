import { type Request, type Response, Router } from 'express';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../../db/seeds/demo';
import {
  changePassword, clearFailures, consumeToken, credentialsOf, isFrozen, newSessionToken, passwordReused, peekToken, recordFailure, recordTotpStep,
  remainingRecoveryCodes, useRecoveryCode,
} from '../../data/accounts';
import { recordAudit } from '../../data/audit';
import { currentPlan } from '../../data/plans';
import { getSecuritySettings } from '../../data/security-settings';
import { findCredentials, findUser, type User } from '../../data/users';
import { passwordExpired, passwordProblem } from '../../domain/password';
import { hashPassword, verifyPassword } from '../../security/passwords';
import { verifyTotp } from '../../security/totp';
import { freezeNotifier, passwordLink } from '../../services/accounts';
import type { AppContext } from '../context';
import { str } from '../forms/fields';

/** Only paths of this app: never an open redirect. */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/plan';
}

// Compared against when the e-mail is unknown, so the answer takes as long either way.
const decoyHash = hashPassword('mot-de-passe-leurre-jamais-valide');

/** One message for every refusal: it never tells whether the account exists, is frozen or suspended. */
const REFUSED = 'Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué. Après plusieurs échecs, le compte est gelé un moment ; en cas de doute, utilisez « Mot de passe oublié » ou contactez votre administrateur.';
const PENDING_MS = 5 * 60_000;

export function authRouter(ctx: AppContext): Router {
  const router = Router();

  const renderLogin = async (res: Response, status: number, values: { email: string; retour: string }, error?: string, notice?: string) => {
    const plan = await currentPlan(ctx.db);
    const demoAccounts = ctx.config.demo && plan.isDemo ? DEMO_ACCOUNTS : [];
    res.status(status).render('auth/login', { title: 'Connexion', values, error, notice, demoAccounts, demoPassword: DEMO_PASSWORD });
  };

  const refuse = async (res: Response, values: { email: string; retour: string }, userId: number | null, why: string) => {
    await recordAudit(ctx.db, {
      actor: { id: null, name: 'Anonyme' }, at: ctx.now(), action: 'login_failed', entityType: userId ? 'user' : 'session', entityId: userId,
      summary: `Échec de connexion pour ${values.email} (${why})`,
    });
    return renderLogin(res, 401, values, REFUSED);
  };

  /** The password (and second factor) are right: open the one session of this user. */
  const signInAs = async (req: Request, res: Response, user: User, retour: string, how: string) => {
    const at = ctx.now();
    const settings = await getSecuritySettings(ctx.db);
    const creds = (await credentialsOf(ctx.db, user.id))!;
    const sessionToken = await newSessionToken(ctx.db, user.id, at);
    // passport regenerates the session id here: a session fixed before sign-in is worthless
    await new Promise<void>((resolve, reject) => req.login({ ...user, sessionToken }, (e) => (e ? reject(e) : resolve())));
    req.session.seenAt = at.getTime();
    req.session.mustEnrol = settings.totpRoles.includes(user.role) && !creds.totpSecret;
    req.session.mustChangePassword = passwordExpired(creds.passwordChangedAt, at, settings.password);
    await recordAudit(ctx.db, { actor: user, at, action: 'login', entityType: 'session', entityId: user.id, summary: `Connexion${how}` });
    if (req.session.mustEnrol) return res.redirect('/compte/double-authentification');
    if (req.session.mustChangePassword) return res.redirect('/compte/mot-de-passe?expire=1');
    res.redirect(retour);
  };

  router.get('/connexion', async (req, res) => {
    if (req.user) return res.redirect('/plan');
    const notice = req.query.expiree ? 'Votre session a été fermée après une période d’inactivité. Reconnectez-vous.'
      : req.query['mot-de-passe'] ? 'Votre mot de passe est enregistré. Vous pouvez vous connecter.' : undefined;
    await renderLogin(res, 200, { email: '', retour: safeReturn(req.query.retour) }, undefined, notice);
  });

  router.post('/connexion', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const email = str(body.email).trim();
    const password = str(body.password);
    const values = { email, retour: safeReturn(body.retour) };
    if (!email || !password) return renderLogin(res, 422, values, 'Saisissez votre adresse électronique et votre mot de passe.');
    const now = ctx.now();
    const user = await findCredentials(ctx.db, email);
    const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash), password);
    if (!user) return refuse(res, values, null, 'compte inconnu');
    const creds = (await credentialsOf(ctx.db, user.id))!;
    if (isFrozen(creds, now)) return refuse(res, values, user.id, 'compte gelé');
    if (!ok) {
      await recordFailure(ctx.db, user.id, await getSecuritySettings(ctx.db), now, freezeNotifier(ctx.config.mail, now));
      ctx.wake?.();
      return refuse(res, values, user.id, 'mot de passe incorrect');
    }
    if (!user.active) return refuse(res, values, user.id, 'compte suspendu');
    const { passwordHash: _h, ...profile } = user;
    if (creds.totpSecret) {
      // the password is right; the session is opened only after the second factor
      await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
      req.session.pending = { userId: user.id, retour: values.retour, at: now.getTime() };
      return res.redirect('/connexion/code');
    }
    await clearFailures(ctx.db, user.id);
    await signInAs(req, res, profile, values.retour, '');
  });

  const pendingUser = (req: Request) => {
    const p = req.session.pending;
    if (!p || ctx.now().getTime() - p.at > PENDING_MS) return undefined;
    return p;
  };

  router.get('/connexion/code', (req, res) => {
    if (!pendingUser(req)) return res.redirect('/connexion');
    res.render('auth/code', { title: 'Double authentification', error: null });
  });

  router.post('/connexion/code', async (req, res) => {
    const pending = pendingUser(req);
    if (!pending) return res.redirect(303, '/connexion');
    const now = ctx.now();
    const code = str(req.body.code).trim();
    const user = await findUser(ctx.db, pending.userId);
    const creds = await credentialsOf(ctx.db, pending.userId);
    const again = (status: number, error: string) => res.status(status).render('auth/code', { title: 'Double authentification', error });
    if (!code) return again(422, "Saisissez le code à 6 chiffres de votre application, ou un code de secours.");
    if (!user || !creds || !user.active || isFrozen(creds, now)) {
      req.session.pending = undefined;
      return renderLogin(res, 401, { email: '', retour: '/plan' }, REFUSED);
    }
    let how: string;
    const step = creds.totpSecret ? verifyTotp(creds.totpSecret, code, now, creds.totpLastStep) : null;
    if (step !== null && (await recordTotpStep(ctx.db, user.id, step))) how = ' (double authentification)';
    else if (code.length > 6 && (await useRecoveryCode(ctx.db, user.id, code, now))) {
      how = ` (code de secours ; il en reste ${await remainingRecoveryCodes(ctx.db, user.id)})`;
    } else {
      const froze = await recordFailure(ctx.db, user.id, await getSecuritySettings(ctx.db), now, freezeNotifier(ctx.config.mail, now));
      ctx.wake?.();
      await recordAudit(ctx.db, { actor: { id: null, name: 'Anonyme' }, at: now, action: 'login_failed', entityType: 'user', entityId: user.id, summary: `Code de double authentification refusé pour ${user.email}` });
      if (froze) {
        req.session.pending = undefined;
        return renderLogin(res, 401, { email: '', retour: '/plan' }, REFUSED);
      }
      return again(401, 'Code incorrect ou déjà utilisé. Saisissez le code affiché maintenant par votre application.');
    }
    req.session.pending = undefined;
    await clearFailures(ctx.db, user.id);
    await signInAs(req, res, user, pending.retour, how);
  });

  router.post('/deconnexion', (req, res, next) => {
    const user = req.user;
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy(() => {
        res.clearCookie('plan.sid');
        if (user) {
          recordAudit(ctx.db, { actor: user, at: ctx.now(), action: 'logout', entityType: 'session', entityId: user.id, summary: 'Déconnexion' })
            .then(() => res.redirect('/connexion'), next);
        } else res.redirect('/connexion');
      });
    });
  });

  // ---- forgotten password, and the one-time links ----

  router.get('/mot-de-passe-oublie', (_req, res) => {
    res.render('auth/forgotten', { title: 'Mot de passe oublié', values: { email: '' }, sent: false, smtp: Boolean(ctx.config.mail.smtpUrl), error: null });
  });
  router.post('/mot-de-passe-oublie', async (req, res) => {
    const email = str(req.body.email).trim();
    const smtp = Boolean(ctx.config.mail.smtpUrl);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      return res.status(422).render('auth/forgotten', { title: 'Mot de passe oublié', values: { email }, sent: false, smtp, error: 'Saisissez une adresse électronique valide (par exemple prenom.nom@exemple.fr).' });
    }
    const user = smtp ? await findCredentials(ctx.db, email) : undefined;
    if (user && user.active) {
      await passwordLink(ctx.db, ctx.config.mail, user, 'reset', { id: null, name: `${user.name} (mot de passe oublié)` }, ctx.now());
      ctx.wake?.();
    }
    // the same answer whether or not the address is known
    res.render('auth/forgotten', { title: 'Mot de passe oublié', values: { email }, sent: true, smtp, error: null });
  });

  const linkPage = async (res: Response, token: string, status = 200, errors: Record<string, string> = {}) => {
    const found = await peekToken(ctx.db, token, ctx.now());
    if (!found) return res.status(404).render('auth/link-invalid', { title: 'Lien expiré ou déjà utilisé' });
    const user = await findUser(ctx.db, found.userId);
    const settings = await getSecuritySettings(ctx.db);
    res.status(status).render('auth/set-password', { title: found.purpose === 'set' ? 'Choisir votre mot de passe' : 'Nouveau mot de passe', token, user, policy: settings.password, errors });
  };
  router.get('/mot-de-passe/:token', async (req, res) => linkPage(res, req.params.token));
  router.post('/mot-de-passe/:token', async (req, res) => {
    const token = req.params.token;
    const now = ctx.now();
    const found = await peekToken(ctx.db, token, now);
    if (!found) return linkPage(res, token);
    const user = (await findUser(ctx.db, found.userId))!;
    const settings = await getSecuritySettings(ctx.db);
    const password = str(req.body.password);
    const confirm = str(req.body.confirm);
    const problem = passwordProblem(password, { email: user.email, name: user.name }, settings.password)
      ?? (password !== confirm ? 'Les deux saisies ne sont pas identiques.' : null)
      ?? ((await passwordReused(ctx.db, user.id, password, settings.password.history)) ? `Choisissez un mot de passe différent de vos ${settings.password.history} précédents.` : null);
    if (problem) return linkPage(res, token, 422, { password: problem });
    if (!(await consumeToken(ctx.db, token, now))) return linkPage(res, token);
    await changePassword(ctx.db, user.id, password, settings, { id: user.id, name: user.name, email: user.email }, now,
      found.purpose === 'set' ? 'Mot de passe choisi avec le lien de création du compte' : 'Mot de passe réinitialisé avec un lien envoyé par courriel');
    res.redirect(303, '/connexion?mot-de-passe=1');
  });

  return router;
}
