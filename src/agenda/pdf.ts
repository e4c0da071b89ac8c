import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type PDFKitDocument from 'pdfkit';
import { type Agenda, type AgendaSection, environmentCounts, evidenceLine, stepLine } from '../domain/agenda';
import type { RiskRow } from '../domain/risk-committee';
import { fontData } from './pdf-fonts';

const modules = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules');

/**
 * How the document looks: the State's (Marianne, its blue) for a State service only; otherwise the neutral identity's
 * font (Atkinson Hyperlegible) and the organisation's accent. Fonts as WOFF (not WOFF2), unwrapped once per process
 * (pdf-fonts.ts) and embedded, as PDF/UA requires (the standard 14 are not).
 */
export interface PdfLook { dsfr: boolean; accent: string }

/**
 * Characters the neutral font (its latin subset) has no glyph for, and what stands in for them: without this they
 * would print as empty boxes, and vanish from the text a screen reader gets.
 */
const NEUTRAL_STAND_INS: Record<string, string> = { '\u2192': '>', '\u2265': '>=', '\u2264': '<=', '\u202f': '\u00a0', '\u2713': '(oui)', '\u26a0': '(!)' };
const MISSING = new RegExp(`[${Object.keys(NEUTRAL_STAND_INS).join('')}]`, 'gu');

/** Text as the neutral font can print it. */
export function printable(text: string): string {
  return text.replace(MISSING, (c) => NEUTRAL_STAND_INS[c] ?? c);
}

/** The fonts of the app's PDFs (agenda, decision): Marianne for a State service, Atkinson Hyperlegible otherwise, embedded. */
export function fontsOf(look: PdfLook): { regular: string; bold: string; heading: string } {
  if (look.dsfr) {
    const dir = path.join(modules, '@gouvfr/dsfr/dist/fonts');
    return { regular: path.join(dir, 'Marianne-Regular.woff'), bold: path.join(dir, 'Marianne-Bold.woff'), heading: '#000091' };
  }
  const dir = path.join(modules, '@fontsource/atkinson-hyperlegible/files');
  return {
    regular: path.join(dir, 'atkinson-hyperlegible-latin-400-normal.woff'), bold: path.join(dir, 'atkinson-hyperlegible-latin-700-normal.woff'),
    heading: look.accent,
  };
}
const GREY = '#666666';
const MARGIN = { top: 50, bottom: 60, left: 60, right: 60 };
const BODY = 11;
/** A block at most this tall moves whole to the next page rather than leave a line or two behind. */
const KEEP_TOGETHER = 140;

type Doc = PDFKit.PDFDocument;
// @types/pdfkit lists the PDF/A subsets only; pdfkit 0.17+ implements 'PDF/UA' too
const PDF_UA = 'PDF/UA' as unknown as PDFKit.Mixins.PDFSubsets;
type Struct = PDFKit.PDFStructureElement;

let loading: Promise<typeof PDFKitDocument> | null = null;

/**
 * pdfkit (and fontkit under it), loaded with the first PDF asked for or the first page offering one, never at the
 * server's start: it is a large module, and most processes never make a PDF.
 */
