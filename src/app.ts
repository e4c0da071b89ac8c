import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { configurePassport, idleTimeout, requireAccountReady, requireSignIn } from './web/auth';
import { passwordHasher } from './security/passwords';
import type { AppContext } from './web/context';
import { csrfProtection } from './web/csrf';
import { HttpError } from './web/errors';
import { ResilientSessionStore, SessionStoreError } from './web/session-store';
import { takeNotice } from './web/notice';
import { adminRouter } from './web/routes/admin';
import { accountRouter } from './web/routes/account';
import { alertsRouter } from './web/routes/alerts';
import { communeUsersRouter } from './web/routes/commune-users';
import { contactsRouter } from './web/routes/contacts';
import { journalRouter } from './web/routes/journal';
import { mailAdminRouter } from './web/routes/mail-admin';
import { securitySettingsRouter } from './web/routes/security-settings';
import { adminRisksRouter } from './web/routes/admin-risks';
import { supervisionRouter } from './web/routes/supervision';
import { unsubscribeRouter } from './web/routes/unsubscribe';
import { authRouter } from './web/routes/auth';
import { expiryRemindersRouter } from './web/routes/expiry-reminders';
import { homologationRouter } from './web/routes/homologation';
import { homologationsRouter } from './web/routes/homologations';
import { lifecycleRouter } from './web/routes/lifecycle';
import { homologationSettingsRouter } from './web/routes/homologation-settings';
import { overviewRouter } from './web/routes/overview';
import { planSettingsRouter } from './web/routes/plan-settings';
import { setupRouter } from './web/routes/setup';
import { viewHelpers } from './web/view-helpers';
import { precompileViews, VIEW_OPTIONS } from './web/views-cache';
import { PageCache } from './web/page-cache';
import { dsfrOnly, FALLBACK_IDENTITY, loadIdentity } from './web/identity';
import { legalRouter } from './web/routes/legal';
import { identityAssetsRouter, identityRouter, identityUpload } from './web/routes/identity';
import { planImportUpload } from './web/routes/plan-import';
import { evidenceUpload } from './web/evidence-upload';
import { myActionsFeedRouter, myActionsRouter } from './web/routes/my-actions';
import { stepLinkRouter } from './web/routes/step-link';

const SESSION_COOKIE = 'plan.sid';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What createApp needs; the password hasher defaults to the production one. */
export type AppDeps = Omit<AppContext, 'passwords'> & Partial<Pick<AppContext, 'passwords'>>;

