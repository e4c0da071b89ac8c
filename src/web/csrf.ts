import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { csrfSync } from 'csrf-sync';

const COOKIE = 'plan.csrf';
/** How long an anonymous form (sign-in, forgotten password, password link) stays valid. */
const ANONYMOUS_LIFETIME_MS = 2 * 60 * 60 * 1000;

export interface CsrfOptions {
  /** The session secret: the anonymous token's cookie is signed with it. */
  secret: string;
  /** Secure cookie (production). */
  secure: boolean;
  now: () => Date;
}

/**
 * A session is only opened once the password is right (signed in, or a second factor awaited): a
 * visitor who only reads the sign-in page leaves no row in `sessions`. The CSRF token of a form lives
 * in the session when there is one (synchroniser token); before that, in a short-lived HttpOnly cookie
 * signed with the session secret, which the form must echo (signed double submit): another site can
 * neither read the token nor plant a cookie of its own making.
 */
export function csrfProtection(options: CsrfOptions): { protect: RequestHandler; tokenFor: (req: Request) => string } {
  const mac = (token: string, expires: number) => createHmac('sha256', options.secret).update(`csrf ${token} ${expires}`).digest('base64url');

  /** The anonymous token of the cookie, if it is genuine and not expired; with its expiry. */
  const fromCookie = (req: Request): { token: string; expires: number } | undefined => {
    const raw = cookieValue(req.headers.cookie, COOKIE);
    const [token, expiresText, signature] = raw?.split('.') ?? [];
    if (!token || !expiresText || !signature || !/^[0-9a-f]{64}$/.test(token) || !/^\d{1,15}$/.test(expiresText)) return undefined;
    const expires = Number(expiresText);
    const expected = Buffer.from(mac(token, expires));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    if (expires <= options.now().getTime()) return undefined;
    return { token, expires };
  };

  const issued = new WeakMap<Request, string>();
  const storeInCookie = (req: Request, token: string) => {
    const expires = options.now().getTime() + ANONYMOUS_LIFETIME_MS;
    req.res!.cookie(COOKIE, `${token}.${expires}.${mac(token, expires)}`, {
      httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: ANONYMOUS_LIFETIME_MS, path: '/',
    });
    issued.set(req, token);
  };

  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
    getTokenFromState: (req) => (hasSession(req) ? req.session.csrfToken : (issued.get(req) ?? fromCookie(req)?.token)),
    storeTokenInState: (req, token) => {
      if (hasSession(req)) req.session.csrfToken = token;
      else if (token) storeInCookie(req, token);
    },
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'Jeton CSRF invalide' },
  });

  const tokenFor = (req: Request): string => {
    if (hasSession(req)) return generateToken(req);
    const already = issued.get(req);
    if (already) return already;
    // The cookie's token is kept while it has more than half its life left, so a page opened now stays usable.
    const current = fromCookie(req);
    const token = current && current.expires - options.now().getTime() > ANONYMOUS_LIFETIME_MS / 2 ? current.token : randomBytes(32).toString('hex');
    storeInCookie(req, token);
    return token;
  };

  return { protect: csrfSynchronisedProtection, tokenFor };
}

/** A session worth keeping: signed in, or anything else a route put in it (a second factor awaited…), beyond its own CSRF token. */
function hasSession(req: Request): boolean {
  const session = req.session as unknown as Record<string, unknown> | undefined;
  if (!session) return false;
  return Object.keys(session).some((key) => key !== 'cookie' && key !== 'csrfToken' && session[key] !== undefined);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
