import type { NextFunction, Request, Response } from 'express';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { findCredentials, findUser } from '../data/users';
import { type Actor, type Permission, can } from '../domain/roles';
import { verifyPassword, hashPassword } from '../security/passwords';
import type { AppContext } from './context';
import { forbidden } from './errors';

declare global {
  namespace Express {
    // passport's req.user is the signed-in actor
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends Actor {}
  }
}

// Compared against when the e-mail is unknown, so the answer takes as long either way.
const decoyHash = hashPassword('mot-de-passe-leurre-jamais-valide');

export function configurePassport(ctx: AppContext): passport.PassportStatic {
  const instance = new passport.Passport() as unknown as passport.PassportStatic;
  instance.use(
    new LocalStrategy({ usernameField: 'email', passwordField: 'password' }, (email, password, done) => {
      (async () => {
        const user = await findCredentials(ctx.db, email);
        const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash), password);
        if (!user || !ok || !user.active) return done(null, false);
        const { passwordHash: _ignored, ...actor } = user;
        return done(null, actor);
      })().catch(done);
    }),
  );
  instance.serializeUser((user, done) => done(null, user.id));
  instance.deserializeUser((id: number, done) => {
    findUser(ctx.db, id)
      .then((user) => done(null, user && user.active ? user : false))
      .catch(done);
  });
  return instance;
}

export function requireSignIn(req: Request, res: Response, next: NextFunction): void {
  if (req.user) return next();
  res.redirect(`/connexion?retour=${encodeURIComponent(req.originalUrl)}`);
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
  return req.user;
}
