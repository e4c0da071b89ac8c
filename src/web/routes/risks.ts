import { type Request, type Response, Router } from 'express';
import { listFiches } from '../../data/fiches';
import { instancesOfPlan, services, teams } from '../../data/referentials';
import {
  createRisk, deleteRisk, getRisk, getRiskScales, listRisks, type RiskDetail, riskPlanId, type RiskSaveResult, type RiskSummary, updateRisk,
} from '../../data/risks';
import { byCriticality, classBadge, criticality, heatMap, type RiskScales, TREATMENT_LABELS, TREATMENTS } from '../../domain/risks';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import { type FieldErrors, str } from '../forms/fields';
import { emptyRiskValues, readRiskForm, type RiskFormValues, riskToValues, validateRisk } from '../forms/risk';
import { notify } from '../notice';
import { evidenceOfPage } from './evidence';
import { requireEdit, scopeOf } from '../scope';
import { listAudit } from '../../data/audit';
import { riskLevelHistory } from '../../domain/risk-history';

const FOREIGN_FICHE = "Une des fiches cochées n'appartient pas à cette homologation : cochez seulement des fiches de la liste.";
const OUTSIDE_PERIMETER = "Une des instances cochées n'est pas (ou plus) dans le périmètre de l'homologation : vérifiez les instances cochées et enregistrez à nouveau.";
const LEVELS_CHANGED = "Les échelles des risques viennent de changer : choisissez à nouveau la vraisemblance et la gravité.";

/** What the views need to name levels and classes. */
function scaleHelpers(scales: RiskScales) {
  const cls = (l: number | null, g: number | null) => (l === null || g === null ? null : criticality(scales, l, g));
  return {
    scales,
    TREATMENT_LABELS,
    likelihoodLabel: (n: number | null) => (n === null ? '—' : scales.likelihood[n - 1] ?? `niveau ${n}`),
    severityLabel: (n: number | null) => (n === null ? '—' : scales.severity[n - 1] ?? `niveau ${n}`),
    classOf: cls,
    classLabel: (l: number | null, g: number | null) => { const c = cls(l, g); return c === null ? '—' : scales.classes[c - 1]!; },
    badgeOf: (l: number | null, g: number | null) => classBadge(cls(l, g), scales.classes.length),
  };
}

/** Reads a filter of the list: a rank within 1..max, else none. */
const rank = (v: unknown, max: number): number | null => {
  const n = Number(str(v));
  return Number.isInteger(n) && n >= 1 && n <= max ? n : null;
};

