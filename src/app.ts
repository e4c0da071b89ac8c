import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import { csrfSync } from 'csrf-sync';
import helmet from 'helmet';
import { configurePassport, idleTimeout, requireAccountReady, requireSignIn } from './web/auth';
import type { AppContext } from './web/context';
import { HttpError } from './web/errors';
import { adminRouter } from './web/routes/admin';
import { accountRouter } from './web/routes/account';
import { alertsRouter } from './web/routes/alerts';
import { communeUsersRouter } from './web/routes/commune-users';
import { contactsRouter } from './web/routes/contacts';
import { journalRouter } from './web/routes/journal';
import { mailAdminRouter } from './web/routes/mail-admin';
import { securitySettingsRouter } from './web/routes/security-settings';
import { supervisionRouter } from './web/routes/supervision';
import { unsubscribeRouter } from './web/routes/unsubscribe';
import { authRouter } from './web/routes/auth';
import { dashboardRouter } from './web/routes/dashboard';
import { fichesRouter } from './web/routes/fiches';
import { meetingsRouter } from './web/routes/meetings';
import { planRouter } from './web/routes/plan';
import { planSettingsRouter } from './web/routes/plan-settings';
import { viewHelpers } from './web/view-helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('views', path.join(root, 'views'));
  app.set('view engine', 'ejs');
  app.engine('ejs', (file, data, cb) => {
    // compiled templates are cached (a template edit needs a restart), else every include is re-read and re-compiled
    ejs.renderFile(file, data as ejs.Data, { cache: true, escape: ejs.escapeXML }, cb);
  });
  if (ctx.config.production) app.set('trust proxy', 1);

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          objectSrc: ["'none'"],
        },
      },
    }),
  );

  app.use('/dsfr', express.static(path.join(root, 'node_modules/@gouvfr/dsfr/dist'), { maxAge: '7d', index: false }));
  app.use('/static', express.static(path.join(root, 'public'), { maxAge: '1h', index: false }));

  app.use(express.urlencoded({ extended: true, limit: '1mb', parameterLimit: 20000 }));
  app.use(
    session({
      name: 'plan.sid',
      secret: ctx.config.sessionSecret,
      store: new ConnectSessionKnexStore({ knex: ctx.db, tableName: 'sessions', createTable: false, cleanupInterval: 0 }),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: ctx.config.production, maxAge: 8 * 60 * 60 * 1000 },
    }),
  );
  const passport = configurePassport(ctx);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(idleTimeout(ctx));

  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'Jeton CSRF invalide' },
  });
  app.use((req, res, next) => {
    res.locals.h = viewHelpers;
    res.locals.user = req.user ?? null;
    res.locals.path = req.path;
    res.locals.demo = ctx.config.demo;
    res.locals.csrfToken = () => generateToken(req);
    next();
  });
  // Before the CSRF check: the unsubscribe link's token is its own credential (one-click unsubscribe, RFC 8058).
  app.use(unsubscribeRouter(ctx));
  app.use(csrfSynchronisedProtection);

  app.use(authRouter(ctx));
  app.get('/', (_req, res) => res.redirect('/plan'));
  app.use(requireSignIn);
  app.use(requireAccountReady);
  app.use(accountRouter(ctx));
  app.use(planRouter(ctx));
  app.use(dashboardRouter(ctx));
  app.use(fichesRouter(ctx));
  app.use(meetingsRouter(ctx));
  app.use(contactsRouter(ctx));
  app.use(communeUsersRouter(ctx));
  app.use(alertsRouter(ctx));
  app.use('/admin', mailAdminRouter(ctx));
  app.use('/admin', journalRouter(ctx));
  app.use('/admin', supervisionRouter(ctx));
  app.use('/admin', securitySettingsRouter(ctx));
  app.use('/admin/plan', planSettingsRouter(ctx));
  app.use('/admin', adminRouter(ctx));

  app.use((_req, _res, next) => next(new HttpError(404, "Cette page n'existe pas ou n'existe plus.")));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let status = 500;
    let message = "Une erreur inattendue s'est produite. Réessayez dans quelques instants ; si elle persiste, contactez l'administrateur.";
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (typeof err === 'object' && err !== null && (err as { code?: string }).code === 'EBADCSRFTOKEN') {
      status = 403;
      message = 'Le formulaire a expiré ou ne vient pas de cette application. Rechargez la page et recommencez.';
    } else if (typeof err === 'object' && err !== null && 'status' in err && (err as { status: number }).status === 413) {
      status = 413;
      message = 'Le formulaire envoyé est trop volumineux.';
    } else {
      console.error(err);
    }
    res.status(status).render('errors/error', { title: titleFor(status), status, message, user: req.user ?? null });
  });
  return app;
}

function titleFor(status: number): string {
  if (status === 404) return 'Page introuvable';
  if (status === 403) return 'Accès refusé';
  if (status < 500) return 'Requête refusée';
  return 'Erreur du service';
}
