import type { Knex } from 'knex';
import { type AcceptedRisk, acceptanceOf, type RiskToAccept } from '../domain/risk-committee';
import type { Treatment } from '../domain/risks';
import { reads } from './reads';
import { getRiskScales } from './risks';

const ids = (v: unknown): number[] => {
  try {
    const parsed: unknown = JSON.parse(String(v ?? '[]'));
    return Array.isArray(parsed) ? parsed.map(Number).filter(Number.isInteger) : [];
  } catch {
    return [];
  }
};

/**
 * Takes the risk settings' row for the rest of the transaction: the scales, the matrix and every risk (each risk
 * save takes the same row first) hold still until it ends. Taken before the homologation's row, in the order a risk
 * save takes them, so the two never wait on each other crosswise.
 */
export async function lockRiskSettings(trx: Knex.Transaction): Promise<void> {
  await trx('risk_settings').where({ id: 1 }).update({ id: trx.raw('??', ['id']) });
}

/** The homologation's risks as the decision reads them, with the communes of the instances each one touches. */
async function risksToAccept(trx: Knex, planId: number): Promise<RiskToAccept[]> {
  const [rows, communes] = await reads(trx,
    () => trx('risks').where('plan_id', planId).orderBy('number')
      .select('id', 'number', 'title', 'likelihood', 'severity', 'residual_likelihood', 'residual_severity', 'treatment'),
    () => trx('risk_instances').join('risks', 'risks.id', 'risk_instances.risk_id').join('instances', 'instances.id', 'risk_instances.instance_id')
      .where('risks.plan_id', planId).whereNotNull('instances.commune_id').distinct('risk_instances.risk_id', 'instances.commune_id'),
  );
  const by = new Map<number, number[]>();
  for (const c of communes as { risk_id: number; commune_id: number }[]) by.set(Number(c.risk_id), [...(by.get(Number(c.risk_id)) ?? []), Number(c.commune_id)]);
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id), number: Number(r.number), title: String(r.title), likelihood: Number(r.likelihood), severity: Number(r.severity),
    residualLikelihood: n(r.residual_likelihood), residualSeverity: n(r.residual_severity), treatment: r.treatment as Treatment,
    communeIds: by.get(Number(r.id)) ?? [],
  }));
}

/**
 * Writes, in the decision's transaction, the residual risks it accepts as they read now (see acceptanceOf), and
 * returns them for the decision's audit row. The caller took the risk settings' row first (lockRiskSettings).
 */
export async function freezeAcceptedRisks(
  trx: Knex.Transaction, signatureId: number, planId: number, acceptedBy: string, acceptedUntil: string | null,
): Promise<AcceptedRisk[]> {
  const scales = await getRiskScales(trx);
  const risks = await risksToAccept(trx, planId);
  const accepted = acceptanceOf(scales, risks, acceptedBy, acceptedUntil);
  if (accepted.length) {
    await trx('signature_risks').insert(accepted.map((a, i) => ({
      signature_id: signatureId, risk_id: a.riskId, position: i + 1, number: a.number, title: a.title,
      likelihood_label: a.likelihood, severity_label: a.severity, criticality_label: a.criticality,
      residual_likelihood_label: a.residual?.likelihood ?? null, residual_severity_label: a.residual?.severity ?? null,
      residual_criticality_label: a.residual?.criticality ?? null, treatment_label: a.treatment,
      accepted_by: a.acceptedBy, accepted_until: a.acceptedUntil, commune_ids: JSON.stringify(a.communeIds),
    })));
  }
  return accepted;
}

/** The risks each of these decisions accepted, as recorded then, in their order. */
export async function acceptedRisksOf(db: Knex, signatureIds: number[]): Promise<Map<number, AcceptedRisk[]>> {
  const out = new Map<number, AcceptedRisk[]>();
  if (!signatureIds.length) return out;
  const rows = await db('signature_risks').whereIn('signature_id', signatureIds).orderBy(['signature_id', 'position']);
  for (const r of rows as Record<string, unknown>[]) {
    const list = out.get(Number(r.signature_id)) ?? [];
    list.push({
      riskId: r.risk_id === null || r.risk_id === undefined ? null : Number(r.risk_id), number: Number(r.number), title: String(r.title),
      likelihood: String(r.likelihood_label), severity: String(r.severity_label), criticality: String(r.criticality_label),
      residual: r.residual_criticality_label === null || r.residual_criticality_label === undefined ? null : {
        likelihood: String(r.residual_likelihood_label), severity: String(r.residual_severity_label), criticality: String(r.residual_criticality_label),
      },
      treatment: String(r.treatment_label), acceptedBy: String(r.accepted_by),
      acceptedUntil: r.accepted_until === null || r.accepted_until === undefined ? null : String(r.accepted_until),
      communeIds: ids(r.commune_ids),
    });
    out.set(Number(r.signature_id), list);
  }
  return out;
}
