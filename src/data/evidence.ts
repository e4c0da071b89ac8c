import type { Knex } from 'knex';
import type { OwnerType } from '../domain/evidence';
import type { Actor } from '../domain/roles';
import type { AuditActor } from './audit';
import { auditedWrite, insertedId } from './write';

/** Bytes per stored chunk: a download holds a few of them at a time, never the whole file. */
export const CHUNK_BYTES = 256 * 1024;
/** Chunks read by one query of a download. */
export const CHUNKS_PER_READ = 4;

export interface DocumentVersion {
  id: number;
  documentId: number;
  version: number;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  uploadedBy: string | null;
  uploadedAt: string;
}

export interface EvidenceDocument {
  id: number;
  planId: number;
  ownerType: OwnerType;
  ownerId: number;
  title: string;
  createdBy: string | null;
  createdAt: string;
  removedAt: string | null;
  /** The current (latest) version. */
  current: DocumentVersion;
  versionCount: number;
}

/** A file received and checked, ready to be stored: its bytes come as chunks of at most CHUNK_BYTES. */
export interface ReceivedFile {
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  chunks: () => AsyncIterable<Buffer>;
}

const versionOf = (r: Record<string, unknown>): DocumentVersion => ({
  id: Number(r.id), documentId: Number(r.document_id), version: Number(r.version), fileName: String(r.file_name),
  contentType: String(r.content_type), size: Number(r.size), sha256: String(r.sha256),
  uploadedBy: (r.uploader_name as string | null) ?? null, uploadedAt: String(r.uploaded_at),
});

const versionsQuery = (db: Knex) => db('document_versions').leftJoin('users', 'users.id', 'document_versions.uploaded_by')
  .select('document_versions.*', 'users.name as uploader_name');

/** Documents with their current version and their count of versions: two queries. */
async function withVersions(db: Knex, rows: Record<string, unknown>[]): Promise<EvidenceDocument[]> {
  if (!rows.length) return [];
  const versions = (await versionsQuery(db).whereIn('document_versions.document_id', rows.map((r) => Number(r.id)))
    .orderBy([{ column: 'document_versions.document_id' }, { column: 'document_versions.version' }])).map(versionOf);
  const latest = new Map<number, DocumentVersion>();
  const counts = new Map<number, number>();
  for (const v of versions) {
    latest.set(v.documentId, v);
    counts.set(v.documentId, (counts.get(v.documentId) ?? 0) + 1);
  }
  return rows.filter((r) => latest.has(Number(r.id))).map((r) => ({
    id: Number(r.id), planId: Number(r.plan_id), ownerType: r.owner_type as OwnerType, ownerId: Number(r.owner_id), title: String(r.title),
    createdBy: (r.creator_name as string | null) ?? null, createdAt: String(r.created_at), removedAt: (r.removed_at as string | null) ?? null,
    current: latest.get(Number(r.id))!, versionCount: counts.get(Number(r.id)) ?? 0,
  }));
}

const documentsQuery = (db: Knex) => db('documents').leftJoin('users', 'users.id', 'documents.created_by').select('documents.*', 'users.name as creator_name');

/** One document (removed or not), or undefined. */
export async function getDocument(db: Knex, id: number): Promise<EvidenceDocument | undefined> {
  const [doc] = await withVersions(db, await documentsQuery(db).where('documents.id', id));
  return doc;
}

export async function listVersions(db: Knex, documentId: number): Promise<DocumentVersion[]> {
  return (await versionsQuery(db).where('document_versions.document_id', documentId).orderBy('document_versions.version', 'desc')).map(versionOf);
}

export async function getVersion(db: Knex, documentId: number, versionId: number): Promise<DocumentVersion | undefined> {
  const r = await versionsQuery(db).where({ 'document_versions.id': versionId, 'document_versions.document_id': documentId }).first();
  return r ? versionOf(r) : undefined;
}

/** The documents (not removed) of several objects of a homologation, oldest first: two queries. */
export async function documentsOf(db: Knex, planId: number, owners: Partial<Record<OwnerType, number[]>>): Promise<EvidenceDocument[]> {
  const wanted = Object.entries(owners).filter(([, ids]) => ids && ids.length) as [OwnerType, number[]][];
  if (!wanted.length) return [];
  const rows = await documentsQuery(db).where('documents.plan_id', planId).whereNull('documents.removed_at')
    .where((q) => {
      for (const [type, ids] of wanted) q.orWhere((o) => o.where('documents.owner_type', type).whereIn('documents.owner_id', ids));
    })
    .orderBy([{ column: 'documents.created_at' }, { column: 'documents.id' }]);
  return withVersions(db, rows);
}

