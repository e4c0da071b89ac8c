import { format } from 'date-fns/format';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { type FicheDetail, getFiche } from '../data/fiches';
import { getHomologation, type Homologation, homologationState, memberRole, reminderMonths, touchesCommune } from '../data/homologations';
import { accessIn, type HomologationState, isReadOnly } from '../domain/homologation';
import { communeRestriction } from '../domain/roles';
import { actor } from './auth';
import type { AppContext } from './context';
import { forbidden, HttpError, idParam, notFound } from './errors';

/** The homologation a request under /homologations/:hid works in, and what the signed-in user may do there. */
export interface Scope {
  hom: Homologation;
  state: HomologationState;
  /** Archived or expired: read, never changed (renewing stays possible). */
  readOnly: boolean;
  /** May change its fiches and meetings (false when read-only). */
  canEdit: boolean;
  /** Would edit it by role, read-only or not. */
  editor: boolean;
  /** The commune a commune agent is restricted to, else null. */
  restriction: number | null;
  /** "/homologations/12": the prefix of every link within it. */
  base: string;
  today: string;
  reminderMonths: number[];
}

export const READ_ONLY_MESSAGE = "Cette homologation est archivée ou expirée : elle reste consultable mais ne peut plus être modifiée. Pour la poursuivre, préparez son renouvellement.";

/** The scope resolved by `resolveScope` for this request. */
export function scopeOf(res: Response): Scope {
  const scope = res.locals.scope as Scope | undefined;
  if (!scope) throw new Error('Route hors du périmètre d\u2019une homologation');
  return scope;
}

/**
 * Resolves the homologation named in the URL once, and checks the user's access to it: 404 if it does not exist,
 * 403 for a commune agent when it covers none of the commune's instances. Every write below it is refused on an
 * archived or expired homologation, except the paths in `writableWhenReadOnly` (preparing the renewal).
 * Objects read by id below it must be checked to belong to it (`belongs`).
 */
export function resolveScope(ctx: AppContext, writableWhenReadOnly: readonly string[] = []) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const id = idParam(req.params.hid, 'Cette homologation');
      const user = actor(req);
      const hom = await getHomologation(ctx.db, id);
      if (!hom) throw notFound('Cette homologation');
      const restriction = communeRestriction(user);
      if (restriction !== null && !(await touchesCommune(ctx.db, id, restriction))) throw forbidden();
      const access = accessIn(user, restriction === null && user.role !== 'admin' ? await memberRole(ctx.db, id, user.id) : null);
      const months = await reminderMonths(ctx.db);
      const today = format(ctx.now(), 'yyyy-MM-dd');
      const state = homologationState(hom, today, months);
      const readOnly = isReadOnly(state);
      const scope: Scope = { hom, state, readOnly, canEdit: access.edit && !readOnly, editor: access.edit, restriction, base: `/homologations/${id}`, today, reminderMonths: months };
      res.locals.scope = scope;
      res.locals.base = scope.base;
      res.locals.hom = hom;
      if (req.method !== 'GET' && req.method !== 'HEAD' && readOnly && access.edit && !writableWhenReadOnly.includes(req.path)) {
        throw new HttpError(409, READ_ONLY_MESSAGE);
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Within the scope, a user who may not edit gets 403 (and on a read-only homologation, 409 from resolveScope). */
export function requireEdit(_req: Request, res: Response, next: NextFunction): void {
  const scope = scopeOf(res);
  if (scope.canEdit) return next();
  next(scope.editor ? new HttpError(409, READ_ONLY_MESSAGE) : forbidden());
}

/** An object read by id under the scope: another homologation's is a 404, never its content. */
export function belongs<T extends { planId: number }>(res: Response, object: T | undefined, what: string): T {
  if (!object || object.planId !== scopeOf(res).hom.id) throw notFound(what);
  return object;
}

/**
 * Within the scope, a write that a commune's staff may make for their own commune (the rollout on their instances,
 * the steps that fall to them, their notes and answers) as well as the project team. The route itself restricts a
 * commune's write to its own instances; a reader of the Métropole (committee) gets 403.
 */
export function requireAnswer(_req: Request, res: Response, next: NextFunction): void {
  const scope = scopeOf(res);
  if (scope.canEdit) return next();
  if (scope.restriction !== null) return next(scope.readOnly ? new HttpError(409, READ_ONLY_MESSAGE) : undefined);
  next(scope.editor ? new HttpError(409, READ_ONLY_MESSAGE) : forbidden());
}

/** Within the scope, a commune's staff only (their answer for their commune); anyone else gets 403. */
export function requireCommune(_req: Request, res: Response, next: NextFunction): void {
  const scope = scopeOf(res);
  if (scope.restriction === null) return next(forbidden());
  next(scope.readOnly ? new HttpError(409, READ_ONLY_MESSAGE) : undefined);
}

/**
 * The fiche named by `:id` as the signed-in user may see it: 404 if it does not exist or belongs to another
 * homologation, 403 if it is another commune's (a commune's staff get its scope cut to their own instances).
 */
export async function visibleFiche(db: Knex, req: Request, res: Response): Promise<FicheDetail> {
  const id = idParam(req.params.id, 'Cette fiche');
  const { restriction } = scopeOf(res);
  const fiche = await getFiche(db, id, restriction);
  if (fiche) return belongs(res, fiche, 'Cette fiche');
  if (restriction !== null && belongs(res, await getFiche(db, id), 'Cette fiche')) throw forbidden();
  throw notFound('Cette fiche');
}
