import { Router } from 'express';
import { setAssignedStepStatus } from '../../data/my-actions';
import { stepOfLink } from '../../data/step-notices';
import type { AppContext } from '../context';
import { HttpError } from '../errors';
import { str } from '../forms/fields';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const INVALID = "Ce lien n'est plus valable : il a expiré, ou l'action a été confiée à quelqu'un d'autre. Demandez un nouveau lien à l'équipe projet.";

/**
 * The page a named person without an account reaches from their e-mail: one step, and a form that marks it done or
 * adds a note, nothing more. Public: the link's token is the credential (the form is still CSRF-protected).
 */
export function stepLinkRouter(ctx: AppContext): Router {
  const router = Router();
  const find = async (token: string) => {
    const step = TOKEN.test(token) ? await stepOfLink(ctx.db, token, ctx.now()) : undefined;
    if (!step) throw new HttpError(404, INVALID);
    return step;
  };
  router.get('/action/:token', async (req, res) => {
    const step = await find(String(req.params.token));
    res.render('people/step-link', { title: `Action : ${step.label}`, step, token: req.params.token, values: { note: '', done: '' }, errors: {}, saved: false });
  });
  router.post('/action/:token', async (req, res) => {
    const step = await find(String(req.params.token));
    const values = { note: str(req.body.note).trim(), done: str(req.body.done) };
    const errors: Record<string, string> = {};
    if (values.note.length > 2000) errors.note = '2 000 caractères au maximum.';
    if (values.done !== '1' && values.note === '') errors.note = "Écrivez une note, ou cochez « L'action est faite ».";
    if (Object.keys(errors).length) {
      return res.status(422).render('people/step-link', { title: `Action : ${step.label}`, step, token: req.params.token, values, errors, saved: false });
    }
    const result = await setAssignedStepStatus(ctx.db, step.stepId, { personId: step.personId }, {
      status: values.done === '1' ? 'fait' : step.status, note: values.note, requireJustification: false,
    }, { id: null, name: `${step.personName} (sans compte, par le lien reçu)` }, ctx.now());
    if (!result.ok && result.reason === 'justification_required') {
      return res.status(422).render('people/step-link', {
        title: `Action : ${step.label}`, step, token: req.params.token, values, saved: false,
        errors: { note: "Pour déclarer cette action faite, cette homologation demande une justification : écrivez dans la note ce qui a été fait et comment le vérifier." },
      });
    }
    if (!result.ok) throw new HttpError(result.reason === 'not_assigned' ? 404 : 409, INVALID);
    const after = await stepOfLink(ctx.db, String(req.params.token), ctx.now());
    res.render('people/step-link', { title: `Action : ${step.label}`, step: after ?? step, token: req.params.token, values: { note: '', done: '' }, errors: {}, saved: true });
  });
  return router;
}