/**
 * What a document is attached to: its homologation, and the fiche or risk whose visibility decides who may read it
 * (a step and a note follow their fiche; a decision its homologation). Undefined when the object does not exist.
 */
export async function ownerOf(db: Knex, type: OwnerType, id: number): Promise<{ planId: number; ficheId: number | null; riskId: number | null; label: string } | undefined> {
  switch (type) {
    case 'fiche': {
      const r = await db('fiches').where({ id }).first('plan_id', 'number');
      return r ? { planId: Number(r.plan_id), ficheId: id, riskId: null, label: `fiche n°${r.number}` } : undefined;
    }
    case 'step': {
      const r = await db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').where('steps.id', id).first('fiches.plan_id', 'fiches.id as fiche_id', 'fiches.number', 'steps.label');
      return r ? { planId: Number(r.plan_id), ficheId: Number(r.fiche_id), riskId: null, label: `étape « ${r.label} » de la fiche n°${r.number}` } : undefined;
    }
    case 'note': {
      const r = await db('progress_notes').join('fiches', 'fiches.id', 'progress_notes.fiche_id').where('progress_notes.id', id).first('fiches.plan_id', 'fiches.id as fiche_id', 'fiches.number', 'progress_notes.noted_on');
      return r ? { planId: Number(r.plan_id), ficheId: Number(r.fiche_id), riskId: null, label: `note du ${r.noted_on} de la fiche n°${r.number}` } : undefined;
    }
    case 'risk': {
      const r = await db('risks').where({ id }).first('plan_id', 'number');
      return r ? { planId: Number(r.plan_id), ficheId: null, riskId: id, label: `risque n°${r.number}` } : undefined;
    }
    case 'decision': {
      const r = await db('signatures').where({ id }).first('plan_id', 'decided_on');
      return r ? { planId: Number(r.plan_id), ficheId: null, riskId: null, label: `décision du ${r.decided_on}` } : undefined;
    }
  }
}

/** Writes a version's bytes, chunk by chunk, inside the caller's transaction. */
async function storeChunks(trx: Knex.Transaction, versionId: number, file: ReceivedFile): Promise<void> {
  let seq = 0;
  let stored = 0;
  for await (const chunk of file.chunks()) {
    if (chunk.length > CHUNK_BYTES) throw new Error('Morceau de fichier trop grand');
    await trx('document_chunks').insert({ version_id: versionId, seq: seq++, data: chunk });
    stored += chunk.length;
  }
  // the file changed under us (it never should: it is our own temporary copy): nothing is kept
  if (stored !== file.size) throw new Error(`Fichier incomplet (${stored} octets sur ${file.size})`);
}

async function insertVersion(trx: Knex.Transaction, documentId: number, version: number, file: ReceivedFile, actor: Actor, at: Date): Promise<number> {
  const id = insertedId(await trx('document_versions').insert({
    document_id: documentId, version, file_name: file.name, content_type: file.contentType, size: file.size, sha256: file.sha256,
    uploaded_by: actor.id, uploaded_at: at.toISOString(),
  }).returning('id'));
  await storeChunks(trx, id, file);
  return id;
}

const fileSummary = (f: ReceivedFile) => ({ fileName: f.name, contentType: f.contentType, size: f.size, sha256: f.sha256 });

/** Attaches a new document (its first version) to an object: the rows, the bytes and the audit entry together or nothing. */
export async function createDocument(
  db: Knex, input: { planId: number; ownerType: OwnerType; ownerId: number; ownerLabel: string; title: string; file: ReceivedFile }, actor: Actor, at: Date,
): Promise<number> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const id = insertedId(await trx('documents').insert({
      plan_id: input.planId, owner_type: input.ownerType, owner_id: input.ownerId, title: input.title, created_by: actor.id, created_at: at.toISOString(),
    }).returning('id'));
    await insertVersion(trx, id, 1, input.file, actor, at);
    await audit({
      action: 'create', entityType: 'document', entityId: id, summary: `Pièce justificative « ${input.title} » jointe à la ${input.ownerLabel}`,
      after: { planId: input.planId, ownerType: input.ownerType, ownerId: input.ownerId, title: input.title, version: 1, ...fileSummary(input.file) },
    });
    return id;
  });
}

