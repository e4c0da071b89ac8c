import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Request, type Response, Router } from 'express';
import {
  addVersion, CHUNK_BYTES, createDocument, documentsOf, type DocumentVersion, type EvidenceDocument, getDocument, getVersion, listVersions,
  ownerOf, removeDocument, versionBytes,
} from '../../data/evidence';
import { getFiche } from '../../data/fiches';
import { getRisk } from '../../data/risks';
import {
  contentDisposition, DEFAULT_EVIDENCE_LIMITS, downloadName, FILE_KINDS, formatSize, kindOf, OWNER_LABELS, OWNER_SLUGS, type OwnerType, refusalMessage,
  SLUG_OF,
} from '../../domain/evidence';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { receivedFile } from '../evidence-upload';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import type { FieldErrors } from '../forms/fields';
import { notify } from '../notice';
import { requireEdit, scopeOf } from '../scope';

type Owner = NonNullable<Awaited<ReturnType<typeof ownerOf>>> & { type: OwnerType; id: number };

const TITLE_MAX = 200;

/** `evidenceFor(type, id)`: the documents of one object among those read for a page, for views/partials/evidence.ejs. */
export function evidenceLocals(docs: EvidenceDocument[]) {
  return {
    evidenceFor: (type: OwnerType, id: number) => docs.filter((d) => d.ownerType === type && d.ownerId === id),
    evidenceSlug: SLUG_OF,
    formatSize,
  };
}

/** The documents of a page's objects, ready for the partial. */
export async function evidenceOfPage(ctx: AppContext, planId: number, owners: Partial<Record<OwnerType, number[]>>) {
  return evidenceLocals(await documentsOf(ctx.db, planId, owners));
}

/**
 * Evidence under /homologations/:hid/pieces: adding a document to a fiche, a step, a progress note, a risk or a
 * decision, its versions, replacing and removing it, and downloading it. A document is served only to who may see
 * the object it is attached to (a commune agent: what its commune sees); another homologation's is a 404.
 */