export function createApp(deps: AppDeps): express.Express {
  const ctx: AppContext = { ...deps, passwords: deps.passwords ?? passwordHasher };
  const app = express();
  app.disable('x-powered-by');
  app.set('views', path.join(root, 'views'));
  app.set('view engine', 'ejs');
  app.engine('ejs', (file, data, cb) => {
    // compiled templates are cached (a template edit needs a restart), else every include is re-read and re-compiled
    ejs.renderFile(file, data as ejs.Data, VIEW_OPTIONS, cb);
  });
  // and compiled in the background from the start, not by the first view of each page
  void precompileViews(path.join(root, 'views'));
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
          // a form's redirect is checked too: signing in and out through the identity provider goes to its origin
          formAction: ["'self'", ...(ctx.config.oidc ? [new URL(ctx.config.oidc.issuer).origin] : [])],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          objectSrc: ["'none'"],
        },
      },
    }),
  );

  app.use('/static', express.static(path.join(root, 'public'), { maxAge: '1h', index: false }));
  // the neutral font, served from its package (the State's font comes with the DSFR's files)
  app.use('/static/fonts', express.static(path.join(root, 'node_modules/@fontsource/atkinson-hyperlegible/files'), { maxAge: '7d', index: false }));
  // a page rendered before the identity is read (an early error) wears the neutral one
  app.locals.identity = FALLBACK_IDENTITY;
  // the data's revision, read before anything else reads the data: what was computed at it is reused until it moves
  const sessionStore = new ResilientSessionStore(ctx.db);
  const cache = new PageCache(ctx.db, {
    now: ctx.now, cookie: { name: SESSION_COOKIE, secret: ctx.config.sessionSecret }, touchedRecently: (sid) => sessionStore.touchedRecently(sid),
  });
  app.use(cache.revision);
  app.use(loadIdentity(ctx.db, cache));
  const dsfr = express.Router();
  dsfr.use(dsfrOnly, express.static(path.join(root, 'node_modules/@gouvfr/dsfr/dist'), { maxAge: '7d', index: false }));
  app.use('/dsfr', dsfr);
  app.use(identityAssetsRouter(ctx));

  app.use(express.urlencoded({ extended: true, limit: '1mb', parameterLimit: 20000 }));
  const sessions = session({
    name: SESSION_COOKIE,
    secret: ctx.config.sessionSecret,
    store: sessionStore,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: ctx.config.production, maxAge: 8 * 60 * 60 * 1000 },
  });
  app.use((req, res, next) => {
    sessions(req, res, (err?: unknown) => {
      // express-session saves the session while the response ends, and hands a failure to this `next` once the
      // page is sent: passed on, it would reach Express's final handler, which cuts the connection and the page
      // with it. The reader has the page; the failure is logged.
      if (err && res.headersSent) {
        console.error(`Sessions indisponibles (${req.method} ${req.originalUrl}, après la réponse) :`, causeOf(err));
        return;
      }
      next(err);
    });
  });
  const passport = configurePassport(ctx, cache);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(idleTimeout(ctx));
  app.use(takeNotice);
  // A page already computed for this session in this state, at this revision, is sent from here: what follows (uploads,
  // form token check, the sign-in and account gates) let it through when it was computed, and would again.
  app.use(cache.serve);
  app.use(identityUpload);
  app.use(planImportUpload);
  app.use(evidenceUpload(ctx.config.evidence));
  // A NUL character is typed by nobody, and PostgreSQL cannot store one in text: dropped from every posted field
  // (form or multipart), so that such a request is an ordinary one on both engines rather than a 500 on one.
  app.use((req, _res, next) => {
    if (req.body && typeof req.body === 'object') req.body = withoutNul(req.body);
    next();
  });

  // No session before sign-in: the CSRF token of an anonymous form lives in a signed cookie (see web/csrf.ts).
  const csrf = csrfProtection({ secret: ctx.config.sessionSecret, secure: ctx.config.production, now: ctx.now });
  app.use((req, res, next) => {
    res.locals.h = viewHelpers;
    res.locals.user = req.user ?? null;
    res.locals.path = req.path;
    // set under /homologations/:hid (the homologation's pages); null elsewhere
    res.locals.base = null;
    res.locals.hom = null;
    res.locals.demo = ctx.config.demo;
    res.locals.csrfToken = () => csrf.tokenFor(req);
    // In production the cookies are Secure: over plain HTTP the browser keeps none and no sign-in can work.
    res.locals.httpsRequired = ctx.config.production && !req.secure;
    next();
  });
  // Before the CSRF check: the unsubscribe link's token is its own credential (one-click unsubscribe, RFC 8058).
  app.use(unsubscribeRouter(ctx));
  app.use(myActionsFeedRouter(ctx));
  app.use(csrf.protect);

  app.use(authRouter(ctx));
  app.use(legalRouter(ctx));
  // the link a person without an account receives for their step: its token is the credential
  app.use(stepLinkRouter(ctx));
  app.get('/', (_req, res) => res.redirect('/homologations'));
  app.use(requireSignIn);
  app.use(requireAccountReady);
  app.use(accountRouter(ctx));
  app.use(setupRouter(ctx));
  app.use(homologationsRouter(ctx));
  app.use(overviewRouter(ctx));
  app.use('/homologations/:hid', homologationRouter(ctx, homologationSettingsRouter(ctx), expiryRemindersRouter(ctx), lifecycleRouter(ctx)));
  app.use(contactsRouter(ctx));
  app.use(communeUsersRouter(ctx));
  app.use(alertsRouter(ctx));
  app.use(myActionsRouter(ctx));
  app.use('/admin', mailAdminRouter(ctx));
  app.use('/admin', journalRouter(ctx));
  app.use('/admin', supervisionRouter(ctx));
  app.use('/admin', securitySettingsRouter(ctx));
  app.use('/admin', adminRisksRouter(ctx));
  app.use(identityRouter(ctx));
  app.use('/admin/plan', planSettingsRouter());
  app.use('/admin', adminRouter(ctx));

  app.use((_req, _res, next) => next(new HttpError(404, "Cette page n'existe pas ou n'existe plus.")));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message, log } = describeError(err, ctx.config.production && !req.secure);
    if (log) console.error(`${log} (${req.method} ${req.originalUrl}) :`, causeOf(err));
    // A failure after the page was sent (the session saved at the end of the response): logged above, nothing more to show.
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    // the locals too: the error may come before the middleware that sets them (session, body)
    res.status(status).render('errors/error', {
      title: titleFor(status), status, message, user: req.user ?? null, h: viewHelpers, path: req.path, csrfToken: () => csrf.tokenFor(req),
    });
  });
  return app;
}

