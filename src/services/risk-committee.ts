import type { Knex } from 'knex';
import type { Signature } from '../data/meetings';
import { acceptedRisksOf } from '../data/risk-acceptance';
import { type AcceptedRisk, acceptedFor } from '../domain/risk-committee';

export type SignatureWithRisks = Signature & { acceptedRisks: AcceptedRisk[] };

/** The decisions with the residual risks each accepted, those a commune's agent may read when restricted. */
export async function withAcceptedRisks(db: Knex, signatures: Signature[], communeId: number | null): Promise<SignatureWithRisks[]> {
  const accepted = await acceptedRisksOf(db, signatures.map((s) => s.id));
  return signatures.map((s) => ({ ...s, acceptedRisks: acceptedFor(accepted.get(s.id) ?? [], communeId) }));
}
