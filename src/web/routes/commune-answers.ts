import { Router } from 'express';
import type { FicheDetail } from '../../data/fiches';
import type { Actor } from '../../domain/roles';
import type { AppContext } from '../context';
import type { Scope } from '../scope';

/** What a commune answers for its own instances: steps that fall to it, notes, acknowledgement of strong side effects. */
export function communeAnswersRouter(_ctx: AppContext): Router {
  return Router();
}

/** What the fiche's page shows of the communes' answers (and, to a commune's staff, the forms to answer). */
export async function communeAnswersOfPage(_ctx: AppContext, _fiche: FicheDetail, _scope: Scope, _actor: Actor): Promise<{ communeAnswers: null }> {
  return { communeAnswers: null };
}