export function evidenceRouter(ctx: AppContext): Router {
  const router = Router();
  const limits = ctx.config.evidence ?? DEFAULT_EVIDENCE_LIMITS;

  /** The object, if it is this homologation's and the user may see it: 404, or 403 for a commune agent. */
  async function visibleOwner(res: Response, type: OwnerType, id: number): Promise<Owner> {
    const { hom, restriction } = scopeOf(res);
    const owner = await ownerOf(ctx.db, type, id);
    if (!owner || owner.planId !== hom.id) throw notFound('Cet élément');
    if (restriction !== null) {
      // a commune reads the conditions it may see, never the decision's full text: its documents may hold it
      if (type === 'decision') throw forbidden();
      if (owner.ficheId !== null && !(await getFiche(ctx.db, owner.ficheId, restriction))) throw forbidden();
      if (owner.riskId !== null && !(await getRisk(ctx.db, owner.riskId, restriction))) throw forbidden();
    }
    return { ...owner, type, id };
  }

  /** Where the object is shown. */
  const pageOf = (base: string, owner: Owner) =>
    owner.ficheId !== null ? `${base}/fiches/${owner.ficheId}` : owner.riskId !== null ? `${base}/risques/${owner.riskId}` : base;

  async function visibleDocument(req: Request, res: Response): Promise<{ doc: EvidenceDocument; owner: Owner }> {
    const id = idParam(req.params.id, 'Cette pièce justificative');
    const doc = await getDocument(ctx.db, id);
    if (!doc || doc.planId !== scopeOf(res).hom.id || doc.removedAt) throw notFound('Cette pièce justificative');
    return { doc, owner: await visibleOwner(res, doc.ownerType, doc.ownerId) };
  }

  function ownerFromQuery(objet: unknown, id: unknown): { type: OwnerType; id: number } | null {
    const type = typeof objet === 'string' ? OWNER_SLUGS[objet] : undefined;
    const text = typeof id === 'string' ? id : '';
    if (!type || !/^\d{1,9}$/.test(text)) return null;
    return { type, id: Number(text) };
  }

  const accepted = () => limits.kinds.map((k) => kindOf(k)?.label).filter(Boolean).join(', ');

  const renderNew = (res: Response, status: number, owner: Owner, values: { title: string }, errors: FieldErrors = {}) =>
    res.status(status).render('evidence/new', {
      title: `Joindre une pièce justificative à ${OWNER_LABELS[owner.type]}`, owner, ownerLabel: owner.label, slug: SLUG_OF[owner.type], values, errors,
      back: pageOf(scopeOf(res).base, owner), maxSize: formatSize(limits.maxBytes), accepted: accepted(),
    });

  const NO_OBJECT = "Indiquez à quoi joindre la pièce : ouvrez ce formulaire depuis la fiche, le risque ou la décision concernés.";

  router.get('/pieces/nouvelle', requireEdit, async (req, res) => {
    const wanted = ownerFromQuery(req.query.objet, req.query.id);
    if (!wanted) throw new HttpError(400, NO_OBJECT);
    await renderNew(res, 200, await visibleOwner(res, wanted.type, wanted.id), { title: '' });
  });

  router.post('/pieces', requireEdit, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const wanted = ownerFromQuery(body.objet, body.id);
    if (!wanted) throw new HttpError(422, NO_OBJECT);
    const owner = await visibleOwner(res, wanted.type, wanted.id);
    const title = typeof body.title === 'string' ? body.title.trim() : '';
    const errors: FieldErrors = {};
    if (!title) errors.title = 'Donnez un titre à la pièce (par exemple : « Rapport du test d’intrusion de mars »).';
    else if (title.length > TITLE_MAX) errors.title = `Le titre compte ${title.length} caractères : ${TITLE_MAX} au plus.`;
    const sent = req.evidenceUpload;
    if (!sent) errors.fichier = refusalMessage('missing', limits);
    else if ('error' in sent) errors.fichier = sent.error;
    else if (Object.keys(errors).length) errors.fichier = 'Choisissez à nouveau le fichier : il n’est pas gardé quand le formulaire est refusé.';
    if (Object.keys(errors).length || !sent || 'error' in sent) return renderNew(res, 422, owner, { title }, errors);
    await createDocument(ctx.db, {
      planId: owner.planId, ownerType: owner.type, ownerId: owner.id, ownerLabel: owner.label, title, file: receivedFile(sent),
    }, actor(req), ctx.now());
    notify(req, `La pièce « ${title} » est jointe à la ${owner.label}.`);
    res.redirect(303, `${pageOf(scopeOf(res).base, owner)}#pieces`);
  });

  const renderDocument = async (res: Response, status: number, doc: EvidenceDocument, owner: Owner, errors: FieldErrors = {}, reason = '') =>
    res.status(status).render('evidence/show', {
      title: `Pièce justificative : ${doc.title}`, doc, owner, versions: await listVersions(ctx.db, doc.id), errors, reason,
      back: pageOf(scopeOf(res).base, owner), canEdit: scopeOf(res).canEdit, formatSize, maxSize: formatSize(limits.maxBytes), accepted: accepted(),
      kindLabel: (v: DocumentVersion) => FILE_KINDS.find((k) => v.contentType.split(';')[0] === k.contentType)?.label ?? v.contentType,
    });

  router.get('/pieces/:id/versions', async (req, res) => {
    const { doc, owner } = await visibleDocument(req, res);
    await renderDocument(res, 200, doc, owner);
  });

  /** A version's bytes, a few chunks per query, as the client takes them (backpressure): memory stays flat. */
  async function send(res: Response, version: DocumentVersion): Promise<void> {
    const kind = FILE_KINDS.find((k) => version.contentType.split(';')[0] === k.contentType);
    res.status(200).set({
      'Content-Type': version.contentType,
      'Content-Length': String(version.size),
      'Content-Disposition': contentDisposition(downloadName(version.fileName, kind)),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'private, no-store',
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
    if (res.req.method === 'HEAD') return void res.end();
    try {
      await pipeline(Readable.from(versionBytes(ctx.db, version.id), { objectMode: false, highWaterMark: CHUNK_BYTES }), res);
    } catch (err) {
      // the reader went away: nothing to answer
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    }
  }

  router.get('/pieces/:id', async (req, res) => {
    const { doc } = await visibleDocument(req, res);
    await send(res, doc.current);
  });

  router.get('/pieces/:id/versions/:vid', async (req, res) => {
    const { doc } = await visibleDocument(req, res);
    const version = await getVersion(ctx.db, doc.id, idParam(req.params.vid, 'Cette version'));
    if (!version) throw notFound('Cette version');
    await send(res, version);
  });

  router.post('/pieces/:id/remplacer', requireEdit, async (req, res) => {
    const { doc, owner } = await visibleDocument(req, res);
    const sent = req.evidenceUpload;
    if (!sent || 'error' in sent) return renderDocument(res, 422, doc, owner, { fichier: sent ? sent.error : refusalMessage('missing', limits) });
    if (!(await addVersion(ctx.db, doc.id, receivedFile(sent), actor(req), ctx.now()))) throw notFound('Cette pièce justificative');
    notify(req, `Une nouvelle version de « ${doc.title} » est enregistrée ; les précédentes restent consultables.`);
    res.redirect(303, `${scopeOf(res).base}/pieces/${doc.id}/versions`);
  });

  router.post('/pieces/:id/supprimer', requireEdit, async (req, res) => {
    const { doc, owner } = await visibleDocument(req, res);
    const reason = typeof req.body?.reason === 'string' ? req.body.reason.trim() : '';
    if (reason.length > 500) return renderDocument(res, 422, doc, owner, { reason: `Le motif compte ${reason.length} caractères : 500 au plus.` }, reason);
    if (!(await removeDocument(ctx.db, doc.id, reason, actor(req), ctx.now()))) throw notFound('Cette pièce justificative');
    notify(req, `La pièce « ${doc.title} » est retirée. Le journal d'audit en garde la trace.`);
    res.redirect(303, `${pageOf(scopeOf(res).base, owner)}#pieces`);
  });

  return router;
}
