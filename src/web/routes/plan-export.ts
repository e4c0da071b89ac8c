import { format } from 'date-fns/format';
import { type Response, Router } from 'express';
import { once } from 'node:events';
import { strToU8, Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { renderDecisionPdf } from '../../agenda/decision-pdf';
import { renderAgendaPdf } from '../../agenda/pdf';
import { getMeeting, listMeetings, listSignatures, type MeetingSummary } from '../../data/meetings';
import { planSnapshot, templateReferences } from '../../data/plan-export';
import { planDocuments, versionBytes } from '../../data/evidence';
import { downloadName, FILE_KINDS, formatSize } from '../../domain/evidence';
import { OUTCOME_LABELS } from '../../domain/homologation';
import {
  CSV_TABLES, type CsvTable, csvRows, type ExportTable, exportTables, type PlanSnapshot, risksTable, slugOf, templateTables,
} from '../../domain/plan-export';
import { agendaOf } from '../../services/agenda';
import { SPREADSHEET_TYPES, type SpreadsheetFormat, writeWorkbook } from '../../spreadsheet/write';
import type { AppContext } from '../context';
import { toCsv } from '../csv';
import { forbidden } from '../errors';
import type { IdentityLocals } from '../identity';
import { scopeOf } from '../scope';

/** The workbook of tables, as the writer takes them. */
export function workbookOf(tables: readonly ExportTable[], fmt: SpreadsheetFormat): Promise<Buffer> {
  return writeWorkbook(tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => ({ header: c.header, kind: c.kind })), rows: t.rows })), fmt);
}

