import { type NextFunction, type Request, type Response, Router } from 'express';
import multer from 'multer';
import { applyImport, countsOf, fingerprint, getUpload, importContext, importSummary, type PendingImport, saveMapping, saveUpload } from '../../data/plan-import';
import { detectMapping, errorText, planImport, type SheetMapping } from '../../domain/plan-import';
import { IMPORT_LIMITS, PLAN_SHEETS, type PlanSheetKind, sheetSpec } from '../../domain/plan-sheets';
import { can } from '../../domain/roles';
import { SIDE_EFFECT_LABELS, STATUS_LABELS } from '../../domain/statuses';
import { readSpreadsheet } from '../../spreadsheet/read';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { HttpError, idParam, notFound } from '../errors';
import { str, strings } from '../forms/fields';
import { notify } from '../notice';
import { requireEdit, scopeOf } from '../scope';

declare module 'express-serve-static-core' {
  interface Request {
    /** The spreadsheet sent with the import form, or why it was refused before the form was read. */
    spreadsheetUpload?: { data: Buffer; name: string } | { error: string };
  }
}

const UPLOAD_PATH = /^\/homologations\/\d{1,9}\/import$/;

const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fileSize: IMPORT_LIMITS.fileBytes, files: 1, fields: 5, fieldSize: 1000, parts: 8 },
}).single('fichier');

/**
 * The import form is multipart: its CSRF token must be read before the CSRF check, so this is mounted before it,
 * for the POST of the import path by a user whose role may edit fiches (the homologation's own rights are checked by
 * its router next, the CSRF token in between). A file over the limit stops the upload; the form then says why.
 */
export function planImportUpload(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'POST' || !UPLOAD_PATH.test(req.path) || !req.user || !can(req.user, 'fiche:edit') || !req.is('multipart/form-data')) return next();
  upload(req, res, (err: unknown) => {
    if (err instanceof multer.MulterError) {
      req.body ??= {};
      req.spreadsheetUpload = {
        error: err.code === 'LIMIT_FILE_SIZE'
          ? `Le fichier dépasse ${IMPORT_LIMITS.fileBytes / (1024 * 1024)} Mo : importez le plan en plusieurs fichiers (par exemple les fiches, puis les risques).`
          : "L'envoi du formulaire n'a pas pu être lu. Recommencez.",
      };
      return next();
    }
    if (err) return next(new HttpError(400, "Le formulaire envoyé n'a pas pu être lu : l'envoi a été interrompu ou il est mal formé. Rechargez la page et recommencez."));
    if (req.file) req.spreadsheetUpload = { data: req.file.buffer, name: safeName(req.file.originalname) };
    next();
  });
}

/** The file's name as shown and audited: no path, no control characters, 255 characters at most. */
function safeName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const base = Buffer.from(name, 'latin1').toString('utf8').split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (base || 'fichier').slice(0, 255);
}

const KIND_LABELS: Record<PlanSheetKind, string> = {
  fiches: 'Fiches', steps: 'Étapes', sideEffects: 'Effets de bord', owners: 'Porteurs', risks: 'Risques',
};

