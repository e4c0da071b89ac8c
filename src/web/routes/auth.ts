import { type Request, type Response, Router } from 'express';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../../db/seeds/demo';
import {
  attemptSucceeded, type Charge, chargeAttempt, changePassword, consumeToken, credentialsOf, newSessionToken, newToken, passwordReused, peekToken,
  recordFailure, recordTotpStep, refundAttempt, remainingRecoveryCodes, unlockAttempt, useRecoveryCode,
} from '../../data/accounts';
import { recordAudit } from '../../data/audit';
import { hasDemoHomologation } from '../../data/plans';
import { getSecuritySettings } from '../../data/security-settings';
import { hit, purgeThrottle, sourceOf, unhit } from '../../data/throttle';
import { findCredentials, findCredentialsById, findUser, type User } from '../../data/users';
import { passwordExpired, passwordProblem } from '../../domain/password';
import { sha256, verifyTotp } from '../../security/totp';
import { freezeNotifier, passwordLink } from '../../services/accounts';
import type { AppContext } from '../context';
import { str } from '../forms/fields';

/** Only paths of this app: never an open redirect. */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/homologations';
}

/** One message for every refusal: it never tells whether the account exists, is frozen or suspended. */
const REFUSED = 'Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué. Après plusieurs échecs, le compte est gelé un moment ; en cas de doute, utilisez « Mot de passe oublié » ou contactez votre administrateur.';
const PENDING_MS = 5 * 60_000;

/** Sign-in failures from one source, all accounts together (password spraying), per quarter of an hour. */
export const LOGIN_FAILURES_PER_SOURCE = 50;
/** Forgotten-password requests: per source per quarter of an hour (over it: 429), per address per hour (over it: no e-mail, same answer). */
export const RESET_PER_SOURCE = 10;
export const RESET_PER_ADDRESS = 3;
/** Links to one address per hour whatever the sources: a stranger asking from elsewhere spends its own share, not the owner's. */
export const RESET_PER_ADDRESS_ALL_SOURCES = 10;
const QUARTER_MS = 15 * 60_000;
/** Wrong second-factor codes accepted after signing in with an unlock link, as many as the link's password tries. */
const UNLOCK_CODE_ATTEMPTS = 3;
const HOUR_MS = 3_600_000;
const TOO_MANY_FAILURES = 'Trop d’échecs de connexion depuis votre adresse réseau. Réessayez dans un quart d’heure, ou utilisez « Mot de passe oublié ».';
const TOO_MANY_RESETS = 'Trop de demandes de lien depuis votre adresse réseau. Réessayez dans un quart d’heure.';
const UNLOCK_TITLE = 'Connexion malgré le gel du compte';

