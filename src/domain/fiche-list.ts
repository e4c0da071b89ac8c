// The homologation's list of fiches, one page at a time: its filters and search as typed in the address, read and
// checked here; the list is filtered in SQL (visibility, status, team, late) and searched here (accents and case
// ignored, which the engines' LIKE does not do alike).
import { isStatus, type Status, STATUS_LABELS, STATUSES } from './statuses';

/** Fiches per page of the homologation's list. */
export const FICHES_PER_PAGE = 50;
/** The longest search accepted (characters). */
export const SEARCH_MAX = 200;
/** The highest page number read from an address; beyond it the number is refused rather than read as the last page. */
const PAGE_MAX = 100_000;

/** The list's query string as typed (every value a string, '' when absent). */
export interface FicheListQuery { q: string; avancement: string; equipe: string; retard: string; page: string }

export interface FicheListFilter {
  /** The search's words, folded (lower case, no accents); every one must match. */
  words: string[];
  status?: Status;
  teamId?: number;
  /** Only the late fiches: not done, target date passed. */
  late: boolean;
}

export interface FicheListRead {
  filter: FicheListFilter;
  /** The page asked for (1 when none). */
  page: number;
  /** The filters and search as kept in the list's links (the page aside), known values only. */
  query: Record<string, string>;
  /** Whether any filter or search narrows the list. */
  filtered: boolean;
}

/** Lower case, accents and ligatures folded: "Échéance" and "echeance" read alike. */
export function foldForSearch(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/œ/g, 'oe').replace(/æ/g, 'ae');
}

/** The words of a search, folded; "n°12", "N°12" and "#12" are the number 12. */
export function searchWords(q: string): string[] {
  return foldForSearch(q).split(/[\s,;:!?"«»()[\]{}]+/)
    .map((w) => w.replace(/^(?:n°|no\.?|#)(?=\d+$)/, '').replace(/^['’.-]+|['’.-]+$/g, ''))
    .filter((w) => w !== '' && w !== 'n°');
}

/**
 * Whether a fiche answers a search: each word is a number that is the fiche's or a whole word of its title or finding
 * ("12" finds fiche n°12, not n°120), or a part of a word of its title or finding ("sauvegard" finds "sauvegardes").
 */
export function matchesSearch(fiche: { number: number; title: string; finding: string }, words: readonly string[]): boolean {
  if (words.length === 0) return true;
  const text = foldForSearch(`${fiche.title} ${fiche.finding}`);
  let tokens: Set<string> | undefined;
  return words.every((w) => {
    if (/^\d+$/.test(w)) {
      if (Number(w) === fiche.number) return true;
      tokens ??= new Set(text.split(/[^\p{L}\p{N}]+/u));
      return tokens.has(w);
    }
    return text.includes(w);
  });
}

/** "Non démarré, En cours, Bloqué ou Fait". */
const orList = (labels: readonly string[]) => (labels.length > 1 ? `${labels.slice(0, -1).join(', ')} ou ${labels.at(-1)}` : labels.join(''));

/**
 * Reads the list's filters, search and page; an unknown value is refused with the message to show (as the dashboard's
 * filters are: an error, not an empty list that looks like good news). `teams`: the teams the filter offers.
 */
export function readFicheListQuery(raw: FicheListQuery, teams: readonly { id: number; name: string }[]): FicheListRead | string {
  const query: Record<string, string> = {};
  const filter: FicheListFilter = { words: [], late: false };
  const q = raw.q.trim().replace(/\s+/g, ' ');
  if (q.length > SEARCH_MAX) return `Recherche trop longue : ${SEARCH_MAX} caractères au plus.`;
  if (q) {
    query.q = q;
    filter.words = searchWords(q);
  }
  if (raw.avancement) {
    if (!isStatus(raw.avancement)) return `Filtre inconnu : l'avancement « ${raw.avancement} » n'existe pas. Choisissez-en un dans la liste des filtres : ${orList(STATUSES.map((s) => STATUS_LABELS[s]))}.`;
    filter.status = raw.avancement;
    query.avancement = raw.avancement;
  }
  if (raw.equipe) {
    if (!/^\d{1,9}$/.test(raw.equipe) || !teams.some((t) => t.id === Number(raw.equipe))) {
      return `Filtre inconnu : l'équipe « ${raw.equipe} » ne porte aucune fiche de cette homologation. Choisissez-en une dans la liste des filtres.`;
    }
    filter.teamId = Number(raw.equipe);
    query.equipe = raw.equipe;
  }
  if (raw.retard) {
    if (raw.retard !== '1') return `Filtre inconnu : « retard=${raw.retard} ». Cochez ou décochez « En retard seulement ».`;
    filter.late = true;
    query.retard = '1';
  }
  let page = 1;
  if (raw.page) {
    if (!/^\d{1,9}$/.test(raw.page) || Number(raw.page) < 1 || Number(raw.page) > PAGE_MAX) {
      return `Numéro de page invalide : « ${raw.page} ». Indiquez un nombre entier à partir de 1.`;
    }
    page = Number(raw.page);
  }
  return { filter, page, query, filtered: Object.keys(query).length > 0 };
}

export interface PageWindow {
  /** The page shown: the one asked for, or the last when it was beyond. */
  page: number;
  pages: number;
  /** Rank of the first and last fiche shown (1-based; 0 and 0 when none). */
  first: number;
  last: number;
  /** The page asked for was beyond the last. */
  beyond: boolean;
}

/** The page of a list of `total` items to show for the page asked for. */
export function pageWindow(total: number, requested: number, perPage = FICHES_PER_PAGE): PageWindow {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const page = Math.min(Math.max(1, requested), pages);
  return { page, pages, first: total ? (page - 1) * perPage + 1 : 0, last: Math.min(page * perPage, total), beyond: requested > pages };
}

/** The query string of a page of the list with the same filters and search ('' for page 1 without any; no `page` for page 1). */
export function pageQuery(query: Record<string, string>, page: number): string {
  const params = new URLSearchParams(query);
  if (page > 1) params.set('page', String(page));
  const s = params.toString();
  return s ? `?${s}` : '';
}
