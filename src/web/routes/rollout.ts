import { type Request, type Response, Router } from 'express';
import type { FicheDetail } from '../../data/fiches';
import { environmentList } from '../../data/referentials';
import { applyRollout, rolloutCells, rolloutHistory, rolloutSummaries } from '../../data/rollout';
import {
  changeText, countRollout, filterCells, planRollout, type RolloutCell, type RolloutChange, type RolloutPlan, rolloutPhrase, rolloutShort,
} from '../../domain/rollout';
import { STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { frenchCollator, plural } from '../../domain/words';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { HttpError, notFound } from '../errors';
import type { FieldErrors } from '../forms/fields';
import { NO_SELECTION, readChange, readFilters, readSelection, type RolloutFormValues } from '../forms/rollout';
import { notify } from '../notice';
import { requireAnswer, type Scope, scopeOf, visibleFiche as visibleFicheOf } from '../scope';

const NOT_FOLLOWED = "Cette fiche n'est pas suivie instance par instance : l'équipe projet peut l'activer en modifiant la fiche (case « Suivre le déploiement instance par instance »).";
const NO_DATES_FOR_COMMUNES = "Les dates prévues du déploiement sont fixées par l'équipe projet : une commune met à jour l'état de ses instances et peut y ajouter une note.";
const OTHER_COMMUNE = "Vous ne pouvez mettre à jour que les instances de votre commune : la sélection contient l'instance d'une autre commune. Rien n'a été enregistré.";
const OUTSIDE = "La sélection contient une instance qui n'est pas dans le périmètre de cette fiche (une autre homologation, une autre fiche, ou une instance retirée du périmètre). Rien n'a été enregistré.";
const CONFLICT = "Une partie des instances sélectionnées a été modifiée par quelqu'un d'autre depuis l'affichage de la page. Rien n'a été enregistré : vérifiez leur état actuel ci-dessous, puis prévisualisez à nouveau.";

/** The query string of the grid's filters, to come back to the same view. */
const filterQuery = (raw: Record<string, string>) => {
  const q = new URLSearchParams(Object.entries(raw).filter(([, v]) => v !== ''));
  return q.size ? `?${q.toString()}` : '';
};

/** A fiche's rollout instance by instance: the grid, its bulk change with a preview. */
export function rolloutRouter(ctx: AppContext): Router {
  const router = Router();

  const visibleFiche = (req: Request, res: Response) => visibleFicheOf(ctx.db, req, res);

  async function renderGrid(req: Request, res: Response, fiche: FicheDetail, status: number, opts: {
    values?: RolloutFormValues; errors?: FieldErrors; alert?: string; filters?: ReturnType<typeof readFilters>;
  } = {}) {
    const scope = scopeOf(res);
    const filters = opts.filters ?? readFilters(req.query as Record<string, unknown>);
    const [cells, environments] = await Promise.all([rolloutCells(ctx.db, fiche, scope.restriction), environmentList(ctx.db)]);
    const shown = filterCells(cells, filters);
    const counts = countRollout(cells, environments);
    const distinct = <K, V>(pairs: [K, V][]) => [...new Map(pairs).entries()];
    const history = scope.restriction === null ? await rolloutHistory(ctx.db, fiche.id, 20) : [];
    res.status(status).render('rollout/grid', {
      title: `Déploiement de la fiche n°${fiche.number}`,
      fiche,
      cells: shown,
      total: cells.length,
      counts,
      phrase: rolloutPhrase(counts),
      filters: filters.raw,
      filterQuery: filterQuery(filters.raw),
      options: {
        services: distinct(cells.map((c) => [String(c.serviceId), c.serviceName])).map(([value, label]) => ({ value, label })),
        environments: counts.byEnvironment.map((e) => ({ value: e.code, label: e.label })),
        communes: distinct(cells.filter((c) => c.communeId !== null).map((c) => [String(c.communeId), c.communeName ?? ''])).map(([value, label]) => ({ value, label }))
          .sort((a, b) => frenchCollator.compare(a.label, b.label)),
        states: [{ value: 'pas_fait', label: 'Pas encore fait' }, ...STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] }))],
      },
      // the project team and a commune's staff (for its own instances) change the rollout; the committee reads it
      canChange: fiche.rollout && (scope.canEdit || (scope.restriction !== null && !scope.readOnly)),
      communeStaff: scope.restriction !== null,
      values: opts.values ?? { status: '', dueOn: '', note: '', instanceIds: [] },
      errors: opts.errors ?? {},
      alert: opts.alert ?? null,
      history,
    });
  }

  async function renderPreview(res: Response, fiche: FicheDetail, status: number, plan: RolloutPlan, change: RolloutChange, values: RolloutFormValues, raw: Record<string, string>, alert: string | null) {
    res.status(status).render('rollout/preview', {
      title: `Aperçu du changement par lot — fiche n°${fiche.number}`,
      fiche, plan, change, values, filters: raw, filterQuery: filterQuery(raw), alert,
      changeText, STATUS_LABELS,
      summary: plan.changes.length
        ? `${plural(plan.changes.length, 'instance passera', 'instances passeront')} à « ${STATUS_LABELS[change.status]} »`
        : 'Aucune instance ne change',
    });
  }

  /** The change and the selection posted, checked: errors are shown on the grid (422), refusals by status. */
  async function readRequest(req: Request, res: Response, fiche: FicheDetail) {
    const scope = scopeOf(res);
    const body = req.body as Record<string, unknown>;
    const filters = readFilters(body);
    if (!fiche.rollout) throw new HttpError(409, NOT_FOLLOWED);
    const { values, change, errors } = readChange(body);
    // a commune's staff never plan a date: refused, not ignored
    if (scope.restriction !== null && values.dueOn.trim() !== '') {
      await renderGrid(req, res, fiche, 403, { values, errors: { dueOn: NO_DATES_FOR_COMMUNES }, alert: NO_DATES_FOR_COMMUNES, filters });
      return undefined;
    }
    const selection = readSelection(body, body.selection === 'affichees');
    if (!selection.length) errors.instanceIds = NO_SELECTION;
    if (!change || Object.keys(errors).length) {
      await renderGrid(req, res, fiche, 422, { values, errors, filters });
      return undefined;
    }
    // every instance of the scope, whoever asks: an instance of another commune is refused as such, not as unknown
    const cells = await rolloutCells(ctx.db, fiche, null);
    const plan = planRollout(cells, selection, change);
    if (plan.outside.length) {
      await renderGrid(req, res, fiche, 422, { values, errors: { instanceIds: OUTSIDE }, alert: OUTSIDE, filters });
      return undefined;
    }
    if (scope.restriction !== null && otherCommune(plan, scope.restriction).length) {
      await renderGrid(req, res, fiche, 403, { values, errors: { instanceIds: OTHER_COMMUNE }, alert: OTHER_COMMUNE, filters });
      return undefined;
    }
    return { values, change, selection, plan, filters };
  }

  router.get('/fiches/:id/deploiement', async (req, res) => {
    const fiche = await visibleFiche(req, res);
    await renderGrid(req, res, fiche, 200);
  });

  router.post('/fiches/:id/deploiement/apercu', requireAnswer, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    const request = await readRequest(req, res, fiche);
    if (!request) return;
    const { plan, change, values, filters } = request;
    await renderPreview(res, fiche, plan.conflicts.length ? 409 : 200, plan, change, values, filters.raw, plan.conflicts.length ? CONFLICT : null);
  });

  router.post('/fiches/:id/deploiement', requireAnswer, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    const request = await readRequest(req, res, fiche);
    if (!request) return;
    const { change, selection, values, filters } = request;
    const result = await applyRollout(ctx.db, { id: fiche.id, planId: fiche.planId, number: fiche.number, scopeAll: fiche.scopeAll }, selection, change, actor(req), ctx.now());
    const base = `${scopeOf(res).base}/fiches/${fiche.id}/deploiement`;
    if (result.ok) {
      notify(req, result.count === 0
        ? 'Aucune instance ne changeait : rien n\u2019a été modifié.'
        : `${plural(result.count, 'instance mise', 'instances mises')} à jour (« ${STATUS_LABELS[change.status]} »)${result.bulkId ? `, opération par lot n°${result.bulkId}` : ''}.`);
      return res.redirect(303, `${base}${filterQuery(filters.raw)}`);
    }
    if (result.reason === 'not_found' || result.reason === 'not_followed') throw result.reason === 'not_found' ? notFound('Cette fiche') : new HttpError(409, NOT_FOLLOWED);
    if (result.reason === 'outside') return renderGrid(req, res, fiche, 422, { values, errors: { instanceIds: OUTSIDE }, alert: OUTSIDE, filters });
    if (result.reason === 'other_commune') return renderGrid(req, res, fiche, 403, { values, errors: { instanceIds: OTHER_COMMUNE }, alert: OTHER_COMMUNE, filters });
    return renderPreview(res, fiche, 409, result.plan, change, values, filters.raw, CONFLICT);
  });

  return router;
}

