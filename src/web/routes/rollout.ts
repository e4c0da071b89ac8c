import { Router } from 'express';
import type { FicheDetail } from '../../data/fiches';
import type { AppContext } from '../context';
import type { Scope } from '../scope';

/** A fiche's rollout instance by instance: the grid, its bulk change with a preview. */
export function rolloutRouter(_ctx: AppContext): Router {
  return Router();
}

/** What the fiche's page shows of its rollout. */
export async function rolloutOfPage(_ctx: AppContext, _fiche: FicheDetail, _scope: Scope): Promise<{ rollout: null }> {
  return { rollout: null };
}