/** Importing a spreadsheet into a homologation: upload, preview with the columns' mapping, confirmation. */
export function planImportRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/import', requireEdit);

  const renderForm = (res: Response, status: number, error?: string) =>
    res.status(status).render('import/new', {
      title: 'Importer un tableur', error, maxMb: IMPORT_LIMITS.fileBytes / (1024 * 1024), maxRows: IMPORT_LIMITS.rows,
      sheets: PLAN_SHEETS, STATUS_LABELS, SIDE_EFFECT_LABELS,
    });

  router.get('/import', (_req, res) => renderForm(res, 200));

  router.post('/import', async (req, res) => {
    const sent = req.spreadsheetUpload;
    if (!sent) return renderForm(res, 422, 'Choisissez le fichier à importer (XLSX, ODS ou CSV).');
    if ('error' in sent) return renderForm(res, 413, sent.error);
    if (!/\.(xlsx|ods|csv|txt)$/i.test(sent.name)) {
      return renderForm(res, 415, 'Le fichier doit être un classeur XLSX (Excel), ODS (LibreOffice) ou un fichier CSV.');
    }
    const read = await readSpreadsheet(sent.data);
    if (!read.ok) return renderForm(res, 422, read.error);
    if (read.sheets.every((s) => s.rows.length === 0)) return renderForm(res, 422, 'Le fichier ne contient aucune ligne : remplissez le modèle, puis importez-le.');
    const { hom } = scopeOf(res);
    const id = await saveUpload(ctx.db, hom.id, actor(req).id, {
      name: sent.name, format: read.format, sheets: read.sheets, mappings: read.sheets.map((s, i) => detectMapping(s, i)),
    }, ctx.now());
    res.redirect(303, `${scopeOf(res).base}/import/${id}`);
  });

  async function pending(req: Request, res: Response): Promise<PendingImport> {
    const id = idParam(req.params.id, 'Cet import');
    const found = await getUpload(ctx.db, id, scopeOf(res).hom.id, ctx.now());
    if (!found) throw notFound('Cet import (les imports non confirmés sont effacés au bout de 24 heures)');
    return found;
  }

  const renderPreview = async (res: Response, status: number, found: PendingImport, message?: string) => {
    const plan = planImport(found.sheets, found.mappings, await importContext(ctx.db, found.planId, found.createTeams));
    res.status(status).render('import/preview', {
      title: `Aperçu de l'import de « ${found.fileName} »`, found, plan, counts: countsOf(plan), expected: fingerprint(plan), message,
      errorText: (e: Parameters<typeof errorText>[0]) => errorText(e, found.sheets.length > 1),
      kinds: Object.entries(KIND_LABELS), sheetSpec, STATUS_LABELS,
      unknownTeams: [...new Set(plan.errors.flatMap((e) => (e.team ? [e.team] : [])))],
    });
  };

  router.get('/import/:id', async (req, res) => {
    const found = await pending(req, res);
    if (found.appliedAt) return res.render('import/done', { title: "Import terminé", found });
    await renderPreview(res, 200, found);
  });

  /** The mapping screen's answer: each sheet's table and each column's field, and the teams to create. */
  router.post('/import/:id/colonnes', async (req, res) => {
    const found = await pending(req, res);
    if (found.appliedAt) throw new HttpError(409, 'Cet import a déjà été confirmé.');
    const mappings: SheetMapping[] = found.sheets.map((sheet, i) => {
      const previous = found.mappings[i] ?? detectMapping(sheet, i);
      const kindValue = str(req.body[`kind-${i}`]);
      const kind = (Object.keys(KIND_LABELS) as PlanSheetKind[]).find((k) => k === kindValue) ?? null;
      if (kind !== previous.kind) {
        // another table: its columns are matched again by their headers
        const detected = kind === null ? null : detectMapping({ name: sheet.name, rows: sheet.rows }, i);
        return detected && detected.kind === kind ? detected : { sheet: i, kind, headerRow: previous.headerRow, columns: previous.columns.map(() => null) };
      }
      if (kind === null) return previous;
      const keys = new Set(sheetSpec(kind).columns.map((c) => c.key));
      return { ...previous, columns: previous.columns.map((_, c) => { const v = str(req.body[`col-${i}-${c}`]); return keys.has(v) ? v : null; }) };
    });
    const createTeams = strings(req.body.creer).map((t) => t.trim()).filter((t) => t !== '' && t.length <= 100).slice(0, 200);
    await saveMapping(ctx.db, found.id, mappings, createTeams);
    res.redirect(303, `${scopeOf(res).base}/import/${found.id}`);
  });

  router.post('/import/:id/confirmer', async (req, res) => {
    const found = await pending(req, res);
    const result = await applyImport(ctx.db, found, str(req.body.expected), actor(req), ctx.now());
    if (result.ok) {
      const { counts } = result;
      notify(req, result.changed
        ? `L'import est terminé. ${importSummary(found.fileName, counts)}`
        : "L'import est terminé : le plan correspondait déjà au fichier, rien n'a changé.");
      return res.redirect(303, scopeOf(res).base);
    }
    if (result.reason === 'applied') {
      notify(req, 'Cet import avait déjà été confirmé : il n\u2019a pas été appliqué une seconde fois.');
      return res.redirect(303, scopeOf(res).base);
    }
    const message = result.reason === 'errors'
      ? "Le fichier contient des erreurs : rien n'a été importé. Corrigez les lignes signalées dans votre tableur et importez-le à nouveau."
      : `Rien n'a été importé : ${result.detail}. Relisez l'aperçu ci-dessous, mis à jour, puis confirmez à nouveau.`;
    await renderPreview(res, result.reason === 'errors' ? 422 : 409, found, message);
  });

  return router;
}
