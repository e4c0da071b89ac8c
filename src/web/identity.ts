import type { PageCache } from './page-cache';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { readIdentity } from '../data/identity';
import { DEFAULT_ACCENT, type Identity, NEUTRAL_DEFAULT, SERVICE_NAME, wearsDsfr } from '../domain/identity';

/** What the views get as `identity`: which rendering to wear, and the organisation's name, logo and theme. */
export interface IdentityLocals {
  /** The State's design system (DSFR): State services only. Otherwise the neutral rendering. */
  dsfr: boolean;
  /** The organisation's name; empty until set (the pages then show the service's name alone). */
  name: string;
  serviceName: string;
  logoUrl: string | null;
  logoAlt: string;
  /** The neutral rendering's accent colour, as a stylesheet (the CSP forbids inline styles). */
  themeUrl: string;
  accent: string;
  /** The legal notice's director of publication and host (LCEN); empty until the administrator gives them. */
  publisher: string;
  host: string;
}

export function identityLocals(identity: Identity): IdentityLocals {
  return {
    dsfr: wearsDsfr(identity),
    name: identity.name,
    serviceName: SERVICE_NAME,
    logoUrl: identity.hasLogo ? `/identite/logo?v=${identity.version}` : null,
    logoAlt: identity.logoAlt,
    themeUrl: `/identite/theme.css?v=${identity.version}-${(identity.accent ?? DEFAULT_ACCENT).slice(1)}`,
    accent: identity.accent ?? DEFAULT_ACCENT,
    publisher: identity.publisher,
    host: identity.host,
  };
}

/** The identity of a page that could not read it (the database out of reach): the neutral one, allowed to anyone. */
export const FALLBACK_IDENTITY = identityLocals(NEUTRAL_DEFAULT);

/**
 * Reads the identity once per request (one row by its key) into `res.locals.identity`. Read per request, not cached:
 * several app processes share the database, and an administrator's change shows on the next page everywhere.
 * The database out of reach: the neutral identity, and the request goes on to meet the failure where it matters.
 */
export function loadIdentity(db: Knex, cache: PageCache) {
  return async (_req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      res.locals.identity = await cache.memo(res, 'identity', async () => identityLocals(await readIdentity(db)));
    } catch {
      res.locals.identity = FALLBACK_IDENTITY;
    }
    next();
  };
}

/** The State design system's files are served to a State deployment only: elsewhere they do not exist (404). */
export function dsfrOnly(req: Request, res: Response, next: NextFunction): void {
  if ((res.locals.identity as IdentityLocals | undefined)?.dsfr) return next();
  res.status(404).type('text/plain').send('Introuvable.');
}
