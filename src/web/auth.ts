import type { NextFunction, Request, Response } from 'express';
import passport from 'passport';
import { type Actor, type Permission, can } from '../domain/roles';
import { idleSessionEnded, sessionOwner } from '../services/sign-in';
import type { AppContext } from './context';
import { forbidden } from './errors';
import type { PageCache } from './page-cache';

declare global {
  namespace Express {
    // passport's req.user is the signed-in actor; sessionToken only travels from sign-in to the session
    interface User extends Actor {
      sessionToken?: string;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    /** Password checked, second factor awaited. */
    pending?: { userId: number; retour: string; at: number; unlock?: boolean; wrongCodes?: number; idToken?: string };
    /** On the way to the identity provider: what its answer must match (state, nonce, PKCE), one use. */
    oidc?: import('../security/oidc').OidcPending;
    /** Signed in through the identity provider: its ID token, to sign out of the provider too. */
    oidcIdToken?: string;
    /** Signed in, but must first enrol a second factor (required for the role) or change an expired password. */
    mustEnrol?: boolean;
    mustChangePassword?: boolean;
    /** Last request of the signed-in user (ms), for the idle timeout. */
    seenAt?: number;
    /** The TOTP secret being enrolled, until the first code confirms it. */
    totpSetup?: string;
  }
}

/**
 * Passport keeps in the session the user's id and the token of their latest sign-in. A session whose
 * token is no longer the user's (they signed in elsewhere, an admin reset them, they were removed)
 * is not a session any more: one active session per user.
 */
export function configurePassport(ctx: AppContext, cache: PageCache): passport.PassportStatic {
  const instance = new passport.Passport() as unknown as passport.PassportStatic;
  instance.serializeUser((user, done) => done(null, { id: user.id, t: user.sessionToken ?? null }));
  instance.deserializeUser((req: Request, stored: unknown, done: (err: unknown, user?: Express.User | false) => void) => {
    (async () => {
      if (typeof stored !== 'object' || stored === null) return false;
      const { id, t } = stored as { id: number; t: string | null };
      // the same until the data changes (a sign-in elsewhere, a role or an account changed moves the revision)
      const owner = await cache.memo(req.res!, `owner ${id} ${t}`, () => sessionOwner(ctx.db, id, t));
      // each request its own copy: nothing a route does to req.user reaches the next request
      return owner ? { ...owner } : false;
    })().then((user) => done(null, user), done);
  });
  return instance;
}

export function requireSignIn(req: Request, res: Response, next: NextFunction): void {
  if (req.user) return next();
  res.redirect(`/connexion?retour=${encodeURIComponent(req.originalUrl)}`);
}

/** How precisely the last request is recorded for the idle timeout: an idle session ends within a minute of its delay. */
const SEEN_PRECISION_MS = 60_000;

/** Ends the session after the idle delay the admin sets (30 minutes by default), counted on the app's clock. */
export function idleTimeout(ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.user) return next();
    (async () => {
      const now = ctx.now();
      const seenAt = req.session.seenAt;
      // seen less than a minute ago: the shortest idle delay (5 minutes) cannot be over, and the session is not
      // written again for so little (a page asked twice a second would otherwise write the session twice a second)
      if (seenAt !== undefined && now.getTime() - seenAt >= 0 && now.getTime() - seenAt < SEEN_PRECISION_MS) return next();
      if (await idleSessionEnded(ctx.db, actor(req), seenAt, now)) {
        await new Promise<void>((resolve, reject) => req.logout((e) => (e ? reject(e) : resolve())));
        const back = req.method === 'GET' ? `&retour=${encodeURIComponent(req.originalUrl)}` : '';
        return res.redirect(`/connexion?expiree=1${back}`);
      }
      req.session.seenAt = now.getTime();
      next();
    })().catch(next);
  };
}

/** Until the second factor required for the role is enrolled (or an expired password changed), only that page is open. */
export function requireAccountReady(req: Request, res: Response, next: NextFunction): void {
  if (req.session.mustEnrol && !req.path.startsWith('/compte/double-authentification')) return res.redirect('/compte/double-authentification');
  if (!req.session.mustEnrol && req.session.mustChangePassword && req.path !== '/compte/mot-de-passe') return res.redirect('/compte/mot-de-passe');
  next();
}

export function requirePermission(permission: Permission) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.user) return next(forbidden());
    if (!can(req.user, permission)) return next(forbidden());
    next();
  };
}

/** The signed-in actor; routes behind requireSignIn may rely on it. */
export function actor(req: Request): Actor {
  if (!req.user) throw forbidden();
  const { sessionToken: _t, ...user } = req.user;
  return user;
}
