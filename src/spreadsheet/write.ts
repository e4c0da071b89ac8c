import { strFromU8, strToU8, unzipSync, type Zippable, zipSync } from 'fflate';
import { loadSheetJs, type SheetJs } from './sheetjs';

/**
 * Writes workbooks (XLSX, ODS) from plain tables: a header row frozen at the top, a filter over the table, columns
 * sized to what they hold. Cells are typed by their column: a day ('YYYY-MM-DD', how this application stores dates)
 * in a date column is a real date cell (the day's serial number with the format dd/mm/yyyy in XLSX, a date value in
 * ODS); a number is a number cell; everything else is a text cell, never a formula, whatever it starts with.
 * No I/O: buffers in, buffers out.
 */

export type CellKind = 'text' | 'number' | 'date';
export type CellValue = string | number | null | undefined;

export interface SheetColumn {
  header: string;
  /** 'text' by default; 'date' turns an ISO day into a date cell; 'number' leaves numbers as numbers (so does 'text'). */
  kind?: CellKind;
  /** The width in characters; computed from the content when absent. */
  width?: number;
}

export interface SheetTable {
  name: string;
  columns: readonly SheetColumn[];
  rows: readonly (readonly CellValue[])[];
}

export type SpreadsheetFormat = 'xlsx' | 'ods';

export const SPREADSHEET_TYPES: Record<SpreadsheetFormat, string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
};

/** How a date cell shows. */
export const DATE_FORMAT = 'dd/mm/yyyy';

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A day's serial number in spreadsheets (days since 1899-12-30), computed in UTC so the server's time zone never shifts it. */
export function daySerial(iso: string): number | null {
  const m = ISO_DAY.exec(iso);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return Math.round((t - Date.UTC(1899, 11, 30)) / 86_400_000);
}

/** The ISO day of a serial number. */
export function serialDay(serial: number): string {
  return new Date(Date.UTC(1899, 11, 30) + serial * 86_400_000).toISOString().slice(0, 10);
}

function cellOf(value: CellValue, kind: CellKind): SheetJs.CellObject | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? { t: 'n', v: value } : null;
  if (kind === 'date') {
    const serial = daySerial(value);
    if (serial !== null) return { t: 'n', v: serial, z: DATE_FORMAT };
  }
  // a text cell: SheetJS writes a formula only from `f`, never from the text
  return { t: 's', v: value };
}

const MIN_WIDTH = 6;
const MAX_WIDTH = 60;

function widthOf(column: SheetColumn, index: number, rows: readonly (readonly CellValue[])[]): number {
  if (column.width) return column.width;
  let longest = Math.max(...column.header.split('\n').map((l) => l.length));
  for (const row of rows) {
    const v = row[index];
    if (v === null || v === undefined) continue;
    const text = column.kind === 'date' && typeof v === 'string' && daySerial(v) !== null ? '00/00/0000' : String(v);
    for (const line of text.split('\n')) longest = Math.max(longest, line.length);
  }
  return Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, longest + 2));
}

function worksheetOf(XLSX: typeof SheetJs, table: SheetTable): SheetJs.WorkSheet {
  const ws: SheetJs.WorkSheet = {};
  const width = table.columns.length;
  table.columns.forEach((c, col) => {
    ws[XLSX.utils.encode_cell({ r: 0, c: col })] = { t: 's', v: c.header };
  });
  table.rows.forEach((row, r) => {
    for (let col = 0; col < width; col++) {
      const cell = cellOf(row[col], table.columns[col]!.kind ?? 'text');
      if (cell) ws[XLSX.utils.encode_cell({ r: r + 1, c: col })] = cell;
    }
  });
  const ref = XLSX.utils.encode_range({ s: { r: 0, c: 0 }, e: { r: Math.max(table.rows.length, 1), c: Math.max(width - 1, 0) } });
  ws['!ref'] = ref;
  ws['!autofilter'] = { ref };
  ws['!cols'] = table.columns.map((c, i) => ({ wch: widthOf(c, i, table.rows) }));
  return ws;
}

/** The workbook as a file of the format: the sheets in order, each with its header row frozen and a filter. */
export async function writeWorkbook(tables: readonly SheetTable[], format: SpreadsheetFormat): Promise<Buffer> {
  if (!tables.length) throw new Error('Un classeur a au moins une feuille.');
  const XLSX = await loadSheetJs();
  const wb = XLSX.utils.book_new();
  for (const t of tables) XLSX.utils.book_append_sheet(wb, worksheetOf(XLSX, t), t.name);
  wb.Props = { Title: tables.map((t) => t.name).join(', ') };
  const raw = XLSX.write(wb, { type: 'buffer', bookType: format, compression: true, bookSST: true }) as Buffer;
  return format === 'xlsx' ? finishXlsx(raw) : finishOds(XLSX, raw, tables);
}

// ---------------------------------------------------------------- post-processing (what SheetJS CE does not write)

