import { frenchOrder } from '../../domain/words';
import { type Request, Router } from 'express';
import { type AuditAction, type AuditFilter, auditEntityTypes, searchAudit } from '../../data/audit';
import { auditChanges } from '../../domain/audit';
import { localDate } from '../../domain/schedule';
import { requirePermission } from '../auth';
import type { AppContext } from '../context';
import { toCsv } from '../csv';
import { HttpError } from '../errors';
import { str } from '../forms/fields';
import { type JournalQuery, readJournalFilter } from '../forms/journal';

/** Every action the journal records, in French. */
export const AUDIT_ACTION_LABELS: Record<AuditAction, string> = {
  create: 'Création',
  update: 'Modification',
  delete: 'Suppression',
  note: "Point d'avancement",
  import: "Import d'un tableur",
  login: 'Connexion',
  logout: 'Déconnexion',
  login_failed: 'Échec de connexion',
  freeze: 'Blocage du compte',
  unfreeze: 'Déblocage du compte',
  freeze_all: 'Gel étendu à toutes les adresses',
  password_change: 'Changement de mot de passe',
  password_link: 'Lien de mot de passe envoyé',
  totp_enrolled: 'Second facteur activé',
  totp_reset: 'Second facteur réinitialisé',
  role_change: 'Changement de rôle',
  suspend: 'Suspension du compte',
  anonymize: 'Anonymisation du compte',
  session_expired: 'Session expirée',
  duplicate_account: 'Création refusée : adresse déjà inscrite',
  identity_link: "Compte lié à un fournisseur d'identité",
  access_request: "Demande d'accès",
};
const ACTIONS = Object.keys(AUDIT_ACTION_LABELS) as AuditAction[];

/** The objects the journal mentions, in French; a type not listed here shows as recorded. */
export const ENTITY_TYPE_LABELS: Record<string, string> = {
  alert: 'Alerte de retard', commune: 'Commune', contact: 'Contact de commune', decision: 'Décision', digest: "Point d'avancement des communes",
  fiche: 'Fiche action', instance: 'Instance', mail_settings: 'Réglages des courriels', meeting: 'Séance', milestone: 'Jalon', outbox: 'Courriel',
  expiry_reminder: "Rappel d'échéance", identity: "Identité de l'organisation", plan: 'Homologation', plan_member: "Membre d'une homologation", security_settings: 'Politique de sécurité', service: 'Service', session: 'Session', signature: 'Signature', step: 'Action',
  team: 'Équipe', user: 'Compte utilisateur', risk: 'Risque', risk_settings: 'Échelles et matrice des risques',
  deploiement: 'Déploiement par instance', commune_step: "Action d'une commune", side_effect_answer: "Réponse d'une commune à un effet de bord",
  document: 'Pièce justificative', person: 'Personne désignée', environment: 'Environnement', homologation: 'Homologation',
};
export const entityTypeLabel = (type: string) => ENTITY_TYPE_LABELS[type] ?? type;

const PAGE = 100;

/** Reads the journal's filters from the query string; a malformed one is a 400 with a French explanation. */
function readFilter(req: Request, timeZone: string): { query: JournalQuery; filter: AuditFilter } {
  const read = readJournalFilter(req.query, ACTIONS, timeZone);
  if (!read.ok) throw new HttpError(400, read.message);
  return read;
}

/** The filters as a query string, empty ones left out, with a page number if given. */
function queryString(query: JournalQuery, page?: number): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  if (page !== undefined) params.set('page', String(page));
  return params.toString();
}

/** The audit journal (admins only): every change and every security event, filtered, and exported as CSV. Mounted at /admin. */
export function journalRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/journal', requirePermission('admin'));
  router.use('/journal.csv', requirePermission('admin'));

  router.get('/journal', async (req, res) => {
    const { query, filter } = readFilter(req, ctx.config.mail.timeZone);
    const page = Math.max(1, Math.floor(Number(str(req.query.page))) || 1);
    const [entries, types] = await Promise.all([
      searchAudit(ctx.db, { ...filter, limit: PAGE, offset: (page - 1) * PAGE }),
      auditEntityTypes(ctx.db),
    ]);
    const filtered = Object.values(query).some(Boolean);
    res.render('admin/journal', {
      title: "Journal d'audit",
      entries: entries.map((e) => ({ ...e, changes: auditChanges(e.before, e.after) })),
      page, query, filtered, pageSize: PAGE,
      pageLink: (n: number) => `?${queryString(query, n)}`,
      csvLink: `/admin/journal.csv${filtered ? `?${queryString(query)}` : ''}`,
      actionOptions: [{ value: '', label: 'Toutes les actions' }, ...ACTIONS.map((a) => ({ value: a, label: AUDIT_ACTION_LABELS[a] }))],
      typeOptions: [{ value: '', label: 'Tous les objets' }, ...[...new Set([...types, ...(query.objet ? [query.objet] : [])])]
        .map((t) => ({ value: t, label: entityTypeLabel(t) })).sort((a, b) => frenchOrder.compare(a.label, b.label))],
      AUDIT_ACTION_LABELS, entityTypeLabel,
    });
  });

  router.get('/journal.csv', async (req, res) => {
    const { filter } = readFilter(req, ctx.config.mail.timeZone);
    const entries = await searchAudit(ctx.db, filter);
    const rows = [
      ['Date', 'Auteur', 'Action', 'Objet', 'Identifiant', 'Résumé'],
      ...entries.map((e) => [e.at, e.actor, AUDIT_ACTION_LABELS[e.action] ?? e.action, entityTypeLabel(e.entityType), e.entityId, e.summary]),
    ];
    const today = localDate(ctx.now(), ctx.config.mail.timeZone);
    res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="journal-audit-${today}.csv"`)
      .send(toCsv(rows));
  });

  return router;
}