function titleFor(status: number): string {
  if (status === 404) return 'Page introuvable';
  if (status === 403) return 'Accès refusé';
  if (status === 503) return 'Service momentanément indisponible';
  if (status < 500) return 'Requête refusée';
  return 'Erreur du service';
}

const HTTPS_REQUIRED =
  "Ce serveur est en production : la connexion exige HTTPS (les cookies de session et de formulaire ne sont envoyés qu'en HTTPS). " +
  "Ouvrez l'application par son adresse https://, ou, derrière un proxy HTTPS, faites-lui transmettre l'en-tête X-Forwarded-Proto: https.";

/**
 * The page, status and log line of an error. Requests a client got wrong (body in another charset or
 * an unknown compression, an address with a bad % escape…) are 4xx and not logged: they are not crashes.
 * A database out of reach is a 503, logged once; anything else a 500 with its stack in the log.
 */
function describeError(err: unknown, httpsRequired: boolean): { status: number; message: string; log?: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; status?: unknown; statusCode?: unknown; type?: unknown; charset?: unknown; encoding?: unknown };
  if (e.code === 'EBADCSRFTOKEN') {
    const expired = 'Le formulaire a expiré ou ne vient pas de cette application. Rechargez la page et recommencez.';
    return { status: 403, message: httpsRequired ? `${expired} ${HTTPS_REQUIRED}` : expired };
  }
  if (err instanceof SessionStoreError) return { status: 503, message: UNAVAILABLE, log: 'Sessions indisponibles' };
  if (databaseUnavailable(err)) return { status: 503, message: UNAVAILABLE, log: 'Base de données indisponible' };
  // the router could not decode a parameter of the path (/fiches/%ZZ)
  if (err instanceof URIError) return { status: 400, message: BAD_ADDRESS };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // body-parser's errors: http-errors with a status and a type
    switch (e.type) {
      case 'charset.unsupported':
        return { status, message: `Le formulaire doit être envoyé en UTF-8 (jeu de caractères reçu : « ${String(e.charset ?? '')} »).` };
      case 'encoding.unsupported':
        return { status, message: `Le contenu envoyé est compressé dans un format non pris en charge (Content-Encoding : « ${String(e.encoding ?? '')} »).` };
      case 'entity.too.large':
      case 'parameters.too.many':
        return { status, message: 'Le formulaire envoyé est trop volumineux.' };
      case 'request.aborted':
        return { status, message: "L'envoi du formulaire a été interrompu. Recommencez." };
      default:
        if (status === 413) return { status, message: 'Le formulaire envoyé est trop volumineux.' };
        // a gzip or deflate header on a body that is not (zlib's error, status 400)
        return { status, message: "Le contenu envoyé est illisible (compression invalide ou requête mal formée). Rechargez la page et recommencez." };
    }
  }
  return {
    status: 500,
    message: "Une erreur inattendue s'est produite. Réessayez dans quelques instants ; si elle persiste, contactez l'administrateur.",
    log: 'Erreur inattendue',
  };
}

const UNAVAILABLE = 'Le service est momentanément indisponible : la base de données ne répond pas. Réessayez dans quelques instants ; si cela persiste, prévenez l’administrateur.';
const BAD_ADDRESS = "L'adresse demandée est mal formée (un caractère % n'y est pas suivi de deux chiffres hexadécimaux). Vérifiez le lien.";

/** The database is out of reach (connection refused or terminated, pool exhausted, disk full, read-only, locked). */
function databaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  if (name === 'KnexTimeoutError') return true;
  if (typeof code === 'string') {
    // PostgreSQL: connection exception (08), insufficient resources (53), operator intervention (57P)
    if (/^(08|53)[0-9A-Z]{3}$|^57P0[1-3]$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
    if (/^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN)/.test(code)) return true;
  }
  return typeof message === 'string' && /Connection terminated|connection error and is not queryable/.test(message);
}

/** What is logged: the underlying error, once, without the session store's wrapper. */
function causeOf(err: unknown): unknown {
  return err instanceof SessionStoreError ? err.cause : err;
}

/**
 * Removes every NUL character from a parsed body's strings, in place and at any depth; a field whose name holds one
 * (no form has such a field) is dropped. The objects keep their own prototypes.
 */
function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.split('\u0000').join('') : value) as T;
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key.includes('\u0000')) delete record[key];
      else record[key] = withoutNul(record[key]);
    }
  }
  return value;
}
