import { type Request, type Response, Router } from 'express';
import { type Contact, createContact, deleteContact, getContact, listContacts, updateContact } from '../../data/contacts';
import { communes } from '../../data/referentials';
import { digestPreview } from '../../services/mail-admin';
import { isCommuneRole } from '../../domain/roles';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, idParam, notFound } from '../errors';
import { type FieldErrors, parseForm } from '../forms/fields';
import { CONTACT_TAKEN, contactEditForm, contactForm } from '../forms/contact';
import { notify } from '../notice';

/** A commune's mail page is its own agents' and the admins'; nobody else's, whatever the id typed. */
async function communeFor(ctx: AppContext, req: Request) {
  const id = idParam(req.params.communeId, 'Cette commune');
  const user = actor(req);
  if (user.role !== 'admin' && !(isCommuneRole(user.role) && user.communeId === id)) throw forbidden();
  const commune = await communes.get(ctx.db, id);
  if (!commune) throw notFound('Cette commune');
  return commune;
}

/** The same CSP as the app but for inline styles, which e-mail HTML needs; no script at all. */
export function sendMailHtml(res: Response, html: string): void {
  res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'");
  res.type('html').send(html);
}

/** Contacts of a commune (admins, and the commune's own agents) and the preview of its digest. */
export function contactsRouter(ctx: AppContext): Router {
  const router = Router();

  const renderList = async (res: Response, commune: { id: number; name: string }, status = 200, extra: { values?: Record<string, string>; errors?: FieldErrors } = {}) => {
    const contacts = await listContacts(ctx.db, commune.id);
    res.status(status).render('contacts/index', {
      title: `Contacts de ${commune.name}`, commune, contacts, values: extra.values ?? { name: '', email: '', function: '' }, errors: extra.errors ?? {},
    });
  };

  router.get('/communes/:communeId/contacts', async (req, res) => renderList(res, await communeFor(ctx, req)));

  router.post('/communes/:communeId/contacts', async (req, res) => {
    const commune = await communeFor(ctx, req);
    const form = parseForm(contactForm, req.body);
    const { values } = form;
    if (!form.ok) return renderList(res, commune, 422, { values, errors: form.errors });
    const r = await createContact(ctx.db, commune.id, form.data, actor(req), ctx.now());
    if (!r.ok) return renderList(res, commune, 422, { values, errors: { email: CONTACT_TAKEN } });
    notify(req, `Le contact ${form.data.name} est ajouté.`);
    res.redirect(303, `/communes/${commune.id}/contacts`);
  });

  const loadContact = async (req: Request) => {
    const commune = await communeFor(ctx, req);
    const contact = await getContact(ctx.db, commune.id, idParam(req.params.id, 'Ce contact'));
    if (!contact) throw notFound('Ce contact');
    return { commune, contact };
  };
  const renderForm = (res: Response, commune: { id: number; name: string }, contact: Contact, values: Record<string, string>, errors: FieldErrors = {}, status = 200) =>
    res.status(status).render('contacts/form', { title: `Modifier le contact ${contact.name}`, commune, contact, values, errors });

  router.get('/communes/:communeId/contacts/:id/modifier', async (req, res) => {
    const { commune, contact } = await loadContact(req);
    renderForm(res, commune, contact, { name: contact.name, email: contact.email, function: contact.function, resubscribe: '' });
  });
  router.post('/communes/:communeId/contacts/:id', async (req, res) => {
    const { commune, contact } = await loadContact(req);
    const form = parseForm(contactEditForm, req.body);
    const { values } = form;
    if (!form.ok) return renderForm(res, commune, contact, values, form.errors, 422);
    const r = await updateContact(ctx.db, commune.id, contact.id, form.data, actor(req), ctx.now());
    if (!r.ok && r.reason === 'not_found') throw notFound('Ce contact');
    if (!r.ok) return renderForm(res, commune, contact, values, { email: CONTACT_TAKEN }, 422);
    notify(req, `Le contact ${form.data.name} est enregistré.`);
    res.redirect(303, `/communes/${commune.id}/contacts`);
  });
  router.get('/communes/:communeId/contacts/:id/supprimer', async (req, res) => {
    const { commune, contact } = await loadContact(req);
    res.render('contacts/delete', { title: `Supprimer le contact ${contact.name}`, commune, contact });
  });
  router.post('/communes/:communeId/contacts/:id/supprimer', async (req, res) => {
    const { commune, contact } = await loadContact(req);
    await deleteContact(ctx.db, commune.id, contact.id, actor(req), ctx.now());
    notify(req, `Le contact ${contact.name} est supprimé.`);
    res.redirect(303, `/communes/${commune.id}/contacts`);
  });

  /** What the commune's contacts would receive now; no digest when no homologation touches its instances. */
  const preview = async (req: Request) => {
    const commune = await communeFor(ctx, req);
    return { commune, ...(await digestPreview(ctx.db, ctx.config.mail, commune, ctx.now())) };
  };
  router.get('/communes/:communeId/point', async (req, res) => {
    const { commune, digest, text } = await preview(req);
    res.render('digests/preview', { title: `Aperçu du point d'avancement de ${commune.name}`, commune, digest, text });
  });
  router.get('/communes/:communeId/point/courriel.html', async (req, res) => {
    const { html } = await preview(req);
    if (html === null) throw notFound("Ce point d'avancement");
    sendMailHtml(res, html);
  });

  return router;
}
