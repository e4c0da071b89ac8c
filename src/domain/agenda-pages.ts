// The agenda read on screen a page at a time. An agenda detailing up to AGENDA_FICHES_PER_PAGE fiches is one page, as
// it always was. A longer one opens on a page of its own (the order of the day, the objective, the perimeter, the
// calendar, the presentation of the plan, which links each fiche to its detail, the risks and the conditions), then
// details its fiches a page of AGENDA_FICHES_PER_PAGE at a time, what follows them (questions) on the last page: at
// national scale, 500 fiches on one page weighed 1.5 MB. The PDF stays the whole document.
import type { Agenda, AgendaSection } from './agenda';

/** Fiches detailed per page of the agenda on screen (a fiche weighs 2 to 10 KiB of HTML). */
export const AGENDA_FICHES_PER_PAGE = 20;
/** The highest page number read from an address; beyond it the number is refused rather than read as the last page. */
const PAGE_MAX = 100_000;

/** The page asked for in the address (1 when none), or the message saying why it cannot be read. */
export function readAgendaPage(raw: unknown): { page: number } | { error: string } {
  if (raw === undefined || raw === '') return { page: 1 };
  const text = typeof raw === 'string' ? raw : String(Array.isArray(raw) ? raw[0] : raw);
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1 || Number(text) > PAGE_MAX) {
    return { error: `Numéro de page invalide : « ${text.slice(0, 50)} ». Indiquez un nombre entier à partir de 1.` };
  }
  return { page: Number(text) };
}

/** The fiche number asked for by « Aller à la fiche », or null when none (or not a number). */
export function readFicheNumber(raw: unknown): number | null {
  const text = typeof raw === 'string' ? raw.trim() : '';
  return /^\d{1,9}$/.test(text) ? Number(text) : null;
}

/** Which fiches a page of the agenda details, among all it details in their order (their numbers). */
export interface AgendaWindow {
  /** The page shown: the one asked for, or the last when it was beyond. */
  page: number;
  pages: number;
  /** The page asked for. */
  requested: number;
  /** The page asked for was beyond the last. */
  beyond: boolean;
  /** How many fiches the whole agenda details, and at most how many a page. */
  total: number;
  perPage: number;
  /** This page's fiches (their numbers), in order. */
  numbers: number[];
  /** The page of each fiche detailed, by its number. */
  pageOf: Map<number, number>;
}

/** The window of the page asked for, over the fiches the agenda details (their numbers, in order). */
export function agendaWindow(numbers: readonly number[], requested: number, perPage = AGENDA_FICHES_PER_PAGE): AgendaWindow {
  const total = numbers.length;
  // one page when the fiches fit on it; else the opening, then the fiches' pages
  const single = total <= perPage;
  const pages = single ? 1 : 1 + Math.ceil(total / perPage);
  const page = Math.min(Math.max(1, requested), pages);
  const pageOf = new Map(numbers.map((n, i) => [n, single ? 1 : 2 + Math.floor(i / perPage)]));
  const own = single ? [...numbers] : page === 1 ? [] : numbers.slice((page - 2) * perPage, (page - 1) * perPage);
  return { page, pages, requested, beyond: requested > pages, total, perPage, numbers: own, pageOf };
}

/** The numbers of the fiches an agenda details, in its order. */
export function detailedNumbers(agenda: Agenda): number[] {
  return agenda.sections.flatMap((s) => (s.key === 'fiche' ? [s.fiche.number] : []));
}

/**
 * The sections of one page, in the agenda's order (`order`: the editors', normaliseOrder): on a single page, all of
 * them; else the opening (what the editors put before the fiches' detail, the risks and the conditions too) on the
 * first page, this page's fiches, and what they put after the fiches' detail on the last page. The agenda may hold
 * every fiche or only this page's.
 */
export function sectionsOfPage(agenda: Agenda, window: AgendaWindow, order: readonly string[]): AgendaSection[] {
  if (window.pages === 1) return agenda.sections;
  const after = new Set(order.slice(order.indexOf('fiches') + 1));
  const own = new Set(window.numbers);
  return agenda.sections.filter((s) => {
    if (s.key === 'fiche') return own.has(s.fiche.number);
    return after.has(s.key) ? window.page === window.pages : window.page === 1;
  });
}
