import { stringify } from 'csv-stringify/sync';

/** What a CSV cell may hold: a text, or a number that stays a number. */
export type CsvValue = string | number | null | undefined;

/**
 * Spreadsheets run a cell that starts like a formula (=, +, -, @, a tab or a carriage return, also
 * after spaces, which they may drop): such a text gets a leading ' and is shown as typed (OWASP,
 * "CSV injection"). Numbers are written as numbers, a negative one included.
 */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return /^(?:[\t\r]|\s*[=+\-@])/.test(value) ? `'${value}` : value;
}

/**
 * The one way this application writes a CSV file: a byte-order mark (so that spreadsheets read UTF-8),
 * `;` between cells (French spreadsheets), every cell through csvCell.
 */
export function toCsv(rows: readonly (readonly CsvValue[])[]): string {
  return `\ufeff${stringify(rows.map((row) => row.map(csvCell)), { delimiter: ';' })}`;
}
