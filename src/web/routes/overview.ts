import { Router } from 'express';
import { organisationOverview } from '../../domain/dashboard';
import type { HomologationState } from '../../domain/homologation';
import { communeRestriction } from '../../domain/roles';
import { actor } from '../auth';
import { timeline } from '../charts';
import type { AppContext } from '../context';
import { homologationRows } from '../../services/homologations';

/** The colour of each state's mark on the validity timeline (SVG fill attributes: no style, so the CSP holds). */
const MARK_FILL: Partial<Record<HomologationState, string>> = { expiree: '#ce0500', expire_bientot: '#b34000', en_vigueur: '#18753c' };

/** The timeline draws at most this many end dates (the table under it lists them all). */
const CHART_ROWS = 60;

/**
 * The organisation dashboard ("Vue d'ensemble"): every homologation the user may see, summed up: counts per state,
 * the end dates of the decisions in force on one axis, those ending within six months, and each one's readiness and
 * late fiches. The statements of the home page, whatever the number of homologations.
 */
export function overviewRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/tableau-de-bord', async (req, res) => {
    const user = actor(req);
    const { rows, today } = await homologationRows(ctx.db, user, ctx.now());
    const overview = organisationOverview(rows, today);
    const drawn = overview.ending.slice(0, CHART_ROWS);
    const chart = drawn.length
      ? timeline(drawn.map((r) => ({
        label: r.title, kind: 'fiche' as const, date: r.decision!.endsOn!, late: r.state === 'expiree', done: false, href: `/homologations/${r.id}`,
      })), today)
      : null;
    res.render('overview/index', {
      title: "Vue d'ensemble des homologations",
      restricted: communeRestriction(user) !== null,
      ...overview, today,
      chart: chart && { ...chart, rows: chart.rows.map((c, i) => ({ ...c, fill: MARK_FILL[drawn[i]!.state] ?? '#3a3a3a', state: drawn[i]!.stateLabel })), clipped: overview.ending.length > drawn.length },
    });
  });

  return router;
}