/** `attachment` with the name in ASCII (older clients) and in UTF-8 (RFC 6266 / 5987). */
export function attachment(name: string): string {
  const ascii = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function sendFile(res: Response, body: Buffer | string, type: string, name: string): void {
  // an export holds the plan as the user may see it: never kept by a shared cache
  res.set('Cache-Control', 'private, no-store').set('Content-Disposition', attachment(name)).type(type).send(body);
}

const CSV_TYPE = 'text/csv; charset=utf-8';
const dmy = (iso: string) => iso.slice(0, 10).split('-').reverse().join('/');

/**
 * The meeting the committee's dossier is for: the next one (the first not yet begun), else the latest. The list comes
 * newest first; times are local, as the meetings store them.
 */
export function dossierMeeting(meetings: readonly MeetingSummary[], nowLocal: string): MeetingSummary | null {
  const coming = meetings.filter((m) => m.startsAt >= nowLocal);
  return coming.length ? coming[coming.length - 1]! : meetings[0] ?? null;
}

/**
 * A homologation's exports (all reads, for whoever may read it, a commune agent getting what it may see): the whole
 * plan as a workbook (XLSX, ODS), each table as a CSV, the import template, and for the organisation's staff the
 * committee's dossier (a ZIP: the agenda of the next meeting, the workbook, the decision, the risks, a LISEZMOI).
 */
export function planExportRouter(ctx: AppContext): Router {
  const router = Router();

  const snapshotOf = (res: Response) => {
    const { hom, restriction } = scopeOf(res);
    return planSnapshot(ctx.db, hom, restriction);
  };
  const fileName = (res: Response, suffix: string) => `${slugOf(scopeOf(res).hom.title)}-${scopeOf(res).today}${suffix}`;

  for (const fmt of ['xlsx', 'ods'] as const) {
    router.get(`/export.${fmt}`, async (_req, res) => {
      const snapshot = await snapshotOf(res);
      sendFile(res, await workbookOf(exportTables(snapshot), fmt), SPREADSHEET_TYPES[fmt], fileName(res, `.${fmt}`));
    });

    router.get(`/import/modele.${fmt}`, async (_req, res) => {
      const { hom, restriction } = scopeOf(res);
      const refs = await templateReferences(ctx.db, hom.id, restriction);
      sendFile(res, await workbookOf(templateTables(refs), fmt), SPREADSHEET_TYPES[fmt], `modele-import-${slugOf(hom.title)}.${fmt}`);
    });
  }

  for (const table of Object.keys(CSV_TABLES) as CsvTable[]) {
    router.get(`/export/${table}.csv`, async (_req, res) => {
      const snapshot = await snapshotOf(res);
      sendFile(res, toCsv(csvRows(CSV_TABLES[table](snapshot))), CSV_TYPE, fileName(res, `-${table}.csv`));
    });
  }

  router.get('/dossier.zip', async (_req, res) => {
    const scope = scopeOf(res);
    // the committee's dossier is the organisation's: a commune agent reads its own part of the plan elsewhere
    if (scope.restriction !== null) throw forbidden();
    const { hom } = scope;
    const now = ctx.now();
    const look = res.locals.identity as IdentityLocals;
    const [snapshot, meetings, signatures] = await Promise.all([
      planSnapshot(ctx.db, hom, null), listMeetings(ctx.db, hom.id, null), listSignatures(ctx.db, hom.id),
    ]);
    const files: DossierFile[] = [];
    const contents: string[] = [];
    const chosen = dossierMeeting(meetings, format(now, "yyyy-MM-dd'T'HH:mm"));
    const meeting = chosen ? await getMeeting(ctx.db, chosen.id) : undefined;
    if (meeting) {
      const name = `ordre-du-jour-${meeting.startsAt.slice(0, 10)}.pdf`;
      files.push({ name, data: await renderAgendaPdf(await agendaOf(ctx.db, hom, meeting, now), look), level: 0 });
      contents.push(`- ${name} : l'ordre du jour de la séance « ${meeting.title} » du ${dmy(meeting.startsAt)}${meeting.heldAt ? ' (séance tenue : son ordre du jour figé)' : ''}.`);
    }
    const workbook = fileName(res, '.xlsx');
    files.push({ name: workbook, data: await workbookOf(exportTables(snapshot), 'xlsx'), level: 0 });
    contents.push(`- ${workbook} : le plan d'action en tableur (fiches, étapes, effets de bord, porteurs, risques, calendrier, comités, décisions).`);
    const decision = signatures[0];
    if (decision) {
      files.push({ name: 'decision.pdf', data: await renderDecisionPdf(decisionSheet(snapshot, decision, now), look), level: 0 });
      contents.push(`- decision.pdf : la décision d'homologation du ${dmy(decision.decidedOn)} (${OUTCOME_LABELS[decision.outcome]}).`);
    }
    files.push({ name: 'risques.csv', data: strToU8(toCsv(csvRows(risksTable(snapshot.risks, snapshot.scales)))), level: 6 });
    contents.push(`- risques.csv : le registre des risques (${snapshot.risks.length} risque${snapshot.risks.length > 1 ? 's' : ''}), séparateur point-virgule.`);
    // the evidence: the current version of each document (the dossier is the organisation's staff's, who see them all),
    // streamed from the database chunk by chunk; past DOSSIER_EVIDENCE_BYTES the rest is listed, not included
    const pieces: { name: string; versionId: number }[] = [];
    let total = 0;
    for (const doc of await planDocuments(ctx.db, hom.id)) {
      const kind = FILE_KINDS.find((k) => doc.current.contentType.split(';')[0] === k.contentType);
      const name = `pieces/${doc.id}-${downloadName(doc.current.fileName, kind)}`;
      const what = `« ${doc.title} », ${formatSize(doc.current.size)}, jointe le ${dmy(doc.current.uploadedAt)}, SHA-256 ${doc.current.sha256}`;
      if (total + doc.current.size > DOSSIER_EVIDENCE_BYTES) {
        contents.push(`- (non inclus : le dossier serait trop volumineux) ${what} : à télécharger depuis l'application.`);
        continue;
      }
      total += doc.current.size;
      pieces.push({ name, versionId: doc.current.id });
      contents.push(`- ${name} : ${what}.`);
    }
    files.push({ name: 'LISEZMOI.txt', data: strToU8(readme(snapshot, contents, { meeting: Boolean(meeting), decision: Boolean(decision), now })), level: 6 });
    res.set('Cache-Control', 'private, no-store').set('Content-Disposition', attachment(fileName(res, '-dossier-comite.zip'))).type('application/zip');
    await streamZip(res, files, pieces.map((p) => ({ name: p.name, chunks: () => versionBytes(ctx.db, p.versionId) })), now);
  });

  return router;
}

/** The evidence a committee dossier holds at most (a ZIP without ZIP64 stops at 4 GiB; a mail or a USB key well before). */
const DOSSIER_EVIDENCE_BYTES = 1024 * 1024 * 1024;

interface DossierFile { name: string; data: Uint8Array; level: 0 | 6 }

/**
 * Writes a ZIP as it is made: the small files whole, then each streamed file chunk by chunk, waiting for the client
 * to take what was written (backpressure), so the dossier never sits whole in memory.
 */
async function streamZip(res: Response, files: DossierFile[], streamed: { name: string; chunks: () => AsyncIterable<Buffer> }[], mtime: Date): Promise<void> {
  let failure: Error | null = null;
  const zip = new Zip((err, data, final) => {
    if (err) failure = err;
    else {
      res.write(data);
      if (final) res.end();
    }
  });
  const drained = async () => {
    if (failure) throw failure;
    if (res.writableNeedDrain) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    if (res.destroyed) throw new Error('Téléchargement interrompu');
  };
  try {
    for (const f of files) {
      const entry = f.level === 0 ? new ZipPassThrough(f.name) : new ZipDeflate(f.name, { level: f.level });
      entry.mtime = mtime;
      zip.add(entry);
      entry.push(f.data, true);
      await drained();
    }
    for (const s of streamed) {
      const entry = new ZipPassThrough(s.name);
      entry.mtime = mtime;
      zip.add(entry);
      for await (const chunk of s.chunks()) {
        entry.push(chunk);
        await drained();
      }
      entry.push(new Uint8Array(0), true);
    }
    zip.end();
  } catch (err) {
    // the headers are sent: a broken ZIP must not look complete
    res.destroy();
    if ((err as Error).message !== 'Téléchargement interrompu') throw err;
  }
}

function decisionSheet(s: PlanSnapshot, d: Awaited<ReturnType<typeof listSignatures>>[number], now: Date) {
  return {
    organisation: s.plan.organisation,
    planTitle: s.plan.title,
    outcome: OUTCOME_LABELS[d.outcome],
    decidedOn: dmy(d.decidedOn),
    authority: d.authority,
    duration: d.durationMonths === null ? '—' : `${d.durationMonths} mois`,
    endsOn: d.endsOn ? dmy(d.endsOn) : '—',
    conditions: d.conditions.split('\n').map((l) => l.replace(/^\s*-\s*/, '').trim()).filter(Boolean),
    generatedAt: format(now, "dd/MM/yyyy 'à' HH:mm"),
  };
}

function readme(s: PlanSnapshot, contents: string[], o: { meeting: boolean; decision: boolean; now: Date }): string {
  const lines = [
    `Dossier du comité — ${s.plan.title}`,
    s.plan.organisation,
    '',
    `Constitué le ${format(o.now, "dd/MM/yyyy 'à' HH:mm")} à partir du plan d'action de l'homologation.`,
    '',
    'Ce dossier contient :',
    ...contents,
    '- LISEZMOI.txt : ce fichier.',
    '',
    ...(o.meeting ? [] : ["Aucune séance n'est prévue ni tenue pour cette homologation : le dossier ne contient pas d'ordre du jour.", '']),
    ...(o.decision ? [] : ["Aucune décision d'homologation n'est encore enregistrée : le dossier ne contient pas de décision.", '']),
    'Le tableur se réimporte tel quel dans l\'application (feuilles Fiches, Étapes, Effets de bord, Porteurs, Risques) ;',
    'les feuilles Calendrier, Comités et Décisions sont là pour la lecture.',
  ];
  return `\ufeff${lines.join('\r\n')}\r\n`;
}
