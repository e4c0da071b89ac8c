import { isValid } from 'date-fns/isValid';
import { parseISO } from 'date-fns/parseISO';
import type { AuditAction, AuditFilter } from '../../data/audit';
import { addDays, localMidnight } from '../../data/supervision';
import { str } from './fields';

/** The journal's filters as typed in the query string (trimmed; empty: none). */
export interface JournalQuery { action: string; auteur: string; objet: string; du: string; au: string }

export type JournalFilter = { ok: true; query: JournalQuery; filter: AuditFilter } | { ok: false; message: string };

const day = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value) && isValid(parseISO(value));

/**
 * Reads the journal's filters: the action (one of `actions`), the author, the type of object, and the days from and to,
 * read in `timeZone` (the whole end day included). A malformed one is a French message, not an empty journal.
 */
export function readJournalFilter(source: Record<string, unknown>, actions: readonly AuditAction[], timeZone: string): JournalFilter {
  const query: JournalQuery = {
    action: str(source.action).trim(), auteur: str(source.auteur).trim(), objet: str(source.objet).trim(),
    du: str(source.du).trim(), au: str(source.au).trim(),
  };
  const filter: AuditFilter = {};
  const refused = (message: string): JournalFilter => ({ ok: false, message });
  if (query.action) {
    if (!(actions as readonly string[]).includes(query.action)) return refused("L'action demandée n'existe pas : choisissez-en une dans la liste.");
    filter.action = query.action as AuditAction;
  }
  if (query.auteur) {
    if (query.auteur.length > 100) return refused("L'auteur recherché compte 100 caractères au maximum.");
    filter.actor = query.auteur;
  }
  if (query.objet) {
    if (!/^[a-z][a-z_]{0,39}$/.test(query.objet)) return refused("Le type d'objet demandé n'existe pas : choisissez-en un dans la liste.");
    filter.entityType = query.objet;
  }
  if (query.du) {
    if (!day(query.du)) return refused('La date de début est invalide : saisissez une date existante au format aaaa-mm-jj.');
    filter.from = localMidnight(query.du, timeZone);
  }
  if (query.au) {
    if (!day(query.au)) return refused('La date de fin est invalide : saisissez une date existante au format aaaa-mm-jj.');
    filter.before = localMidnight(addDays(query.au, 1), timeZone);
  }
  if (query.du && query.au && query.du > query.au) return refused('La date de début est postérieure à la date de fin : inversez-les.');
  return { ok: true, query, filter };
}
