import { fontsOf, loadPdfkit, type PdfLook, printable } from './pdf';
import { fontData } from './pdf-fonts';

/** The homologation decision as the committee's dossier holds it: every field already in words (labels, dates). */
export interface DecisionSheet {
  organisation: string;
  planTitle: string;
  outcome: string;
  decidedOn: string;
  authority: string;
  duration: string;
  endsOn: string;
  conditions: string[];
  /** "27/11/2026 à 09:00". */
  generatedAt: string;
}

const GREY = '#666666';
const MARGIN = 60;
// @types/pdfkit lists the PDF/A subsets only; pdfkit 0.17+ implements 'PDF/UA' too
const PDF_UA = 'PDF/UA' as unknown as PDFKit.Mixins.PDFSubsets;

/** The decision on one A4 page (more if its conditions are long), tagged for screen readers, in the agenda's look. */
export async function renderDecisionPdf(d: DecisionSheet, look: PdfLook): Promise<Buffer> {
  const PDFDocument = await loadPdfkit();
  const doc = new PDFDocument({
    size: 'A4', margins: { top: MARGIN, bottom: MARGIN, left: MARGIN, right: MARGIN },
    pdfVersion: '1.7', tagged: true, subset: PDF_UA, displayTitle: true, lang: 'fr-FR',
    info: { Title: `Décision d'homologation — ${d.planTitle}`, Author: d.organisation, Subject: d.planTitle },
  });
  const fonts = fontsOf(look);
  doc.registerFont('regular', fontData(fonts.regular));
  doc.registerFont('bold', fontData(fonts.bold));
  const say = (t: string) => (look.dsfr ? t : printable(t));
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const root = doc.struct('Document');
  doc.addStructure(root);
  const p = (text: string, o: { size?: number; color?: string; font?: 'regular' | 'bold'; gap?: number } = {}) => {
    root.add(doc.struct('P', {}, () => {
      doc.font(o.font ?? 'regular').fontSize(o.size ?? 11).fillColor(o.color ?? 'black').text(say(text || '—'), MARGIN, doc.y, { width, paragraphGap: o.gap ?? 4 });
    }));
  };
  const heading = (tag: 'H1' | 'H2', text: string, size: number) => {
    root.add(doc.struct(tag, {}, () => {
      doc.font('bold').fontSize(size).fillColor(fonts.heading).text(say(text), MARGIN, doc.y, { width, paragraphGap: 8 });
    }));
  };
  const field = (name: string, value: string) => {
    root.add(doc.struct('P', {}, () => {
      doc.font('bold').fontSize(11).fillColor(fonts.heading).text(say(`${name} : `), MARGIN, doc.y, { width, continued: true, paragraphGap: 4 })
        .font('regular').fillColor('black').text(say(value || '—'));
    }));
  };

  p(`${d.organisation} — ${d.planTitle}`, { size: 12, color: GREY });
  doc.moveDown(1);
  heading('H1', "Décision d'homologation", 24);
  p(d.outcome, { size: 16, font: 'bold', gap: 10 });
  field('Date de la décision', d.decidedOn);
  field("Autorité d'homologation", d.authority);
  field('Durée de validité', d.duration);
  field('Fin de validité', d.endsOn);
  doc.moveDown(1);
  heading('H2', 'Conditions', 16);
  if (d.conditions.length === 0) p('Aucune condition.');
  else {
    const list = doc.struct('L');
    root.add(list);
    for (const c of d.conditions) {
      list.add(doc.struct('LI', {}, () => {
        doc.font('regular').fontSize(11).fillColor('black').text(say(`• ${c}`), MARGIN + 12, doc.y, { width: width - 12, paragraphGap: 3 });
      }));
    }
    list.end();
  }
  doc.moveDown(2);
  p(`Document établi le ${d.generatedAt} à partir du plan d'action de l'homologation.`, { size: 9, color: GREY });
  root.end();
  doc.end();
  return done;
}
