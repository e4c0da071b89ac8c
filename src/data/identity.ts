import type { Knex } from 'knex';
import type { Identity, Nature } from '../domain/identity';
import type { AuditActor } from './audit';
import { auditedWrite } from './write';

const ROW = 1;

export async function readIdentity(db: Knex): Promise<Identity> {
  const r = await db('organisation_identity').where({ id: ROW })
    .select('nature', 'name', 'accent', 'logo_alt', 'legal_publisher', 'legal_host', 'version', db.raw('case when logo is null then 0 else 1 end as has_logo'))
    .first();
  if (!r) return { nature: null, name: '', accent: null, hasLogo: false, logoAlt: '', publisher: '', host: '', version: 0 };
  return {
    nature: r.nature === 'etat' || r.nature === 'autre' ? r.nature : null,
    name: String(r.name ?? ''),
    accent: r.accent ? String(r.accent) : null,
    hasLogo: Number(r.has_logo) === 1,
    logoAlt: String(r.logo_alt ?? ''),
    publisher: String(r.legal_publisher ?? ''),
    host: String(r.legal_host ?? ''),
    version: Number(r.version),
  };
}

export async function readLogo(db: Knex): Promise<{ data: Buffer; type: string } | undefined> {
  const r = await db('organisation_identity').where({ id: ROW }).whereNotNull('logo').select('logo', 'logo_type').first();
  return r ? { data: Buffer.from(r.logo), type: String(r.logo_type) } : undefined;
}

export interface IdentityInput {
  nature: Nature;
  name: string;
  accent: string | null;
  logoAlt: string;
  publisher: string;
  host: string;
  /** keep the logo, remove it, or replace it */
  logo: 'keep' | 'remove' | { data: Buffer; type: string };
}

/**
 * Saves the identity if nobody saved it since `version` was read (a guarded update: two administrators saving at
 * once, one wins and the other is told). The change and its audit row are one transaction.
 */
export async function saveIdentity(db: Knex, input: IdentityInput, version: number, actor: AuditActor, at: Date): Promise<'saved' | 'conflict'> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await trx('organisation_identity').where({ id: ROW }).select('nature', 'name', 'accent', 'logo_alt', 'legal_publisher', 'legal_host').first();
    const changes: Record<string, unknown> = {
      nature: input.nature, name: input.name, accent: input.accent, logo_alt: input.logoAlt,
      legal_publisher: input.publisher, legal_host: input.host,
      version: version + 1, updated_at: at.toISOString(),
    };
    if (input.logo === 'remove') Object.assign(changes, { logo: null, logo_type: null });
    else if (input.logo !== 'keep') Object.assign(changes, { logo: input.logo.data, logo_type: input.logo.type });
    const n = await trx('organisation_identity').where({ id: ROW, version }).update(changes);
    if (n !== 1) return 'conflict' as const;
    const logo = input.logo === 'keep' ? undefined : input.logo === 'remove' ? 'retiré' : `nouveau (${input.logo.type}, ${input.logo.data.length} octets)`;
    await audit({
      action: 'update', entityType: 'identity', entityId: ROW, summary: `Identité de l'organisation : ${input.name}`,
      before, after: { nature: input.nature, name: input.name, accent: input.accent, logo_alt: input.logoAlt, legal_publisher: input.publisher, legal_host: input.host, ...(logo ? { logo } : {}) },
    });
    return 'saved' as const;
  });
}
