import { type NextFunction, type Request, type Response, Router } from 'express';
import multer from 'multer';
import { readIdentity, readLogo, saveIdentity } from '../../data/identity';
import { DEFAULT_ACCENT, HEX_COLOUR, logoType, MAX_LOGO_BYTES, NATURE_LABELS } from '../../domain/identity';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { HttpError } from '../errors';
import type { FieldErrors } from '../forms/fields';
import { contrastLabel, identityValues, type IdentityValues, parseIdentityForm } from '../forms/identity';
import { notify } from '../notice';

const PAGE = '/admin/identite';

declare module 'express-serve-static-core' {
  interface Request {
    /** The logo sent with the identity form, or why it was refused before the form was read. */
    logoUpload?: { data: Buffer } | { error: string };
  }
}

const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_LOGO_BYTES, files: 1, fields: 20, fieldSize: 10_000 } }).single('logo');

/**
 * The identity form is multipart (it carries the logo): its fields, the CSRF token first, must be read before the
 * CSRF check. Mounted before it, for an administrator's POST only: anyone else's request is left unread and refused
 * by the CSRF check. A logo too large stops the upload; the fields read so far (all but the file, which comes last)
 * still reach the form, which says why.
 */
export function identityUpload(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'POST' || req.path !== PAGE || req.user?.role !== 'admin' || !req.is('multipart/form-data')) return next();
  upload(req, res, (err: unknown) => {
    if (err instanceof multer.MulterError) {
      req.body ??= {};
      req.logoUpload = {
        error: err.code === 'LIMIT_FILE_SIZE'
          ? `Le logo dépasse ${MAX_LOGO_BYTES / 1024} Ko : réduisez-le (une image de 400 pixels de large suffit) et envoyez-le à nouveau.`
          : "L'envoi du formulaire n'a pas pu être lu. Recommencez.",
      };
      return next();
    }
    // a body that is not well-formed multipart (cut short, no boundary, a broken part header): the client's fault
    if (err) return next(new HttpError(400, "Le formulaire envoyé n'a pas pu être lu : l'envoi a été interrompu ou il est mal formé. Rechargez la page et recommencez."));
    if (req.file && req.file.size > 0) req.logoUpload = { data: req.file.buffer };
    next();
  });
}

/** The public parts of the identity (the sign-in page wears them): the accent as a stylesheet, and the logo. */
export function identityAssetsRouter(ctx: AppContext): Router {
  const router = Router();
  router.get('/identite/theme.css', async (_req, res) => {
    const { accent } = await readIdentity(ctx.db);
    const colour = accent && HEX_COLOUR.test(accent) ? accent : DEFAULT_ACCENT;
    res.type('text/css').set('Cache-Control', 'public, max-age=86400')
      .send(`:root { --app-accent: ${colour}; }\n`);
  });
  router.get('/identite/logo', async (_req, res) => {
    const logo = await readLogo(ctx.db);
    if (!logo) return res.status(404).type('text/plain').send('Aucun logo.');
    res.type(logo.type).set({ 'Cache-Control': 'public, max-age=86400', 'Content-Disposition': 'inline; filename="logo"' }).send(logo.data);
  });
  return router;
}

/** The organisation's identity (State service or not, name, logo, accent), administrators only. */
export function identityRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(PAGE, requirePermission('admin'));

  const render = async (res: Response, status: number, values?: IdentityValues, errors: FieldErrors = {}) => {
    const identity = await readIdentity(ctx.db);
    const accent = values?.accent && HEX_COLOUR.test(values.accent) ? values.accent : identity.accent ?? DEFAULT_ACCENT;
    res.status(status).render('admin/identity', {
      title: "Identité de l'organisation", values: values ?? identityValues(identity), errors, current: identity,
      NATURE_LABELS, contrast: contrastLabel(accent), DEFAULT_ACCENT,
    });
  };

  router.get(PAGE, async (_req, res) => render(res, 200));

  router.post(PAGE, async (req, res) => {
    const form = parseIdentityForm(req.body);
    const errors: FieldErrors = form.ok ? {} : { ...form.errors };
    let logo: 'keep' | 'remove' | { data: Buffer; type: string } = form.values.removeLogo === '1' ? 'remove' : 'keep';
    const sent = req.logoUpload;
    if (sent && 'error' in sent) errors.logo = sent.error;
    else if (sent) {
      const type = logoType(sent.data);
      if (!type) errors.logo = 'Le logo doit être une image PNG, JPEG ou WebP (le SVG est refusé : il peut contenir du code).';
      else logo = { data: sent.data, type };
    }
    if (!form.ok || Object.keys(errors).length > 0) return render(res, 422, form.values, errors);
    const result = await saveIdentity(ctx.db, {
      nature: form.data.nature, name: form.data.name, accent: form.data.accent === '' ? null : form.data.accent,
      logoAlt: form.data.logoAlt, publisher: form.data.publisher, host: form.data.host, logo,
    }, form.data.version, actor(req), ctx.now());
    if (result === 'conflict') {
      return render(res, 409, form.values, {
        version: "Un autre administrateur vient de modifier l'identité. Vos saisies sont conservées ci-dessous ; relisez la version enregistrée (rechargez la page) avant d'enregistrer à nouveau.",
      });
    }
    notify(req, form.data.nature === 'etat'
      ? "L'identité est enregistrée : les pages portent désormais l'identité de l'État (DSFR)."
      : "L'identité est enregistrée : les pages portent le nom de votre organisation, sans les marques de l'État.");
    res.redirect(303, PAGE);
  });

  return router;
}