export function loadPdfkit(): Promise<typeof PDFKitDocument> {
  loading ??= import('pdfkit').then((m) => m.default, (err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

/**
 * Loads pdfkit and reads the look's fonts in the background, when a page offering the PDF is shown: the PDF asked
 * for next need not wait for them. A failure is met again, and reported, by the PDF itself.
 */
export function preparePdf(look: PdfLook): void {
  loadPdfkit().then(() => {
    const fonts = fontsOf(look);
    fontData(fonts.regular);
    fontData(fonts.bold);
  }).catch(() => undefined);
}

/**
 * The agenda as a PDF, in pure JavaScript (pdfkit), laid out as a committee deck is read: A4 landscape, a cover
 * with the table of contents, the opening sections flowing on, each fiche from the top of a page, headings kept with
 * what follows, page numbers and the meeting's date in every footer. Tagged (PDF/UA) for screen readers.
 */
export async function renderAgendaPdf(agenda: Agenda, look: PdfLook): Promise<Buffer> {
  return layout(await loadPdfkit(), agenda, look);
}

function layout(PDFDocument: typeof PDFKitDocument, agenda: Agenda, look: PdfLook): Promise<Buffer> {
  const fonts = fontsOf(look);
  const doc = new PDFDocument({
    // no default font: pdfkit's (Helvetica, never used here) parsed its metrics file for each document
    font: null as unknown as string,
    size: 'A4', layout: 'landscape', margins: MARGIN, bufferPages: true,
    pdfVersion: '1.7', tagged: true, subset: PDF_UA, displayTitle: true, lang: 'fr-FR',
    info: { Title: `${agenda.meetingTitle} — ordre du jour`, Author: agenda.organisation, Subject: agenda.planTitle },
  });
  // the fonts' bytes, read and unwrapped once per process (pdf-fonts.ts)
  doc.registerFont('regular', fontData(fonts.regular));
  doc.registerFont('bold', fontData(fonts.bold));
  if (!look.dsfr) {
    // every string goes through text() or is measured by heightOfString(): both see what the neutral font can print
    const text = doc.text.bind(doc);
    const heightOfString = doc.heightOfString.bind(doc);
    doc.text = ((t: string, ...rest: unknown[]) => (text as (...a: unknown[]) => Doc)(typeof t === 'string' ? printable(t) : t, ...rest)) as Doc['text'];
    doc.heightOfString = ((t: string, options?: PDFKit.Mixins.TextOptions) => heightOfString(printable(t), options)) as Doc['heightOfString'];
  }
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const root = doc.struct('Document');
  doc.addStructure(root);
  const w = new Writer(doc, fonts.heading);
  const pages: number[] = [];

  // cover
  w.p(root, `${agenda.organisation} — ${agenda.planTitle}`, { size: 12, color: GREY });
  doc.moveDown(1);
  w.heading(root, 'H1', agenda.meetingTitle, 28, 0);
  w.p(root, agenda.when, { size: 16 });
  if (agenda.place) w.p(root, agenda.place, { size: 14 });
  if (agenda.previousMeeting) w.p(root, `Séance précédente : ${agenda.previousMeeting}`, { size: 11, color: GREY });
  doc.moveDown(1);

  // table of contents
  const entries = agenda.sections.map((s) => (s.key === 'fiche' ? `Fiche action n°${s.fiche.number} : ${s.fiche.title}` : s.title));
  const heights = entries.map((entry) => w.tocEntryHeight(entry));
  // the contents stay with the cover when they fit below it, else start their own page
  const tocHeight = heights.reduce((sum, h) => sum + h, 0);
  w.heading(root, 'H2', 'Sommaire', 18, tocHeight <= w.pageRoom() - 40 ? tocHeight : (heights[0] ?? 0), true);
  const toc = doc.struct('TOC');
  root.add(toc);
  // One layout, not two: an entry's height does not depend on its page number, so the pages the contents take are
  // known before the sections are laid out. They are left blank, and the entries written on them (in the order they
  // are read) once the sections have given their pages.
  const tocPage = w.pageNumber() - 1;
  const tocPlaces = w.flow(heights);
  for (let i = 1; i < tocPlaces.pageCount; i++) doc.addPage();

  let previous: AgendaSection['key'] | null = null;
  for (const section of agenda.sections) {
    // the opening sections follow one another; a fiche, and what follows the fiches, starts a page
    if (previous === null || section.key === 'fiche' || previous === 'fiche') doc.addPage();
    else doc.moveDown(1.5);
    previous = section.key;
    const sect = doc.struct('Sect');
    root.add(sect);
    const heading = section.key === 'fiche' ? `${section.title} : ${section.fiche.title}` : section.title;
    w.heading(sect, 'H2', heading, section.key === 'fiche' ? 18 : 20, () => w.firstBlockHeight(section));
    pages.push(w.pageNumber());
    body(w, sect, section, agenda.previousMeeting !== null, agenda.signature === true);
    sect.end();
  }

  // the contents, on the pages kept for them
  entries.forEach((entry, i) => {
    const place = tocPlaces.places[i]!;
    doc.switchToPage(tocPage + place.page);
    w.tocEntry(toc, entry, String(pages[i]), place.y);
  });
  toc.end();
  root.end();

  // footers, once every page exists; artifacts, not content, for screen readers
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    doc.page.margins.bottom = 0;
    const y = doc.page.height - 35;
    doc.markContent('Artifact', { type: 'Pagination' });
    doc.font('regular').fontSize(9).fillColor(GREY);
    doc.text(`Séance du ${agenda.dateShort} — ${agenda.meetingTitle}`, MARGIN.left, y, { width: doc.page.width - 240, lineBreak: false });
    doc.text(`Page ${i - range.start + 1} / ${range.count}`, doc.page.width - 180, y, { width: 120, align: 'right', lineBreak: false });
    doc.endMarkedContent();
    doc.page.margins.bottom = MARGIN.bottom;
  }
  doc.end();
  return done;
}

interface TextStyle { size?: number; color?: string; font?: 'regular' | 'bold'; gap?: number }

/** Writes tagged blocks and decides where pages break: a heading never ends a page, a short block never splits. */
class Writer {
  constructor(readonly doc: Doc, readonly headingColour: string) {}

  get width() { return this.doc.page.width - MARGIN.left - MARGIN.right; }

  pageNumber() {
    const range = this.doc.bufferedPageRange();
    return range.start + range.count;
  }

  /** The height of a page's text area. */
  pageRoom() { return this.doc.page.height - MARGIN.top - MARGIN.bottom; }

  room() { return this.doc.page.height - MARGIN.bottom - this.doc.y; }

  /** A new page unless `height` fits below; `height` over a page flows from here. */
  keep(height: number) {
    if (height > this.room() && this.doc.y > MARGIN.top + 1) this.doc.addPage();
  }

  /**
   * Whether keep() leaves anything at most `bound` high where it is (it fits below, or the page is still empty).
   * Then what is placed need not be measured: measuring every block to place it doubled the work of laying out
   * the text, when only the blocks near the foot of a page can move.
   */
  fits(bound: number) {
    return bound <= this.room() || this.doc.y <= MARGIN.top + 1;
  }

  /** Heights already measured: a block is measured to place it (keep()), then often again by what precedes it. */
  private readonly measured = new Map<string, number>();

  measure(text: string, { size = BODY, font = 'regular', gap = 4 }: TextStyle = {}, indent = 0) {
    // the font set as a measure leaves it: what follows (moveDown) reads its line height
    this.doc.font(font).fontSize(size);
    const key = `${font} ${size} ${indent} ${text || '—'}`;
    let height = this.measured.get(key);
    if (height === undefined) {
      height = this.doc.heightOfString(text || '—', { width: this.width - indent });
      this.measured.set(key, height);
    }
    return height + gap;
  }

  /** The height the heading must be followed by on its page: the whole block when short, else its first lines. */
  static keptWith(height: number) {
    return height <= KEEP_TOGETHER ? height : 3 * BODY * 1.3;
  }

  /**
   * `next`: the height of what follows, kept with the heading whole when short, else its first lines; given as a
   * function, measured only when the heading is near the foot of the page.
   */
  heading(parent: Struct, tag: string, text: string, size: number, next: number | (() => number), whole = false) {
    const gap = tag === 'H1' ? 10 : 8;
    const own = this.measure(text, { font: 'bold', size, gap });
    if (whole || typeof next === 'number' || !this.fits(own + KEEP_TOGETHER)) {
      const following = typeof next === 'number' ? next : next();
      this.keep(own + (whole ? following : Writer.keptWith(following)));
    }
    parent.add(this.doc.struct(tag, {}, () => {
      this.doc.font('bold').fontSize(size).fillColor(this.headingColour).text(text, MARGIN.left, this.doc.y, { width: this.width, paragraphGap: gap });
    }));
    this.doc.fillColor('black');
  }

  /** A bold label (H3) and what it introduces, kept together. */
  label(parent: Struct, text: string, next: number | (() => number)) {
    // the space above it is read in the font the measure of what follows leaves (body text), measured or not
    if (typeof next === 'function') this.doc.font('regular').fontSize(BODY);
    this.doc.moveDown(0.3);
    this.heading(parent, 'H3', text, 12, next);
  }

  p(parent: Struct, text: string, style: TextStyle = {}) {
    const { size = BODY, color = 'black', font = 'regular', gap = 4 } = style;
    // a short paragraph moves whole; a long one flows, but not from the very foot of a page (only there measured)
    if (!this.fits(Math.max(KEEP_TOGETHER, 2 * size * 1.3))) {
      const height = this.measure(text, style);
      this.keep(height <= KEEP_TOGETHER ? height : 2 * size * 1.3);
    }
    parent.add(this.doc.struct('P', {}, () => {
      this.doc.font(font).fontSize(size).fillColor(color).text(text || '—', MARGIN.left, this.doc.y, { width: this.width, paragraphGap: gap });
    }));
    this.doc.fillColor('black');
  }

  /** "Label : value" on one paragraph, the label in bold. */
  field(parent: Struct, name: string, value: string) {
    const text = `${name} : ${value || '—'}`;
    if (!this.fits(KEEP_TOGETHER)) this.keep(Writer.keptWith(this.measure(text)));
    parent.add(this.doc.struct('P', {}, () => {
      this.doc.font('bold').fontSize(BODY).fillColor(this.headingColour).text(`${name} : `, MARGIN.left, this.doc.y, { width: this.width, continued: true, paragraphGap: 4 })
        .font('regular').fillColor('black').text(value || '—');
    }));
  }

  listHeight(items: string[]) {
    return items.reduce((sum, item) => sum + this.measure(`• ${item}`, { gap: 3 }, 12), 0);
  }

  list(parent: Struct, items: string[], numbered = false) {
    const l = this.doc.struct('L');
    parent.add(l);
    const textOf = (i: number) => `${numbered ? `${i + 1}.` : '•'} ${items[i]}`;
    items.forEach((_item, i) => {
      const text = textOf(i);
      // the last item never starts a page alone: the one before goes with it
      const withLast = i === items.length - 2;
      if (!this.fits(withLast ? 2 * KEEP_TOGETHER : KEEP_TOGETHER)) {
        const height = Writer.keptWith(this.measure(text, { gap: 3 }, 12));
        const last = withLast ? Writer.keptWith(this.measure(textOf(i + 1), { gap: 3 }, 12)) : 0;
        this.keep(height + last);
      }
      const li = this.doc.struct('LI');
      l.add(li);
      li.add(this.doc.struct('LBody', {}, () => {
        this.doc.font('regular').fontSize(BODY).fillColor('black').text(text, MARGIN.left + 12, this.doc.y, { width: this.width - 12, paragraphGap: 3 });
      }));
      li.end();
    });
    l.end();
  }

  /**
   * The risk table, tagged as PDF/UA wants (Table, TR, TH with its scope, TD; the rules are artifacts): a header row,
   * then one row a risk, its title the row's header. Laid out here rather than by pdfkit's table, which measures each
   * cell four times and doubled the agenda's rendering time. A row never splits; the header stays with the first rows.
   */
  riskTable(parent: Struct, risks: RiskRow[]) {
    const doc = this.doc;
    const fixed = [30, 82, 82, 300];
    const widths = [fixed[0]!, this.width - fixed.reduce((a, b) => a + b, 0), fixed[1]!, fixed[2]!, fixed[3]!];
    const xs = widths.map((_, i) => MARGIN.left + widths.slice(0, i).reduce((a, b) => a + b, 0));
    const pad = 4;
    type Cell = { text: string; scope?: 'Column' | 'Row'; bold?: boolean };
    const heightOf = (cells: Cell[]) => Math.max(...cells.map((c, i) => {
      doc.font(c.bold ? 'bold' : 'regular').fontSize(RISK_FONT);
      return doc.heightOfString(c.text, { width: widths[i]! - 2 * pad });
    })) + 2 * pad;
    const header: Cell[] = ['N°', 'Risque', 'Criticité initiale', 'Criticité résiduelle', 'Fiches de traitement'].map((text) => ({ text, scope: 'Column', bold: true }));
    const rows: Cell[][] = risks.map((r) => [
      { text: String(r.number) },
      { text: `${r.title}${r.waiting ? '\n(!) Critique, attend une fiche en retard' : ''}`, scope: 'Row', bold: r.waiting },
      { text: r.initial },
      { text: r.residual ?? 'Non évaluée' },
      { text: r.fiches.length ? r.fiches.map((f) => `n°${f.number} ${f.title} : ${f.status}${f.late ? ', en retard' : ''}`).join('\n') : 'Aucune' },
    ]);
    const table = doc.struct('Table');
    parent.add(table);
    const write = (cells: Cell[], height: number) => {
      const y = doc.y;
      const tr = doc.struct('TR');
      table.add(tr);
      cells.forEach((c, i) => {
        const cell = doc.struct(c.scope ? 'TH' : 'TD', {}, () => {
          doc.font(c.bold ? 'bold' : 'regular').fontSize(RISK_FONT).fillColor('black').text(c.text, xs[i]! + pad, y + pad, { width: widths[i]! - 2 * pad });
        });
        if (c.scope) {
          const attributes = doc.ref({ O: 'Table', Scope: c.scope });
          (cell as unknown as { dictionary: { data: Record<string, unknown> } }).dictionary.data.A = attributes;
          attributes.end(undefined);
        }
        tr.add(cell);
      });
      tr.end();
      doc.markContent('Artifact', { type: 'Layout' });
      doc.save().lineWidth(0.5).strokeColor(GREY);
      cells.forEach((_, i) => doc.rect(xs[i]!, y, widths[i]!, height).stroke());
      doc.restore();
      doc.endMarkedContent();
      doc.x = MARGIN.left;
      doc.y = y + height;
    };
    const headerHeight = heightOf(header);
    const heights = rows.map(heightOf);
    this.keep(headerHeight + heights.slice(0, 2).reduce((a, b) => a + b, 0));
    write(header, headerHeight);
    rows.forEach((cells, i) => {
      this.keep(heights[i]!);
      write(cells, heights[i]!);
    });
    table.end();
    doc.moveDown(0.5);
  }

  tocEntryHeight(entry: string) {
    return this.measure(entry, { gap: 4 }, 70);
  }

  /**
   * Where blocks of these heights fall, flowing from the current position as keep() moves them (a block that does
   * not fit below starts the next page): each one's page (0 for the current one) and its top.
   */
  flow(heights: number[]): { places: { page: number; y: number }[]; pageCount: number } {
    const bottom = this.doc.page.height - MARGIN.bottom;
    let page = 0;
    let y = this.doc.y;
    const places = heights.map((h) => {
      if (h > bottom - y && y > MARGIN.top + 1) { page += 1; y = MARGIN.top; }
      const place = { page, y };
      y += h;
      return place;
    });
    return { places, pageCount: page + 1 };
  }

  /** An entry of the contents at `y` on the current page, its page number on the right. */
  tocEntry(toc: Struct, entry: string, page: string, y: number) {
    this.doc.x = MARGIN.left;
    this.doc.y = y;
    toc.add(this.doc.struct('TOCI', {}, () => {
      this.doc.font('regular').fontSize(BODY).fillColor('black');
      this.doc.text(entry, MARGIN.left, y, { width: this.width - 70 });
      const after = this.doc.y;
      this.doc.text(page, MARGIN.left + this.width - 50, y, { width: 50, align: 'right', lineBreak: false });
      this.doc.x = MARGIN.left;
      this.doc.y = after + 4;
    }));
  }

  /** What the section's heading must be kept with. */
  firstBlockHeight(s: AgendaSection): number {
    switch (s.key) {
      case 'ordre_du_jour': return this.listHeight(s.items.slice(0, 3));
      case 'objectif': return this.measure(s.text, { size: 14 });
      case 'questions': return this.measure(s.text || 'Nous sommes à votre écoute.', { size: 14 });
      case 'fiche': return this.measure('Constat réalisé', { font: 'bold', size: 12 }) + this.measure(s.fiche.finding);
      case 'risques': return s.risks.length ? this.measure(riskIntro(s)) + 2 * RISK_ROW : 3 * BODY * 1.3;
      default: return 3 * BODY * 1.3;
    }
  }
}

const RISK_FONT = 10;
/** About the height of one row of the risk table (a title on one or two lines). */
const RISK_ROW = 2 * RISK_FONT * 1.3 + 8;

function riskIntro(s: Extract<AgendaSection, { key: 'risques' }>): string {
  const waiting = s.risks.filter((r) => r.waiting).length;
  return `${s.risks.length} risque${s.risks.length > 1 ? 's' : ''}, classés par criticité. Sont critiques les risques de criticité ${s.critical} : `
    + (waiting ? `${waiting} risque${waiting > 1 ? 's critiques attendent' : ' critique attend'} une fiche en retard (en tête du tableau, signalés « (!) »).` : "aucun n'attend une fiche en retard.");
}

function body(w: Writer, sect: Struct, s: AgendaSection, withChanges: boolean, signature: boolean) {
  switch (s.key) {
    case 'ordre_du_jour':
      return w.list(sect, s.items, true);
    case 'objectif':
      return w.p(sect, s.text, { size: 14 });
    case 'questions':
      return w.p(sect, s.text || 'Nous sommes à votre écoute.', { size: 14 });
    case 'perimetre': {
      w.p(sect, "L'homologation concerne les services suivants :");
      w.list(sect, s.lines.map((l) => `${l.service}, géré par ${l.teams} : ${environmentCounts(l).map((e) => `${e.count} en ${e.label.toLocaleLowerCase('fr')}`).join(', ')}`));
      if (s.communes.length) w.field(sect, 'Communes partenaires', s.communes.join(', '));
      if (s.reminder) {
        w.label(sect, 'Rappel', () => w.measure(s.reminder));
        w.p(sect, s.reminder);
      }
      return;
    }
    case 'calendrier':
      // measured first, as they were: an empty list leaves the heading's font for the space above the label
      w.label(sect, "Le travail s'est déroulé ainsi", w.listHeight(s.done));
      w.list(sect, s.done);
      w.label(sect, 'Reste à faire', w.listHeight(s.toDo));
      w.list(sect, s.toDo);
      return;
    case 'plan':
      w.p(sect, `Le plan d'action comprend ${s.fiches.length} fiche${s.fiches.length > 1 ? 's' : ''} :`);
      w.list(sect, s.fiches.map((f) => `${f.number}. ${f.title} (${f.status})`));
      return;
    case 'conditions': {
      const late = s.items.filter((c) => c.late).length;
      w.p(sect, `Décision : ${s.decision}. ${s.items.length} condition${s.items.length > 1 ? 's suivies' : ' suivie'} comme fiches actions${late ? `, dont ${late} en retard` : ''} :`);
      w.list(sect, s.items.map((c) => `Fiche n°${c.number} : ${c.text} — ${c.status}, date cible ${c.targetDate}${c.late ? ' — en retard' : ''} (${c.owner})`));
      return;
    }
    case 'risques': {
      if (s.risks.length) {
        w.p(sect, riskIntro(s));
        w.riskTable(sect, s.risks);
      }
      if (withChanges && s.changes.length) {
        const changes = s.changes.map((c) => `Risque n°${c.number} : ${c.title} — ${c.changes.join(' ')}`);
        w.label(sect, 'Risques : depuis la dernière séance', () => w.listHeight(changes));
        w.list(sect, changes);
      }
      return;
    }
    case 'fiche': {
      const f = s.fiche;
      w.label(sect, 'Constat réalisé', () => w.measure(f.finding));
      w.p(sect, f.finding);
      const steps = f.steps.map((st) => `${st.position} – ${stepLine(st)}`);
      w.label(sect, 'Actions', () => (steps.length ? w.listHeight(steps) : w.measure('—')));
      if (steps.length) w.list(sect, steps);
      else w.p(sect, '—');
      w.field(sect, 'Date cible', `${f.targetDate}${f.late ? ' — en retard' : ''}`);
      w.field(sect, 'Avancement', f.progress);
      if (f.rollout) w.field(sect, 'Déploiement par instance', f.rollout);
      if (evidenceLine(f)) w.field(sect, 'Pièces justificatives', evidenceLine(f)!);
      if (f.conclusion || f.conclusionCounts.length) {
        w.label(sect, "Conclusion de l'étude", () => (f.conclusion ? w.measure(f.conclusion) : 0) + w.listHeight(f.conclusionCounts));
        if (f.conclusion) w.p(sect, f.conclusion);
        w.list(sect, f.conclusionCounts);
      }
      if (f.cost) w.field(sect, 'Chiffrage', f.cost);
      w.field(sect, 'Responsable', f.owner);
      w.field(sect, 'Périmètre', f.scope);
      if (f.sideEffects.length === 0) w.field(sect, 'Effets de bord pressentis', 'aucun');
      else {
        const effects = f.sideEffects.map((e) => `${e.levelLabel} : ${e.description}`);
        w.label(sect, 'Effets de bord pressentis', () => w.listHeight(effects));
        w.list(sect, effects);
      }
      if (f.communeAnswers && (f.communeAnswersTotal ?? f.communeAnswers.length) > 0) {
        const unlisted = (f.communeAnswersTotal ?? f.communeAnswers.length) - f.communeAnswers.length;
        // at a signature meeting, the answers are what the authority must read before deciding: said first, in bold
        const summary = signature
          ? `Séance de signature : chaque commune concernée prend acte de ces effets de bord forts ou fait objection avant la décision. ${f.communeAnswersSummary ?? ''}.`
          : `${f.communeAnswersSummary ?? ''}.`;
        const answers = [
          ...f.communeAnswers.map((a) => `${a.commune} : ${a.text}`),
          ...(unlisted > 0 ? [`${unlisted} autre${unlisted > 1 ? 's' : ''} commune${unlisted > 1 ? 's' : ''} concernée${unlisted > 1 ? 's' : ''} sans réponse (liste sur la page de la fiche)`] : []),
        ];
        w.label(sect, 'Prise en compte des effets de bord forts par les communes', () => w.measure(summary, { font: signature ? 'bold' : 'regular' }) + w.listHeight(answers.slice(0, 3)));
        w.p(sect, summary, { font: signature ? 'bold' : 'regular' });
        w.list(sect, answers);
      }
      if (withChanges) {
        const since = [...f.changes, ...(f.communeNotes ?? []).map((n) => n.text)];
        if (since.length === 0) w.field(sect, 'Depuis la dernière séance', 'aucun changement.');
        else {
          w.label(sect, 'Depuis la dernière séance', () => w.listHeight(since));
          w.list(sect, since);
        }
      }
      return;
    }
  }
}