export function authRouter(ctx: AppContext): Router {
  // an unknown address is checked against this hash, made by the same hasher: the same work as a known one
  const decoyHash = ctx.passwords.hash('mot-de-passe-leurre-jamais-valide');
  const router = Router();

  const renderLogin = async (
    res: Response, status: number, values: { email: string; retour: string }, error?: string, notice?: string, fieldErrors: Record<string, string> = {},
  ) => {
    const demoAccounts = ctx.config.demo && (await hasDemoHomologation(ctx.db)) ? DEMO_ACCOUNTS : [];
    res.status(status).render('auth/login', { title: 'Connexion', values, error, notice, fieldErrors, demoAccounts, demoPassword: DEMO_PASSWORD });
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

  /** The owner's unlock link (e-mailed when the account froze): sign in despite the freeze, with the password. */
  const unlockPage = async (res: Response, token: string, status = 200, error: string | null = null) => {
    const found = await peekToken(ctx.db, token, ctx.now(), ['unlock']);
    const user = found ? await findUser(ctx.db, found.userId) : undefined;
    if (!user) return res.status(404).render('auth/link-invalid', { title: 'Lien expiré ou déjà utilisé' });
    res.status(status).render('auth/unlock', { title: UNLOCK_TITLE, token, email: user.email, error });
  };

  router.get('/connexion', async (req, res) => {
    if (req.user) return res.redirect('/homologations');
    if (typeof req.query.deblocage === 'string') return unlockPage(res, req.query.deblocage);
    const notice = req.query.expiree ? 'Votre session a été fermée après une période d’inactivité. Reconnectez-vous.'
      : req.query['mot-de-passe'] ? 'Votre mot de passe est enregistré. Vous pouvez vous connecter.' : undefined;
    await renderLogin(res, 200, { email: '', retour: safeReturn(req.query.retour) }, undefined, notice);
  });

  /** The password is right: the second factor if enrolled (the attempt is refunded, the code is charged next), else signed in. */
  const passwordRight = async (req: Request, res: Response, user: User, charge: Charge, retour: string, unlock: boolean) => {
    const creds = (await credentialsOf(ctx.db, user.id))!;
    if (creds.totpSecret) {
      await refundAttempt(ctx.db, charge);
      // the password is right; the session is opened only after the second factor
      await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
      req.session.pending = { userId: user.id, retour, at: ctx.now().getTime(), unlock };
      return res.redirect('/connexion/code');
    }
    await attemptSucceeded(ctx.db, user.id, charge.source);
    await signInAs(req, res, user, retour, unlock ? ' (avec le lien de déblocage)' : '');
  };

  router.post('/connexion', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const unlockToken = typeof body.deblocage === 'string' && body.deblocage ? body.deblocage : null;
    const email = str(body.email).trim();
    const password = str(body.password);
    const values = { email, retour: safeReturn(body.retour) };
    const now = ctx.now();
    const source = sourceOf(req.ip);
    if (unlockToken) return unlockSignIn(req, res, unlockToken, password, source);
    if (!email || !password) {
      return renderLogin(res, 422, values, 'Saisissez votre adresse électronique et votre mot de passe.', undefined, {
        ...(email ? {} : { email: 'Saisissez votre adresse électronique.' }), ...(password ? {} : { password: 'Saisissez votre mot de passe.' }),
      });
    }
    // A source that failed too often, on any accounts, is refused before anything else is looked at. The attempt is
    // counted first, in one atomic upsert, so requests sent in parallel get no more checks than the limit; a right
    // password gives it back (the limit counts failures).
    const sourceCounter = `login-ip:${source}`;
    if ((await hit(ctx.db, sourceCounter, QUARTER_MS, now)) > LOGIN_FAILURES_PER_SOURCE) return renderLogin(res, 429, values, TOO_MANY_FAILURES);
    const user = await findCredentials(ctx.db, email);
    const ok = await ctx.passwords.verify(user?.passwordHash ?? (await decoyHash), password);
    const failed = () => purgeThrottle(ctx.db, now);
    if (!user) {
      await failed();
      return refuse(res, values, null, 'compte inconnu');
    }
    const charged = await chargeAttempt(ctx.db, user.id, source, await getSecuritySettings(ctx.db), now);
    if (!charged.ok) return refuse(res, values, user.id, charged.why === 'source' ? `adresse ${source} bloquée pour ce compte après des échecs` : charged.why === 'hard' ? 'compte gelé pour toutes les adresses' : 'compte gelé');
    if (!ok) {
      await failed();
      await recordFailure(ctx.db, user.id, await getSecuritySettings(ctx.db), now, freezeNotifier(ctx.config.mail, now));
      ctx.wake?.();
      return refuse(res, values, user.id, 'mot de passe incorrect');
    }
    if (!user.active) return refuse(res, values, user.id, 'compte suspendu');
    await unhit(ctx.db, sourceCounter);
    const { passwordHash: _h, ...profile } = user;
    await passwordRight(req, res, profile, charged.charge, values.retour, false);
  });

  /** A sign-in with the unlock link: the account is the link's, freezes and source blocks do not apply, a few attempts only. */
  const unlockSignIn = async (req: Request, res: Response, token: string, password: string, source: string) => {
    const now = ctx.now();
    const found = await peekToken(ctx.db, token, now, ['unlock']);
    const user = found ? await findCredentialsById(ctx.db, found.userId) : undefined;
    if (!user) return unlockPage(res, token);
    if (!password) return unlockPage(res, token, 422, 'Saisissez votre mot de passe.');
    if (!(await unlockAttempt(ctx.db, token, now))) return unlockPage(res, token);
    const settings = await getSecuritySettings(ctx.db);
    // with the link, freezes and source blocks do not apply: the charge only records the attempt
    const charged = await chargeAttempt(ctx.db, user.id, source, settings, now, { unlock: true });
    if (!charged.ok) throw new Error('An unlock attempt is never refused by the charge');
    if (!(await ctx.passwords.verify(user.passwordHash, password)) || !user.active) {
      await recordFailure(ctx.db, user.id, settings, now, freezeNotifier(ctx.config.mail, now));
      ctx.wake?.();
      await recordAudit(ctx.db, { actor: { id: null, name: 'Anonyme' }, at: now, action: 'login_failed', entityType: 'user', entityId: user.id, summary: `Échec de connexion pour ${user.email} (lien de déblocage, mot de passe incorrect)` });
      return unlockPage(res, token, 401, 'Mot de passe incorrect. Ce lien n’accepte que quelques essais ; ensuite, utilisez « Mot de passe oublié ».');
    }
    if (!(await consumeToken(ctx.db, token, now, ['unlock']))) return unlockPage(res, token);
    const { passwordHash: _h, ...profile } = user;
    await passwordRight(req, res, profile, charged.charge, '/homologations', true);
  };

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
    const settings = await getSecuritySettings(ctx.db);
    const charged = user && creds && user.active ? await chargeAttempt(ctx.db, user.id, sourceOf(req.ip), settings, now, { unlock: pending.unlock }) : null;
    if (!user || !creds || !charged?.ok) {
      req.session.pending = undefined;
      return renderLogin(res, 401, { email: '', retour: '/homologations' }, REFUSED);
    }
    let how: string;
    const step = creds.totpSecret ? verifyTotp(creds.totpSecret, code, now, creds.totpLastStep) : null;
    if (step !== null && (await recordTotpStep(ctx.db, user.id, step))) how = ' (double authentification)';
    else if (code.length > 6 && (await useRecoveryCode(ctx.db, user.id, code, now))) {
      how = ` (code de secours ; il en reste ${await remainingRecoveryCodes(ctx.db, user.id)})`;
    } else {
      const froze = await recordFailure(ctx.db, user.id, settings, now, freezeNotifier(ctx.config.mail, now));
      ctx.wake?.();
      await recordAudit(ctx.db, { actor: { id: null, name: 'Anonyme' }, at: now, action: 'login_failed', entityType: 'user', entityId: user.id, summary: `Code de double authentification refusé pour ${user.email}` });
      // After an unlock link the freeze does not stop the code page: its own few tries do (the link is spent).
      const unlockTriesOver = pending.unlock && (pending.wrongCodes = (pending.wrongCodes ?? 0) + 1) >= UNLOCK_CODE_ATTEMPTS;
      if (froze || unlockTriesOver) {
        req.session.pending = undefined;
        return renderLogin(res, 401, { email: '', retour: '/homologations' }, REFUSED);
      }
      return again(401, 'Code incorrect ou déjà utilisé. Saisissez le code affiché maintenant par votre application.');
    }
    req.session.pending = undefined;
    await attemptSucceeded(ctx.db, user.id, charged.charge.source);
    await signInAs(req, res, user, pending.retour, `${how}${pending.unlock ? ' (avec le lien de déblocage)' : ''}`);
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
  /**
   * Answers the same, after the same work, whether or not the address has an account: the counters are
   * written, the account looked up and a link secret drawn and hashed either way; only once the answer has
   * been sent is the link stored and the message queued (so the answer's timing tells nothing). At most
   * RESET_PER_ADDRESS links per address and source per hour, RESET_PER_ADDRESS_ALL_SOURCES per address per hour
   * (beyond: the same answer, no e-mail), and RESET_PER_SOURCE requests per source per quarter of an hour
   * (beyond: 429). Counting per address and source keeps a stranger from spending the owner's links.
   */
  router.post('/mot-de-passe-oublie', async (req, res) => {
    const email = str(req.body.email).trim();
    const smtp = Boolean(ctx.config.mail.smtpUrl);
    const page = (status: number, sent: boolean, error: string | null) => res.status(status).render('auth/forgotten', { title: 'Mot de passe oublié', values: { email }, sent, smtp, error });
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return page(422, false, 'Saisissez une adresse électronique valide (par exemple prenom.nom@exemple.fr).');
    const now = ctx.now();
    const source = sourceOf(req.ip);
    const address = sha256(email.toLowerCase());
    const { perSource, perAddress, perAddressSource } = await ctx.db.transaction(async (trx) => {
      await purgeThrottle(trx, now);
      const perAddressSource = await hit(trx, `reset-addr-ip:${address}:${source}`, HOUR_MS, now);
      return {
        perSource: await hit(trx, `reset-ip:${source}`, QUARTER_MS, now),
        perAddressSource,
        // only the requests within their source's share count towards the address's cap
        perAddress: perAddressSource <= RESET_PER_ADDRESS ? await hit(trx, `reset-addr:${address}`, HOUR_MS, now) : Infinity,
      };
    });
    if (perSource > RESET_PER_SOURCE) return page(429, false, TOO_MANY_RESETS);
    const user = await findCredentials(ctx.db, email);
    // drawn whether or not the address is known: the answer costs the same
    const secret = newToken();
    if (smtp && user && user.active && perAddressSource <= RESET_PER_ADDRESS && perAddress <= RESET_PER_ADDRESS_ALL_SOURCES) {
      let started = false;
      const send = () => {
        if (started) return;
        started = true;
        passwordLink(ctx.db, ctx.config.mail, user, 'reset', { id: null, name: `${user.name} (mot de passe oublié)` }, now, secret)
          .then(() => ctx.wake?.(), (e: unknown) => console.error('Lien de mot de passe oublié non envoyé', e));
      };
      res.once('finish', send);
      res.once('close', send);
    }
    // the same answer whether or not the address is known, or over its limit
    page(200, true, null);
  });

  const linkPage = async (res: Response, token: string, status = 200, errors: Record<string, string> = {}) => {
    const found = await peekToken(ctx.db, token, ctx.now(), ['set', 'reset']);
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
      ?? ((await passwordReused(ctx.db, ctx.passwords, user.id, password, settings.password.history)) ? `Choisissez un mot de passe différent de vos ${settings.password.history} précédents.` : null);
    if (problem) return linkPage(res, token, 422, { password: problem });
    if (!(await consumeToken(ctx.db, token, now))) return linkPage(res, token);
    await changePassword(ctx.db, ctx.passwords, user.id, password, settings, { id: user.id, name: user.name, email: user.email }, now,
      found.purpose === 'set' ? 'Mot de passe choisi avec le lien de création du compte' : 'Mot de passe réinitialisé avec un lien envoyé par courriel');
    res.redirect(303, '/connexion?mot-de-passe=1');
  });

  return router;
}