/** Replaces a document by a new version (the older ones are kept). False when it is gone or removed meanwhile. */
export async function addVersion(db: Knex, documentId: number, file: ReceivedFile, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const doc = await trx('documents').where({ id: documentId }).whereNull('removed_at').forUpdate().first('id', 'title');
    if (!doc) return false;
    const last = await trx('document_versions').where({ document_id: documentId }).max({ v: 'version' }).first();
    const version = Number(last?.v ?? 0) + 1;
    await insertVersion(trx, documentId, version, file, actor, at);
    await audit({
      action: 'update', entityType: 'document', entityId: documentId, summary: `Nouvelle version (${version}) de la pièce justificative « ${doc.title} »`,
      after: { version, ...fileSummary(file) },
    });
    return true;
  });
}

/** Removes a document from the lists; its rows stay until the audit retention runs out. False when already removed. */
export async function removeDocument(db: Knex, documentId: number, reason: string, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const doc = await trx('documents').where({ id: documentId }).first('id', 'title', 'owner_type', 'owner_id', 'removed_at');
    if (!doc || doc.removed_at) return false;
    const updated = await trx('documents').where({ id: documentId }).whereNull('removed_at')
      .update({ removed_at: at.toISOString(), removed_by: actor.id, removed_reason: reason || null });
    if (updated !== 1) return false;
    await audit({
      action: 'delete', entityType: 'document', entityId: documentId, summary: `Pièce justificative « ${doc.title} » retirée`,
      before: { title: doc.title, ownerType: doc.owner_type, ownerId: Number(doc.owner_id) }, after: reason ? { reason } : undefined,
    });
    return true;
  });
}

/** `count` chunks of a version from `fromSeq` on, in order: one query. */
export async function readChunks(db: Knex, versionId: number, fromSeq: number, count = CHUNKS_PER_READ): Promise<Buffer[]> {
  const rows = await db('document_chunks').where('version_id', versionId).where('seq', '>=', fromSeq).where('seq', '<', fromSeq + count)
    .orderBy('seq').select('data');
  return rows.map((r: { data: Buffer | Uint8Array }) => (Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data)));
}

/** The bytes of a version, a few chunks per query: never more than CHUNKS_PER_READ chunks in memory. */
export async function* versionBytes(db: Knex, versionId: number): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq += CHUNKS_PER_READ) {
    const chunks = await readChunks(db, versionId, seq);
    for (const c of chunks) yield c;
    if (chunks.length < CHUNKS_PER_READ) return;
  }
}

const OWNER_TABLES: Record<OwnerType, string> = { fiche: 'fiches', step: 'steps', note: 'progress_notes', risk: 'risks', decision: 'signatures' };

/**
 * Documents whose object was deleted (a fiche, a step taken out of its fiche, a risk…) count as removed from then on,
 * so that their bytes go with the same retention as a document removed by hand.
 */
export async function markOrphansRemoved(db: Knex, at: Date): Promise<number> {
  let marked = 0;
  for (const [type, table] of Object.entries(OWNER_TABLES)) {
    marked += await db('documents').whereNull('removed_at').where('owner_type', type)
      .whereNotExists(db(table).select(db.raw('1')).whereRaw(`${table}.id = documents.owner_id`))
      .update({ removed_at: at.toISOString(), removed_reason: 'Élément supprimé' });
  }
  return marked;
}

/** Documents removed before `before` (past the audit retention): deleted with their versions and bytes. */
export async function purgeRemovedDocuments(db: Knex, before: Date): Promise<number> {
  const ids = (await db('documents').whereNotNull('removed_at').where('removed_at', '<', before.toISOString()).select('id')).map((r) => Number(r.id));
  for (const id of ids) {
    await db.transaction(async (trx) => {
      const versions = trx('document_versions').where('document_id', id).select('id');
      await trx('document_chunks').whereIn('version_id', versions).delete();
      await trx('document_versions').where('document_id', id).delete();
      await trx('documents').where('id', id).delete();
    });
  }
  return ids.length;
}

// ---- the homologation's setting

/** Whether a step marked done in this homologation must come with a document or a justification. */
export async function evidenceRequiredForDone(db: Knex, planId: number): Promise<boolean> {
  const r = await db('plans').where({ id: planId }).first('evidence_required_for_done');
  return Boolean(r?.evidence_required_for_done);
}

