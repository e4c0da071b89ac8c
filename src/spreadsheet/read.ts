import { Unzip, UnzipInflate, UnzipPassThrough, zipSync } from 'fflate';
import { IMPORT_LIMITS } from '../domain/plan-sheets';
import { loadSheetJs, type SheetJs } from './sheetjs';

/**
 * Reads an uploaded spreadsheet (XLSX, ODS or CSV) as plain tables, treating it as hostile:
 * - its size is bounded before (upload limit) and checked here;
 * - an XLSX or ODS file is a zip: its entries are decompressed here, each to the size its directory declares and no
 *   more, the total bounded (a zip bomb is refused before anything is inflated), and the XML entries are refused if
 *   they declare a DTD or an entity (billion laughs, external entities). SheetJS then reads a stored (uncompressed)
 *   copy of exactly these checked bytes, so it never inflates anything itself;
 * - formulas are never evaluated: a cell gives the value its spreadsheet saved (SheetJS reads no formula here);
 * - rows, columns, sheets and cell lengths are bounded;
 * - a CSV's encoding (UTF-8, else Windows-1252) and separator (; or , or tab) are detected, and every cell read as
 *   text (no guessing that "1/2" is a date).
 * Anything else (an old .xls, a PDF, an executable renamed) is refused: only these three formats are read.
 */

/** A cell as read: a text, a number (dates as Excel serial numbers), a yes/no, or empty. */
export type Cell = string | number | boolean | null;

export interface ReadSheet {
  name: string;
  /** the rows, the first one first; trailing empty rows dropped */
  rows: Cell[][];
}

export type ReadResult =
  | { ok: true; format: 'xlsx' | 'ods' | 'csv'; sheets: ReadSheet[] }
  | { ok: false; error: string };