/** The header row frozen in each sheet of an XLSX file (SheetJS community edition writes no panes). */
function finishXlsx(raw: Buffer): Buffer {
  const files = unzipSync(new Uint8Array(raw));
  for (const name of Object.keys(files)) {
    if (!/^xl\/worksheets\/sheet\d+\.xml$/.test(name)) continue;
    const xml = strFromU8(files[name]!);
    const pane = '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>';
    const frozen = xml.replace(/<sheetView\b([^>]*?)\/>/, `<sheetView$1>${pane}</sheetView>`);
    if (frozen === xml) throw new Error(`${name} : pas de <sheetView> où figer la ligne d'en-tête`);
    files[name] = strToU8(frozen);
  }
  // [Content_Types].xml first, as Office writes it
  const ordered: Zippable = {};
  if (files['[Content_Types].xml']) ordered['[Content_Types].xml'] = files['[Content_Types].xml'];
  for (const [name, data] of Object.entries(files)) if (name !== '[Content_Types].xml') ordered[name] = data;
  return Buffer.from(zipSync(ordered, { level: 6 }));
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
/** A sheet's name in an ODF range address: quoted, a quote doubled. */
const odfSheet = (name: string) => `'${name.replace(/'/g, "''")}'`;

/**
 * ODS: date cells as dates (SheetJS writes the serial number with a date style), a filter per sheet (a database
 * range with its buttons) and the header row frozen (the view settings, which SheetJS does not write).
 */
function finishOds(XLSX: typeof SheetJs, raw: Buffer, tables: readonly SheetTable[]): Buffer {
  const files = unzipSync(new Uint8Array(raw));
  let content = strFromU8(files['content.xml']!);

  // the cell styles that carry a date format
  const dateStyles = new Set([...content.matchAll(/<number:date-style style:name="([^"]+)"/g)].map((m) => m[1]!));
  const dateCellStyles = new Set(
    [...content.matchAll(/<style:style style:name="([^"]+)" style:family="table-cell"[^>]*style:data-style-name="([^"]+)"/g)]
      .filter((m) => dateStyles.has(m[2]!)).map((m) => m[1]!),
  );
  content = content.replace(
    /<table:table-cell office:value-type="float" office:value="(-?\d+)" table:style-name="([^"]+)"><text:p>[^<]*<\/text:p>/g,
    (all, serial: string, style: string) => {
      if (!dateCellStyles.has(style)) return all;
      const day = serialDay(Number(serial));
      return `<table:table-cell office:value-type="date" office:date-value="${day}" table:style-name="${style}"><text:p>${day.split('-').reverse().join('/')}</text:p>`;
    },
  );

  // SheetJS's Excel-style filter names (_xlnm._FilterDatabase), with a sheet name's & left unescaped: the database
  // ranges below are ODF's filters
  content = content.replace(/<table:named-expressions>[\s\S]*?<\/table:named-expressions>/g, '');
  // a sheet's name with an apostrophe: written raw inside its double-quoted attribute (SheetJS reads &apos; back as is)
  content = content.replace(/(<table:table table:name=")([^"]*)"/g, (_all, start: string, name: string) => `${start}${name.replace(/&apos;/g, "'")}"`);

  const ranges = tables.map((t, i) => {
    const last = `${XLSX.utils.encode_col(Math.max(t.columns.length - 1, 0))}${Math.max(t.rows.length, 1) + 1}`;
    const sheet = odfSheet(t.name);
    return `<table:database-range table:name="__Anonymous_Sheet_DB__${i}" table:target-range-address="${escapeXml(`${sheet}.A1:${sheet}.${last}`)}" table:display-filter-buttons="true"/>`;
  }).join('');
  if (!content.includes('</office:spreadsheet>')) throw new Error("content.xml : pas de <office:spreadsheet> où ajouter les filtres");
  content = content.replace('</office:spreadsheet>', `<table:database-ranges>${ranges}</table:database-ranges></office:spreadsheet>`);
  files['content.xml'] = strToU8(content);

  files['settings.xml'] = strToU8(odsSettings(tables.map((t) => t.name)));
  const manifest = strFromU8(files['META-INF/manifest.xml']!);
  if (!manifest.includes('settings.xml')) {
    files['META-INF/manifest.xml'] = strToU8(manifest.replace('</manifest:manifest>', ' <manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>\n</manifest:manifest>'));
  }

  // the mimetype first and stored, as ODF requires
  const ordered: Zippable = { mimetype: [files.mimetype ?? strToU8(SPREADSHEET_TYPES.ods), { level: 0 }] };
  for (const [name, data] of Object.entries(files)) if (name !== 'mimetype') ordered[name] = data;
  return Buffer.from(zipSync(ordered, { level: 6 }));
}

/** The view settings of an ODS file: in every sheet, the first row frozen. */
function odsSettings(sheetNames: readonly string[]): string {
  const item = (name: string, type: string, value: string | number) => `<config:config-item config:name="${name}" config:type="${type}">${value}</config:config-item>`;
  const sheets = sheetNames.map((name) => `<config:config-item-map-entry config:name="${escapeXml(name)}">${[
    item('HorizontalSplitMode', 'short', 0), item('VerticalSplitMode', 'short', 2),
    item('HorizontalSplitPosition', 'int', 0), item('VerticalSplitPosition', 'int', 1),
    item('ActiveSplitRange', 'short', 2), item('PositionLeft', 'int', 0), item('PositionRight', 'int', 0),
    item('PositionTop', 'int', 0), item('PositionBottom', 'int', 1),
  ].join('')}</config:config-item-map-entry>`).join('');
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.2">'
    + '<office:settings><config:config-item-set config:name="ooo:view-settings"><config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>'
    + `${item('ViewId', 'string', 'view1')}<config:config-item-map-named config:name="Tables">${sheets}</config:config-item-map-named>`
    + `${item('ActiveTable', 'string', escapeXml(sheetNames[0] ?? ''))}`
    + '</config:config-item-map-entry></config:config-item-map-indexed></config:config-item-set></office:settings></office:document-settings>';
}