export async function setEvidenceRequired(db: Knex, planId: number, required: boolean, actor: AuditActor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const r = await trx('plans').where({ id: planId }).first('evidence_required_for_done');
    if (!r) return false;
    if (Boolean(r.evidence_required_for_done) === required) return true;
    await trx('plans').where({ id: planId }).update({ evidence_required_for_done: required });
    await audit({
      action: 'update', entityType: 'homologation', entityId: planId,
      summary: required ? 'Une étape marquée « Fait » exige désormais une pièce justificative' : "Une étape marquée « Fait » n'exige plus de pièce justificative",
      before: { evidenceRequiredForDone: !required }, after: { evidenceRequiredForDone: required },
    });
    return true;
  });
}

/** Whether the step has at least one document (not removed): what marking it done asks for when the setting is on. */
export async function stepHasEvidence(db: Knex, stepId: number): Promise<boolean> {
  return Boolean(await db('documents').where({ owner_type: 'step', owner_id: stepId }).whereNull('removed_at').first('id'));
}

// ---- what other pages read

/**
 * Each fiche's evidence (its own, its steps' and its notes'), title and date, oldest first: one query for any number
 * of fiches (the agenda).
 */
export async function evidenceOfFiches(db: Knex, ficheIds: number[]): Promise<Map<number, { title: string; addedOn: string }[]>> {
  const out = new Map<number, { title: string; addedOn: string }[]>();
  if (!ficheIds.length) return out;
  const rows = await db('documents').whereNull('documents.removed_at')
    .leftJoin('steps', (j) => j.on('steps.id', 'documents.owner_id').andOnVal('documents.owner_type', 'step'))
    .leftJoin('progress_notes', (j) => j.on('progress_notes.id', 'documents.owner_id').andOnVal('documents.owner_type', 'note'))
    .where((q) => q.where((f) => f.where('documents.owner_type', 'fiche').whereIn('documents.owner_id', ficheIds))
      .orWhereIn('steps.fiche_id', ficheIds).orWhereIn('progress_notes.fiche_id', ficheIds))
    .select('documents.title', 'documents.created_at', 'documents.owner_type', 'documents.owner_id', 'steps.fiche_id as step_fiche', 'progress_notes.fiche_id as note_fiche')
    .orderBy([{ column: 'documents.created_at' }, { column: 'documents.id' }]);
  for (const r of rows) {
    const ficheId = Number(r.owner_type === 'fiche' ? r.owner_id : r.owner_type === 'step' ? r.step_fiche : r.note_fiche);
    const list = out.get(ficheId) ?? [];
    list.push({ title: String(r.title), addedOn: String(r.created_at).slice(0, 10) });
    out.set(ficheId, list);
  }
  return out;
}

/**
 * The current version of every document (not removed) of a homologation, with what it is attached to: the committee
 * dossier's `pieces/` folder. The caller keeps those the reader may see.
 */
export async function planDocuments(db: Knex, planId: number): Promise<(EvidenceDocument & { ficheId: number | null })[]> {
  const rows = await documentsQuery(db).where('documents.plan_id', planId).whereNull('documents.removed_at')
    .leftJoin('steps', (j) => j.on('steps.id', 'documents.owner_id').andOnVal('documents.owner_type', 'step'))
    .leftJoin('progress_notes', (j) => j.on('progress_notes.id', 'documents.owner_id').andOnVal('documents.owner_type', 'note'))
    .select('steps.fiche_id as step_fiche', 'progress_notes.fiche_id as note_fiche')
    .orderBy('documents.id');
  const docs = await withVersions(db, rows);
  const byId = new Map(rows.map((r: Record<string, unknown>) => [Number(r.id), r]));
  return docs.map((d) => {
    const r = byId.get(d.id)!;
    const ficheId = d.ownerType === 'fiche' ? d.ownerId : d.ownerType === 'step' ? Number(r.step_fiche) : d.ownerType === 'note' ? Number(r.note_fiche) : null;
    return { ...d, ficheId };
  });
}

/** What a person uploaded (the personal-data export): titles, file names, dates. */
export async function uploadsBy(db: Knex, userId: number): Promise<{ title: string; fileName: string; uploadedAt: string; planId: number }[]> {
  const rows = await db('document_versions').join('documents', 'documents.id', 'document_versions.document_id')
    .where('document_versions.uploaded_by', userId)
    .select('documents.title', 'documents.plan_id', 'document_versions.file_name', 'document_versions.uploaded_at')
    .orderBy('document_versions.uploaded_at');
  return rows.map((r) => ({ title: String(r.title), fileName: String(r.file_name), uploadedAt: String(r.uploaded_at), planId: Number(r.plan_id) }));
}
