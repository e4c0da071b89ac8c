import { isValid } from 'date-fns/isValid';
import { parseISO } from 'date-fns/parseISO';
import { normaliseHeader } from './plan-sheets';
import type { Status } from './statuses';

/**
 * How a person's spreadsheet values are read: French dates (31/12/2023, 31 décembre 2023, a date cell, an Excel
 * serial number), French statuses ("Fait", "Non démarré", "En cours"), yes/no, amounts. Each reader gives the value
 * or a French reason naming what was typed.
 */

export type CellValue = string | number | boolean | null;
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (error: string): { ok: false; error: string } => ({ ok: false, error });

/**
 * A cell as text: trimmed; an integer number without decimals; the leading apostrophe the CSV export puts before a
 * text that looks like a formula removed (so an export re-imported gives the same text).
 */
export function cellText(cell: CellValue): string {
  if (cell === null) return '';
  if (typeof cell === 'boolean') return cell ? 'Oui' : 'Non';
  if (typeof cell === 'number') return Number.isInteger(cell) ? String(cell) : String(cell).replace('.', ',');
  const text = cell.replace(/\r\n?/g, '\n').trim();
  return /^'(?:[\t\r]|\s*[=+\-@])/.test(text) ? text.slice(1) : text;
}

/** How a typed value is quoted in a message: « 31/02/2024 », cut when long. */
export function quoted(cell: CellValue): string {
  const text = cellText(cell).replace(/\s+/g, ' ');
  return `« ${text.length > 60 ? `${text.slice(0, 57)}…` : text} »`;
}

const MONTHS: Record<string, number> = {
  janvier: 1, janv: 1, jan: 1, fevrier: 2, fevr: 2, fev: 2, mars: 3, mar: 3, avril: 4, avr: 4, mai: 5, juin: 6,
  juillet: 7, juil: 7, aout: 8, septembre: 9, sept: 9, sep: 9, octobre: 10, oct: 10, novembre: 11, nov: 11, decembre: 12, dec: 12,
};
const WEEKDAYS = /^(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+/;

const pad = (n: number) => String(n).padStart(2, '0');
const EXCEL_EPOCH = Date.UTC(1899, 11, 30);
/** Serial numbers of 1900-01-01 and 2100-12-31: the years the app accepts. */
const SERIAL_MIN = 2;
const SERIAL_MAX = 73_415;

function isoOf(year: number, month: number, day: number): string | undefined {
  if (year < 1900 || year > 2100) return undefined;
  const iso = `${year}-${pad(month)}-${pad(day)}`;
  return isValid(parseISO(iso)) && parseISO(iso).getDate() === day ? iso : undefined;
}

/** A day as YYYY-MM-DD; an empty cell is null. */
export function parseDay(cell: CellValue): Parsed<string | null> {
  const notADate: { ok: false; error: string } = bad(`${quoted(cell)} n'est pas une date (écrivez par exemple 31/12/2026 ou 31 décembre 2026)`);
  if (cell === null || (typeof cell === 'string' && cell.trim() === '')) return ok(null);
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell) || cell < SERIAL_MIN || cell > SERIAL_MAX) return notADate;
    const d = new Date(EXCEL_EPOCH + Math.floor(cell) * 86_400_000);
    return ok(`${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`);
  }
  if (typeof cell === 'boolean') return notADate;
  const text = cellText(cell).toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(WEEKDAYS, '').trim();
  let m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})$/.exec(text);
  if (m) {
    const year = m[3]!.length === 2 ? 2000 + Number(m[3]) : Number(m[3]);
    return fromParts(year, Number(m[2]), Number(m[1]), notADate);
  }
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[t ][\d:.]+z?)?$/.exec(text);
  if (m) return fromParts(Number(m[1]), Number(m[2]), Number(m[3]), notADate);
  m = /^(1er|\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$/.exec(text);
  if (m) {
    const month = MONTHS[m[2]!];
    if (!month) return notADate;
    return fromParts(Number(m[3]), month, m[1] === '1er' ? 1 : Number(m[1]), notADate);
  }
  return notADate;
}

