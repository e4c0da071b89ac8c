import { Router } from 'express';
import type { PassportStatic } from 'passport';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../../db/seeds/demo';
import { recordAudit } from '../../data/audit';
import { currentPlan } from '../../data/plans';
import { recordLogin } from '../../data/users';
import type { AppContext } from '../context';

/** Only paths of this app: never an open redirect. */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/plan';
}

export function authRouter(ctx: AppContext, passport: PassportStatic): Router {
  const router = Router();

  const renderLogin = async (res: import('express').Response, status: number, values: { email: string; retour: string }, error?: string) => {
    const plan = await currentPlan(ctx.db);
    const demoAccounts = ctx.config.demo && plan.isDemo ? DEMO_ACCOUNTS : [];
    res.status(status).render('auth/login', { title: 'Connexion', values, error, demoAccounts, demoPassword: DEMO_PASSWORD });
  };

  router.get('/connexion', async (req, res) => {
    if (req.user) return res.redirect('/plan');
    await renderLogin(res, 200, { email: '', retour: safeReturn(req.query.retour) });
  });

  router.post('/connexion', (req, res, next) => {
    const body = req.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const values = { email, retour: safeReturn(body.retour) };
    if (!email || !password) {
      renderLogin(res, 422, values, 'Saisissez votre adresse électronique et votre mot de passe.').catch(next);
      return;
    }
    passport.authenticate('local', (err: unknown, user: Express.User | false) => {
      if (err) return next(err);
      (async () => {
        const at = ctx.now();
        if (!user) {
          await recordAudit(ctx.db, { actor: { id: null, name: 'Anonyme' }, at, action: 'login_failed', entityType: 'session', entityId: null, summary: `Échec de connexion pour ${email}` });
          // Same message whether or not the account exists.
          return renderLogin(res, 401, values, 'Adresse électronique ou mot de passe incorrect.');
        }
        await new Promise<void>((resolve, reject) => req.login(user, (e) => (e ? reject(e) : resolve())));
        await recordLogin(ctx.db, user.id, at);
        await recordAudit(ctx.db, { actor: user, at, action: 'login', entityType: 'session', entityId: user.id, summary: 'Connexion' });
        res.redirect(values.retour);
      })().catch(next);
    })(req, res, next);
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

  return router;
}