const fail = (error: string): ReadResult => ({ ok: false, error });
const mb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} Mo`;
const thousands = (n: number) => n.toLocaleString('fr-FR').replace(/\u202f/g, '\u00a0');

const TOO_MANY_ROWS = (name: string) =>
  `La feuille « ${name} » dépasse ${thousands(IMPORT_LIMITS.rows)} lignes : découpez le fichier (par exemple une feuille des fiches et une feuille des étapes) et importez-le en plusieurs fois.`;

export async function readSpreadsheet(data: Buffer): Promise<ReadResult> {
  if (data.length === 0) return fail('Le fichier est vide : choisissez un fichier XLSX, ODS ou CSV qui contient le plan.');
  if (data.length > IMPORT_LIMITS.fileBytes) return fail(`Le fichier dépasse ${mb(IMPORT_LIMITS.fileBytes)} : importez-le en plusieurs parties.`);
  if (data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04) return readZipped(await loadSheetJs(), data);
  const text = decodeText(data);
  if (text === undefined) {
    return fail("Ce fichier n'est ni un classeur XLSX ou ODS, ni un fichier CSV : enregistrez-le depuis votre tableur au format XLSX, ODS ou CSV.");
  }
  return readCsv(await loadSheetJs(), text);
}

/** UTF-8 (with or without its byte-order mark) when it is valid, else Windows-1252; undefined for binary data. */
function decodeText(data: Buffer): string | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    text = new TextDecoder('windows-1252').decode(data);
  }
  text = text.replace(/^\ufeff/, '');
  // control characters other than tab and line breaks: a binary file (an old .xls, a PDF, an executable)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 65536))) return undefined;
  return text;
}

/** The separator of the header line: the most frequent of ; , and tab outside quotes. */
function separatorOf(text: string): string {
  const firstLine = text.slice(0, 65536).split(/\r\n|\n|\r/, 1)[0] ?? '';
  const unquoted = firstLine.replace(/"[^"]*"/g, '');
  const counts = [';', ',', '\t'].map((s) => ({ s, n: unquoted.split(s).length - 1 }));
  counts.sort((a, b) => b.n - a.n);
  return counts[0]!.n > 0 ? counts[0]!.s : ';';
}

function readCsv(XLSX: typeof SheetJs, text: string): ReadResult {
  // a line count before parsing: a file of 100,000 short lines is refused without building them
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (++lines > IMPORT_LIMITS.rows * 4 + 1) return fail(TOO_MANY_ROWS('CSV'));
  }
  let book: SheetJs.WorkBook;
  try {
    book = XLSX.read(text, { type: 'string', raw: true, dense: true, FS: separatorOf(text), cellFormula: false, cellHTML: false, sheetRows: IMPORT_LIMITS.rows + 12 } as SheetJs.ParsingOptions);
  } catch {
    return fail("Le fichier CSV n'a pas pu être lu : vérifiez qu'il a été enregistré au format CSV (séparateur point-virgule ou virgule).");
  }
  return sheetsOf(XLSX, book, 'csv');
}

function readZipped(XLSX: typeof SheetJs, data: Buffer): ReadResult {
  const NOT_A_SPREADSHEET = "Ce fichier compressé n'est pas un classeur XLSX ou ODS : enregistrez-le depuis votre tableur au format XLSX, ODS ou CSV.";
  const BOMB = `Le classeur décompressé dépasserait ${mb(IMPORT_LIMITS.unzippedBytes)} : ce n'est pas un plan d'action ordinaire, il est refusé.`;
  const unzipped = unzipBounded(data);
  if (unzipped === 'bomb') return fail(BOMB);
  if (unzipped === 'entries') return fail(NOT_A_SPREADSHEET);
  if (unzipped === 'broken') {
    return fail("Le classeur n'a pas pu être décompressé : il est abîmé ou incomplet. Enregistrez-le à nouveau depuis votre tableur.");
  }
  const entries = unzipped;
  const names = Object.keys(entries);
  const format = names.includes('[Content_Types].xml') ? 'xlsx' : names.includes('content.xml') ? 'ods' : undefined;
  if (!format) return fail(NOT_A_SPREADSHEET);
  for (const name of names) {
    if (!/\.(xml|rels|vml)$/i.test(name)) continue;
    const head = Buffer.from(entries[name]!.subarray(0, 4096)).toString('latin1');
    const all = head.length < 4096 ? head : Buffer.from(entries[name]!).toString('latin1');
    if (/<!DOCTYPE|<!ENTITY/i.test(all)) {
      return fail('Le classeur contient des déclarations XML (DOCTYPE ou ENTITY) qu\u2019un tableur n\u2019écrit pas : il est refusé par sécurité. Enregistrez-le à nouveau depuis votre tableur.');
    }
  }
  // macros and embedded objects are not read: only the sheets' values are
  let book: SheetJs.WorkBook;
  try {
    const checked = Buffer.from(zipSync(entries, { level: 0 }));
    book = XLSX.read(checked, {
      type: 'buffer', dense: true, cellFormula: false, cellHTML: false, cellNF: false, cellStyles: false, bookVBA: false,
      sheetRows: IMPORT_LIMITS.rows + 12,
    });
  } catch {
    return fail("Le classeur n'a pas pu être lu : enregistrez-le à nouveau depuis votre tableur au format XLSX ou ODS.");
  }
  return sheetsOf(XLSX, book, format);
}

/**
 * The archive's entries, decompressed as a stream that stops as soon as their total passes the limit: what the
 * archive declares is not trusted (a bomb may declare 100 bytes and inflate to gigabytes), only what comes out.
 * The input is fed in small chunks, so the output of one chunk is bounded too (deflate expands 1 byte to 1,032 at most).
 */
function unzipBounded(data: Buffer): Record<string, Uint8Array> | 'bomb' | 'entries' | 'broken' {
  const entries: Record<string, Uint8Array[]> = {};
  let total = 0;
  let count = 0;
  let outcome: 'bomb' | 'entries' | 'broken' | undefined;
  const unzip = new Unzip((file) => {
    count += 1;
    if (count > IMPORT_LIMITS.zipEntries) { outcome ??= 'entries'; return; }
    if (file.compression !== 0 && file.compression !== 8) { outcome ??= 'entries'; return; }
    const chunks: Uint8Array[] = [];
    entries[file.name] = chunks;
    file.ondata = (err, chunk) => {
      if (outcome) return;
      if (err) { outcome = 'broken'; return; }
      total += chunk.length;
      if (total > IMPORT_LIMITS.unzippedBytes) { outcome = 'bomb'; file.terminate(); return; }
      chunks.push(chunk);
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  unzip.register(UnzipPassThrough);
  const CHUNK = 16 * 1024;
  try {
    for (let at = 0; at < data.length && !outcome; at += CHUNK) {
      unzip.push(data.subarray(at, Math.min(at + CHUNK, data.length)), at + CHUNK >= data.length);
    }
  } catch {
    outcome ??= 'broken';
  }
  if (outcome) return outcome;
  const out: Record<string, Uint8Array> = {};
  for (const [name, chunks] of Object.entries(entries)) {
    if (name.endsWith('/')) continue;
    out[name] = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
  return out;
}

interface DenseSheet { '!data'?: (({ t: string; v?: unknown } | undefined)[] | undefined)[]; '!fullref'?: string; '!ref'?: string }

function sheetsOf(XLSX: typeof SheetJs, book: SheetJs.WorkBook, format: 'xlsx' | 'ods' | 'csv'): ReadResult {
  if (book.SheetNames.length > IMPORT_LIMITS.sheets) return fail(`Le classeur a plus de ${IMPORT_LIMITS.sheets} feuilles : gardez celles du plan.`);
  const sheets: ReadSheet[] = [];
  for (const name of book.SheetNames) {
    const sheet = book.Sheets[name] as DenseSheet | undefined;
    if (!sheet) continue;
    const full = sheet['!fullref'] ?? sheet['!ref'];
    if (full) {
      const range = XLSX.utils.decode_range(full);
      if (range.e.r - range.s.r + 1 > IMPORT_LIMITS.rows + 12) return fail(TOO_MANY_ROWS(name));
    }
    const data = sheet['!data'] ?? [];
    const rows: Cell[][] = [];
    for (const raw of data) {
      const row: Cell[] = [];
      for (const cell of raw ?? []) row.push(cellValue(cell));
      while (row.length && (row[row.length - 1] === null || row[row.length - 1] === '')) row.pop();
      if (row.length > IMPORT_LIMITS.columns) return fail(`La feuille « ${name} » a plus de ${IMPORT_LIMITS.columns} colonnes remplies : gardez celles du plan.`);
      if (row.some((c) => typeof c === 'string' && c.length > IMPORT_LIMITS.cellChars)) {
        return fail(`Une cellule de la feuille « ${name} » dépasse ${thousands(IMPORT_LIMITS.cellChars)} caractères : ce n'est pas une donnée du plan.`);
      }
      rows.push(row);
    }
    while (rows.length && rows[rows.length - 1]!.length === 0) rows.pop();
    if (rows.length > IMPORT_LIMITS.rows + 10) return fail(TOO_MANY_ROWS(name));
    sheets.push({ name: format === 'csv' ? 'CSV' : name, rows });
  }
  return { ok: true, format, sheets };
}

const EPOCH_1899 = Date.UTC(1899, 11, 30);

function cellValue(cell: { t: string; v?: unknown } | undefined): Cell {
  if (!cell || cell.v === undefined || cell.v === null) return null;
  switch (cell.t) {
    case 'n': return typeof cell.v === 'number' && Number.isFinite(cell.v) ? cell.v : null;
    case 'b': return Boolean(cell.v);
    // a date cell read as a date: back to its serial number, the one form the import reads
    case 'd': return cell.v instanceof Date ? (cell.v.getTime() - EPOCH_1899) / 86_400_000 : String(cell.v);
    // an error cell (#N/A, #DIV/0!) holds no value
    case 'e': return null;
    default: return String(cell.v);
  }
}