/** The selected instances that are not the commune's own. */
function otherCommune(plan: RolloutPlan, communeId: number): number[] {
  return [...plan.changes.map((c) => c.cell), ...plan.unchanged, ...plan.conflicts.map((c) => c.cell)].filter((c: RolloutCell) => c.communeId !== communeId).map((c) => c.instanceId);
}

/** What the fiche's page shows of its rollout: the sentence, the counts per status and, for the Métropole, per commune. */
export async function rolloutOfPage(ctx: AppContext, fiche: FicheDetail, scope: Scope) {
  if (!fiche.rollout) return { rollout: null };
  const environments = await environmentList(ctx.db);
  const summary = (await rolloutSummaries(ctx.db, [fiche.id], environments, scope.restriction)).get(fiche.id);
  if (!summary) return { rollout: null };
  const communeNames = new Map(fiche.scope.filter((s) => s.communeId !== null).map((s) => [s.communeId!, s.communeName ?? '']));
  return {
    rollout: {
      phrase: rolloutPhrase(summary),
      counts: summary,
      link: `${scope.base}/fiches/${fiche.id}/deploiement`,
      own: scope.restriction !== null ? rolloutShort(summary) : null,
      communes: scope.restriction !== null ? [] : [...summary.byCommune].map(([id, c]) => ({ name: communeNames.get(id) ?? '', ...c }))
        .sort((a, b) => frenchCollator.compare(a.name, b.name)),
    },
  };
}