/** The risk register of a homologation: list with heat maps, risk pages, form. Mounted in the homologation's router. */
export function risksRouter(ctx: AppContext): Router {
  const router = Router();

  /** The risk as the signed-in user may see it: 404 if unknown or another homologation's, 403 if another commune's. */
  async function visibleRisk(req: Request, res: Response): Promise<RiskDetail> {
    const id = idParam(req.params.id, 'Ce risque');
    const { restriction, hom } = scopeOf(res);
    const risk = await getRisk(ctx.db, id, restriction);
    if (risk && risk.planId === hom.id) return risk;
    if (!risk && restriction !== null && (await riskPlanId(ctx.db, id)) === hom.id) throw forbidden();
    throw notFound('Ce risque');
  }

  router.get('/risques', async (req, res) => {
    const { hom, restriction } = scopeOf(res);
    const [scales, all] = await Promise.all([getRiskScales(ctx.db), listRisks(ctx.db, hom.id, restriction)]);
    const residual = str(req.query.niveau) === 'residuel';
    const filter = {
      criticite: rank(req.query.criticite, scales.classes.length),
      vraisemblance: rank(req.query.vraisemblance, scales.likelihood.length),
      gravite: rank(req.query.gravite, scales.severity.length),
      residual,
    };
    const pick = (r: RiskSummary) => (residual ? { l: r.residualLikelihood, g: r.residualSeverity } : { l: r.likelihood, g: r.severity });
    const risks = byCriticality(scales, all).filter((r) => {
      const { l, g } = pick(r);
      if (filter.vraisemblance !== null && l !== filter.vraisemblance) return false;
      if (filter.gravite !== null && g !== filter.gravite) return false;
      if (filter.criticite !== null && (l === null || g === null || criticality(scales, l, g) !== filter.criticite)) return false;
      return true;
    });
    const filtered = filter.criticite !== null || filter.vraisemblance !== null || filter.gravite !== null;
    res.render('risks/list', {
      title: 'Risques', risks, total: all.length, filter, filtered, canEdit: scopeOf(res).canEdit, ...scaleHelpers(scales),
      heat: {
        initial: heatMap(scales, all.map((r) => ({ likelihood: r.likelihood, severity: r.severity }))),
        residual: heatMap(scales, all.map((r) => ({ likelihood: r.residualLikelihood, severity: r.residualSeverity }))),
        residualCount: all.filter((r) => r.residualLikelihood !== null).length,
      },
    });
  });

  async function renderForm(res: Response, status: number, opts: { risk?: RiskDetail; values: RiskFormValues; errors?: FieldErrors; alert?: string }) {
    const { hom } = scopeOf(res);
    const [scales, teamList, serviceList, instanceList, fiches] = await Promise.all([
      getRiskScales(ctx.db), teams.list(ctx.db), services.list(ctx.db), instancesOfPlan(ctx.db, hom.id), listFiches(ctx.db, hom.id, null),
    ]);
    res.status(status).render('risks/form', {
      title: opts.risk ? `Modifier le risque n°${opts.risk.number}` : 'Nouveau risque',
      risk: opts.risk ?? null, values: opts.values, errors: opts.errors ?? {}, alert: opts.alert ?? null,
      teams: teamList, fiches, TREATMENTS,
      instancesByService: serviceList.map((s) => ({ service: s, instances: instanceList.filter((i) => i.serviceId === s.id) })).filter((g) => g.instances.length > 0),
      ...scaleHelpers(scales),
    });
  }

  async function validate(values: RiskFormValues) {
    const [scales, teamList] = await Promise.all([getRiskScales(ctx.db), teams.list(ctx.db)]);
    return validateRisk(values, scales, new Set(teamList.map((t) => t.id)));
  }

  /** The errors a refused save puts next to its field. */
  function refusal(saved: Exclude<RiskSaveResult, { ok: true }>): FieldErrors | null {
    if (saved.reason === 'foreign_fiche') return { ficheIds: FOREIGN_FICHE };
    if (saved.reason === 'outside_perimeter') return { instanceIds: OUTSIDE_PERIMETER };
    if (saved.reason === 'levels') return { likelihood: LEVELS_CHANGED };
    return null;
  }

  router.get('/risques/nouveau', requireEdit, async (_req, res) => {
    await renderForm(res, 200, { values: emptyRiskValues() });
  });

  router.post('/risques', requireEdit, async (req, res) => {
    const values = readRiskForm(req.body);
    const result = await validate(values);
    if (!result.ok) return renderForm(res, 422, { values, errors: result.errors });
    const { hom, base } = scopeOf(res);
    const saved = await createRisk(ctx.db, hom.id, result.input, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, `Le risque n°${saved.number} « ${result.input.title} » est créé.`);
      return res.redirect(303, `${base}/risques/${saved.id}`);
    }
    return renderForm(res, 422, { values, errors: refusal(saved) ?? {} });
  });

  router.get('/risques/:id', async (req, res) => {
    const risk = await visibleRisk(req, res);
    const [scales, audit] = await Promise.all([getRiskScales(ctx.db), listAudit(ctx.db, { entityType: 'risk', entityId: risk.id, limit: 200 })]);
    res.render('risks/show', {
      ...(await evidenceOfPage(ctx, risk.planId, { risk: [risk.id] })),
      title: `Risque n°${risk.number} : ${risk.title}`, risk, canEdit: scopeOf(res).canEdit, ...scaleHelpers(scales),
      history: riskLevelHistory(audit, scales),
    });
  });

  router.get('/risques/:id/modifier', requireEdit, async (req, res) => {
    const risk = await visibleRisk(req, res);
    await renderForm(res, 200, { risk, values: riskToValues(risk) });
  });

  router.post('/risques/:id', requireEdit, async (req, res) => {
    const risk = await visibleRisk(req, res);
    const values = readRiskForm(req.body);
    const result = await validate(values);
    if (!result.ok) return renderForm(res, 422, { risk, values, errors: result.errors });
    const saved = await updateRisk(ctx.db, risk.id, result.version, result.input, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, `Le risque n°${risk.number} « ${result.input.title} » est enregistré.`);
      return res.redirect(303, `${scopeOf(res).base}/risques/${risk.id}`);
    }
    if (saved.reason === 'not_found') throw notFound('Ce risque');
    const errors = refusal(saved);
    if (errors) return renderForm(res, 422, { risk, values, errors });
    return renderForm(res, 409, {
      risk, values,
      alert: "Ce risque a été modifié par quelqu'un d'autre depuis que vous avez ouvert ce formulaire. Vos modifications n'ont pas été enregistrées, " +
        'pour ne pas écraser les siennes : elles restent affichées ci-dessous. Ouvrez le risque dans un autre onglet pour voir sa version actuelle, puis reportez-y vos changements.',
    });
  });

  router.get('/risques/:id/supprimer', requireEdit, async (req, res) => {
    const risk = await visibleRisk(req, res);
    res.render('risks/delete', { title: `Supprimer le risque n°${risk.number}`, risk });
  });

  router.post('/risques/:id/supprimer', requireEdit, async (req, res) => {
    const risk = await visibleRisk(req, res);
    if (!(await deleteRisk(ctx.db, risk.id, actor(req), ctx.now()))) throw new HttpError(404, "Ce risque n'existe plus.");
    notify(req, `Le risque n°${risk.number} « ${risk.title} » est supprimé.`);
    res.redirect(303, `${scopeOf(res).base}/risques`);
  });

  return router;
}
