import type { NextFunction, Request, Response } from 'express';
import passport from 'passport';
import { type Actor, type Permission, can } from '../domain/roles';
import { idleSessionEnded, sessionOwner } from '../services/sign-in';
import type { AppContext } from './context';
import { forbidden } from './errors';

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
    pending?: { userId: number; retour: string; at: number; unlock?: boolean; wrongCodes?: number };
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
export function configurePassport(ctx: AppContext): passport.PassportStatic {
  const instance = new passport.Passport() as unknown as passport.PassportStatic;
  instance.serializeUser((user, done) => done(null, { id: user.id, t: user.sessionToken ?? null }));
  instance.deserializeUser((stored: unknown, done) => {
    (async () => {
      if (typeof stored !== 'object' || stored === null) return false;
      const { id, t } = stored as { id: number; t: string | null };
      return (await sessionOwner(ctx.db, id, t)) ?? false;
    })().then((user) => done(null, user), done);
  });
  return instance;
}

export function requireSignIn(req: Request, res: Response, next: NextFunction): void {
  if (req.user) return next();
  res.redirect(`/connexion?retour=${encodeURIComponent(req.originalUrl)}`);
}

/** Ends the session after the idle delay the admin sets (30 minutes by default), counted on the app's clock. */
export function idleTimeout(ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.user) return next();
    (async () => {
      const now = ctx.now();
      if (await idleSessionEnded(ctx.db, actor(req), req.session.seenAt, now)) {
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