function fromParts(year: number, month: number, day: number, notADate: { ok: false; error: string }): Parsed<string> {
  if (year < 1900 || year > 2100) return bad(notADate.error.replace(/ n'est pas une date.*$/, " : l'année doit être entre 1900 et 2100"));
  const iso = month >= 1 && month <= 12 ? isoOf(year, month, day) : undefined;
  return iso ? ok(iso) : notADate;
}

/** The statuses as people write them, without case, accents, spaces or punctuation. */
const STATUS_WORDS: Record<string, Status> = {
  nondemarre: 'non_demarre', nondemarree: 'non_demarre', pasdemarre: 'non_demarre', nondebute: 'non_demarre', afaire: 'non_demarre',
  aplanifier: 'non_demarre', prevu: 'non_demarre', aenvisager: 'non_demarre', todo: 'non_demarre', nouveau: 'non_demarre', ouvert: 'non_demarre',
  encours: 'en_cours', commence: 'en_cours', demarre: 'en_cours', demarree: 'en_cours', enprogression: 'en_cours', entrain: 'en_cours',
  partiel: 'en_cours', partiellement: 'en_cours', inprogress: 'en_cours', encoursderealisation: 'en_cours',
  bloque: 'bloque', bloquee: 'bloque', suspendu: 'bloque', suspendue: 'bloque', enattente: 'bloque', bloquant: 'bloque', blocked: 'bloque',
  fait: 'fait', faite: 'fait', termine: 'fait', terminee: 'fait', realise: 'fait', realisee: 'fait', fini: 'fait', finie: 'fait',
  clos: 'fait', close: 'fait', cloture: 'fait', acheve: 'fait', done: 'fait', ok: 'fait', '100': 'fait', effectue: 'fait', deploye: 'fait',
};

/** A status in French words; an empty cell is null (the default or the current status then applies). */
export function parseStatus(cell: CellValue): Parsed<Status | null> {
  const key = normaliseHeader(cellText(cell));
  if (key === '') return ok(null);
  const status = STATUS_WORDS[key];
  return status ? ok(status) : bad(`${quoted(cell)} n'est pas un statut (écrivez Non démarré, En cours, Bloqué ou Fait)`);
}

export function parseBoolean(cell: CellValue): Parsed<boolean> {
  if (typeof cell === 'boolean') return ok(cell);
  const key = normaliseHeader(cellText(cell));
  if (['', 'non', 'n', 'no', 'faux', 'false', '0'].includes(key)) return ok(false);
  if (['oui', 'o', 'yes', 'y', 'x', 'vrai', 'true', '1'].includes(key)) return ok(true);
  return bad(`${quoted(cell)} n'est ni Oui ni Non`);
}

/** A whole number of euros ("12 000 €", "12000", "12 000,00"); an empty cell is null. */
export function parseAmount(cell: CellValue): Parsed<number | null> {
  if (typeof cell === 'number') {
    return Number.isFinite(cell) && cell >= 0 && cell < 1e9 ? ok(Math.round(cell)) : bad(`${quoted(cell)} n'est pas un montant en euros`);
  }
  const text = cellText(cell).replace(/[\s\u00a0\u202f€]|eur(os)?$/gi, '');
  if (text === '') return ok(null);
  const m = /^(\d{1,9})(?:[.,](\d{1,2}))?$/.exec(text);
  return m ? ok(Math.round(Number(`${m[1]}.${m[2] ?? '0'}`))) : bad(`${quoted(cell)} n'est pas un montant en euros (écrivez par exemple 12 000)`);
}

/** A fiche's or a step's number: 3, "3", "n°3", "Fiche 3". */
export function parseNumber(cell: CellValue): Parsed<number | null> {
  if (typeof cell === 'number') return Number.isInteger(cell) && cell >= 1 && cell <= 9999 ? ok(cell) : bad(`${quoted(cell)} n'est pas un numéro entier`);
  const text = cellText(cell);
  if (text === '') return ok(null);
  const m = /^(?:fiche\s*|risque\s*|r)?(?:n\s*[°o]?\s*)?(\d{1,4})\.?$/i.exec(text);
  return m && Number(m[1]) >= 1 ? ok(Number(m[1])) : bad(`${quoted(cell)} n'est pas un numéro entier`);
}

/** A value matched without case, accents or spaces against labels; the index found, or -1. */
export function matchLabel(labels: readonly string[], text: string): number {
  const key = normaliseHeader(text);
  return labels.findIndex((l) => normaliseHeader(l) === key);
}
