import { Router } from 'express';
import { contactByToken, unsubscribe } from '../../data/contacts';
import type { AppContext } from '../context';
import { notFound } from '../errors';

const TOKEN = /^[A-Za-z0-9_-]{20,64}$/;

/**
 * The unsubscribe link of every digest. Public: the unguessable token is the credential, so the
 * POST needs no CSRF token, which lets mail clients offer one-click unsubscribe (RFC 8058).
 * A GET only shows the button: link scanners that follow links unsubscribe nobody.
 */
export function unsubscribeRouter(ctx: AppContext): Router {
  const router = Router();
  const lookup = async (token: string) => {
    if (!TOKEN.test(token)) throw notFound('Ce lien de désinscription');
    return token;
  };
  router.get('/desinscription/:token', async (req, res) => {
    const contact = await contactByToken(ctx.db, await lookup(req.params.token));
    if (!contact) throw notFound('Ce lien de désinscription');
    res.render('contacts/unsubscribe', { title: 'Se désinscrire des points d’avancement', contact, done: Boolean(contact.unsubscribedAt) });
  });
  router.post('/desinscription/:token', async (req, res) => {
    const contact = await unsubscribe(ctx.db, await lookup(req.params.token), ctx.now());
    if (!contact) throw notFound('Ce lien de désinscription');
    res.render('contacts/unsubscribe', { title: 'Désinscription enregistrée', contact, done: true });
  });
  return router;
}
