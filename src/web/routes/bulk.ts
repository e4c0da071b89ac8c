import { Router } from 'express';
import type { AppContext } from '../context';

/** Bulk ("par lot") changes of fiches and steps, and the review of a homologation's bulk operations. */
export function bulkRouter(_ctx: AppContext): Router {
  return Router();
}
