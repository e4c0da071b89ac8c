import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PDFDocument from 'pdfkit';
import { type Agenda, type AgendaSection, environmentCounts } from '../domain/agenda';

const fonts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/@gouvfr/dsfr/dist/fonts');
const BLUE = '#000091';
const GREY = '#666666';

/**
 * The agenda as a PDF, in pure JavaScript (pdfkit): A4 landscape, one section a page like the deck,
 * DSFR's Marianne font, page numbers and the meeting's date in every footer.
 */
export function renderAgendaPdf(agenda: Agenda): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4', layout: 'landscape', margins: { top: 50, bottom: 60, left: 60, right: 60 }, bufferPages: true, lang: 'fr-FR',
    info: { Title: `${agenda.meetingTitle} — ordre du jour`, Author: agenda.organisation, Subject: agenda.planTitle },
  });
  doc.registerFont('regular', path.join(fonts, 'Marianne-Regular.woff'));
  doc.registerFont('bold', path.join(fonts, 'Marianne-Bold.woff'));
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  // cover
  doc.font('regular').fontSize(12).fillColor(GREY).text(`${agenda.organisation} — ${agenda.planTitle}`);
  doc.moveDown(2).font('bold').fontSize(30).fillColor(BLUE).text(agenda.meetingTitle);
  doc.moveDown(0.5).font('regular').fontSize(16).fillColor('black').text(agenda.when);
  if (agenda.place) doc.moveDown(0.3).text(agenda.place);
  if (agenda.previousMeeting) doc.moveDown(1).fontSize(11).fillColor(GREY).text(`Séance précédente : ${agenda.previousMeeting}`);

  for (const section of agenda.sections) {
    doc.addPage();
    title(doc, section.key === 'fiche' ? `${section.title} : ${section.fiche.title}` : section.title);
    body(doc, section, agenda.previousMeeting !== null);
  }

  // footers, once every page exists
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.font('regular').fontSize(9).fillColor(GREY);
    const y = doc.page.height - 35;
    doc.text(`Séance du ${agenda.dateShort} — ${agenda.meetingTitle}`, 60, y, { width: doc.page.width - 240, lineBreak: false });
    doc.text(`Page ${i - range.start + 1} / ${range.count}`, doc.page.width - 180, y, { width: 120, align: 'right', lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}

function title(doc: PDFKit.PDFDocument, text: string) {
  doc.font('bold').fontSize(22).fillColor(BLUE).text(text, { paragraphGap: 12 });
  doc.fillColor('black');
}

function label(doc: PDFKit.PDFDocument, text: string) {
  doc.moveDown(0.4).font('bold').fontSize(12).fillColor(BLUE).text(text).fillColor('black');
}

function para(doc: PDFKit.PDFDocument, text: string, size = 12) {
  doc.font('regular').fontSize(size).text(text || '—', { paragraphGap: 4 });
}

function list(doc: PDFKit.PDFDocument, items: string[], numbered = false) {
  doc.font('regular').fontSize(12);
  items.forEach((item, i) => doc.text(`${numbered ? `${i + 1}.` : '•'} ${item}`, { indent: 10, paragraphGap: 3 }));
}

function body(doc: PDFKit.PDFDocument, s: AgendaSection, withChanges: boolean) {
  switch (s.key) {
    case 'ordre_du_jour':
      return list(doc, s.items, true);
    case 'objectif':
      return para(doc, s.text, 16);
    case 'questions':
      return para(doc, s.text || 'Nous sommes à votre écoute.', 16);
    case 'perimetre':
      para(doc, "L'homologation concerne les services suivants :");
      list(doc, s.lines.map((l) => `${l.service}, géré par ${l.teams} : ${environmentCounts(l).map((e) => `${e.count} en ${e.label.toLocaleLowerCase('fr')}`).join(', ')}`));
      if (s.communes.length) {
        label(doc, 'Communes partenaires');
        para(doc, s.communes.join(', '));
      }
      if (s.reminder) {
        label(doc, 'Rappel');
        para(doc, s.reminder);
      }
      return;
    case 'calendrier':
      label(doc, "Le travail s'est déroulé ainsi");
      list(doc, s.done);
      label(doc, 'Reste à faire');
      list(doc, s.toDo);
      return;
    case 'plan':
      para(doc, `Le plan d'action comprend ${s.fiches.length} fiche${s.fiches.length > 1 ? 's' : ''} :`);
      list(doc, s.fiches.map((f) => `${f.number}. ${f.title} (${f.status})`));
      return;
    case 'conditions': {
      const late = s.items.filter((c) => c.late).length;
      para(doc, `Décision : ${s.decision}. ${s.items.length} condition${s.items.length > 1 ? 's suivies' : ' suivie'} comme fiches actions${late ? `, dont ${late} en retard` : ''} :`);
      list(doc, s.items.map((c) => `Fiche n°${c.number} : ${c.text} — ${c.status}, date cible ${c.targetDate}${c.late ? ' — en retard' : ''} (${c.owner})`));
      return;
    }
    case 'fiche': {
      const f = s.fiche;
      label(doc, 'Constat réalisé');
      para(doc, f.finding);
      label(doc, 'Actions');
      if (f.steps.length) list(doc, f.steps.map((st) => `${st.position} – ${st.label} (${st.status})`));
      else para(doc, '—');
      label(doc, 'Date cible');
      para(doc, `${f.targetDate}${f.late ? ' — en retard' : ''}`);
      label(doc, 'Avancement');
      para(doc, f.progress);
      if (f.conclusion || f.conclusionCounts.length) {
        label(doc, "Conclusion de l'étude");
        if (f.conclusion) para(doc, f.conclusion);
        list(doc, f.conclusionCounts);
      }
      if (f.cost) {
        label(doc, 'Chiffrage');
        para(doc, f.cost);
      }
      label(doc, 'Responsable');
      para(doc, f.owner);
      label(doc, 'Périmètre');
      para(doc, f.scope);
      label(doc, 'Effets de bord pressentis');
      if (f.sideEffects.length === 0) para(doc, 'Aucun');
      for (const e of f.sideEffects) para(doc, `${e.levelLabel} : ${e.description}`);
      if (withChanges) {
        label(doc, 'Depuis la dernière séance');
        if (f.changes.length === 0) para(doc, 'Aucun changement.');
        else list(doc, f.changes);
      }
      return;
    }
  }
}
