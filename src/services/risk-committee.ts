import type { Knex } from 'knex';
import type { Signature } from '../data/meetings';
import { acceptedRisksOf } from '../data/risk-acceptance';
import { committeeRisks } from '../data/risk-committee';
import { getRiskScales } from '../data/risks';
import { type AcceptedRisk, acceptedFor, criticalClassLabels, orPhrase, riskCounts, riskRows } from '../domain/risk-committee';

export type SignatureWithRisks = Signature & { acceptedRisks: AcceptedRisk[] };

/** The decisions with the residual risks each accepted, those a commune's agent may read when restricted. */
export async function withAcceptedRisks(db: Knex, signatures: Signature[], communeId: number | null): Promise<SignatureWithRisks[]> {
  const accepted = await acceptedRisksOf(db, signatures.map((s) => s.id));
  return signatures.map((s) => ({ ...s, acceptedRisks: acceptedFor(accepted.get(s.id) ?? [], communeId) }));
}

/**
 * The dashboard's risk block, over the risks the reader may see (a commune's agent: those touching its instances;
 * the dashboard's filters do not apply to risks): how many in each class, initially and once treated, and the
 * critical risks still waiting on a late fiche.
 */
export async function dashboardRisks(db: Knex, planId: number, communeId: number | null, today: string) {
  const [scales, risks] = await Promise.all([getRiskScales(db), committeeRisks(db, planId, communeId)]);
  const rows = riskRows(scales, risks, today);
  return { total: risks.length, counts: riskCounts(scales, risks), critical: orPhrase(criticalClassLabels(scales)), waiting: rows.filter((r) => r.waiting) };
}
