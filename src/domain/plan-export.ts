/**
 * A homologation as spreadsheet tables: the five sheets the import reads back (Fiches, Étapes, Effets de bord,
 * Porteurs, Risques: headers and cell forms from plan-sheets.ts), then the sheets written for the reader only
 * (Calendrier, Comités, Décisions). Also the import template: the five sheets with one example row each, and a
 * « Mode d'emploi » sheet saying what each column holds. Pure functions: the snapshot is read in src/data.
 */
import type { ConclusionCount, Owner } from './fiche';
import { OUTCOME_LABELS, type Outcome } from './homologation';
import {
  booleanCell, type ColumnSpec, conclusionCountCell, FICHE_COLUMNS, ficheNumbersCell, instanceCell, OWNER_COLUMNS, PLAN_SHEETS, type PlanSheetKind,
  RISK_COLUMNS, SIDE_EFFECT_COLUMNS, sheetSpec, STEP_COLUMNS, WHOLE_PERIMETER,
} from './plan-sheets';
import { classLabel, type RiskScales, type Treatment, TREATMENT_LABELS } from './risks';
import { SIDE_EFFECT_LABELS, type SideEffectLevel, type Status, STATUS_LABELS } from './statuses';

// ---------------------------------------------------------------- the snapshot

export interface ExportInstance { serviceName: string; name: string }

export interface ExportFiche {
  number: number;
  title: string;
  finding: string;
  targetDate: string | null;
  status: Status;
  conclusion: string;
  conclusionCounts: ConclusionCount[];
  costAmount: number | null;
  costSource: string;
  scopeAll: boolean;
  /** The instances of its scope the reader may see (a commune agent: its commune's). */
  scope: ExportInstance[];
  owners: Pick<Owner, 'teamName' | 'serviceName'>[];
  steps: { position: number; label: string; status: Status; forCommunes: boolean; assignee?: string | null; targetDate?: string | null }[];
  sideEffects: { level: SideEffectLevel; description: string }[];
}

export interface ExportRisk {
  number: number;
  title: string;
  description: string;
  scenario: string;
  likelihood: number;
  severity: number;
  residualLikelihood: number | null;
  residualSeverity: number | null;
  ownerTeamName: string | null;
  ownerName: string;
  existingMeasures: string;
  treatment: Treatment;
  /** The numbers of its treating fiches the reader may see. */
  ficheNumbers: number[];
  instances: ExportInstance[];
}

export interface ExportMilestone { dueDate: string; title: string; done: boolean }

export interface ExportMeeting {
  title: string;
  kind: 'suivi' | 'signature';
  /** Local date and time, "2026-03-20T14:00". */
  startsAt: string;
  endsAt: string;
  place: string;
  heldAt: string | null;
  coversAll: boolean;
  ficheNumbers: number[];
  attendees: number;
  /** The committee's decisions recorded at the meeting, each "Fiche n°3 : …" or the text alone. */
  decisions: string[];
}

export interface ExportDecision {
  decidedOn: string;
  outcome: Outcome;
  authority: string;
  durationMonths: number | null;
  endsOn: string | null;
  /** Empty for a commune agent (the plan's page does not show them the decision's full text either). */
  conditions: string;
}

export interface PlanSnapshot {
  plan: { id: number; title: string; organisation: string };
  scales: RiskScales;
  fiches: ExportFiche[];
  risks: ExportRisk[];
  milestones: ExportMilestone[];
  meetings: ExportMeeting[];
  decisions: ExportDecision[];
}

// ---------------------------------------------------------------- tables

export type ExportCell = string | number | null;
export type ExportKind = 'text' | 'number' | 'date';
export interface ExportColumn { key: string; header: string; kind: ExportKind }
export interface ExportTable { name: string; columns: ExportColumn[]; rows: ExportCell[][] }

const KIND_OF: Record<ColumnSpec['type'], ExportKind> = {
  integer: 'number', amount: 'number', date: 'date', text: 'text', status: 'text', boolean: 'text', list: 'text',
};

/** The columns of an importable sheet as written: the spec's headers, in its order, without `omit`. */
function columnsOf(kind: PlanSheetKind, omit: readonly string[] = []): ExportColumn[] {
  return sheetSpec(kind).columns.filter((c) => !omit.includes(c.key)).map((c) => ({ key: c.key, header: c.header, kind: KIND_OF[c.type] }));
}

/** A table from records keyed by column key. */
function tableOf(name: string, columns: ExportColumn[], records: Record<string, ExportCell>[]): ExportTable {
  return { name, columns, rows: records.map((r) => columns.map((c) => r[c.key] ?? null)) };
}

/** The Fiches sheet leaves out what has a sheet of its own: steps, side effects, owners. */
export const FICHES_OMITTED = ['steps', 'stepStatus', 'sideEffects', 'owners'] as const;

const lines = (items: readonly string[]) => items.join('\n');

export function fichesTable(fiches: readonly ExportFiche[]): ExportTable {
  return tableOf(sheetSpec('fiches').name, columnsOf('fiches', FICHES_OMITTED), fiches.map((f) => ({
    number: f.number,
    title: f.title,
    finding: f.finding,
    targetDate: f.targetDate,
    status: STATUS_LABELS[f.status],
    conclusion: f.conclusion,
    conclusionCounts: lines(f.conclusionCounts.map(conclusionCountCell)),
    costAmount: f.costAmount,
    costSource: f.costSource,
    scope: f.scopeAll ? WHOLE_PERIMETER : lines(f.scope.map((i) => instanceCell(i.serviceName, i.name))),
  })));
}

export function stepsTable(fiches: readonly ExportFiche[]): ExportTable {
  return tableOf(sheetSpec('steps').name, columnsOf('steps'), fiches.flatMap((f) => f.steps.map((s) => ({
    ficheNumber: f.number, position: s.position, label: s.label, status: STATUS_LABELS[s.status], forCommunes: booleanCell(s.forCommunes),
    assignee: s.assignee ?? null, targetDate: s.targetDate ?? null,
  }))));
}

export function sideEffectsTable(fiches: readonly ExportFiche[]): ExportTable {
  return tableOf(sheetSpec('sideEffects').name, columnsOf('sideEffects'), fiches.flatMap((f) => f.sideEffects.map((e) => ({
    ficheNumber: f.number, level: SIDE_EFFECT_LABELS[e.level], description: e.description,
  }))));
}

export function ownersTable(fiches: readonly ExportFiche[]): ExportTable {
  return tableOf(sheetSpec('owners').name, columnsOf('owners'), fiches.flatMap((f) => f.owners.map((o) => ({
    ficheNumber: f.number, team: o.teamName, service: o.serviceName ?? null,
  }))));
}

/** A level's label on its scale (its rank when the scale no longer has it). */
const levelLabel = (scale: readonly string[], rank: number | null): string | null => (rank === null ? null : scale[rank - 1] ?? String(rank));

/**
 * The risk's owner as one cell: the team, or the person; both (a team and a person within it) as "Équipe — Personne".
 */
export const riskOwnerCell = (r: Pick<ExportRisk, 'ownerTeamName' | 'ownerName'>): string => [r.ownerTeamName, r.ownerName.trim()].filter(Boolean).join(' — ');

export function risksTable(risks: readonly ExportRisk[], scales: RiskScales): ExportTable {
  return tableOf(sheetSpec('risks').name, columnsOf('risks'), risks.map((r) => ({
    number: r.number,
    title: r.title,
    description: r.description,
    scenario: r.scenario,
    likelihood: levelLabel(scales.likelihood, r.likelihood),
    severity: levelLabel(scales.severity, r.severity),
    criticality: classLabel(scales, r.likelihood, r.severity),
    owner: riskOwnerCell(r),
    existingMeasures: r.existingMeasures,
    treatment: TREATMENT_LABELS[r.treatment],
    residualLikelihood: levelLabel(scales.likelihood, r.residualLikelihood),
    residualSeverity: levelLabel(scales.severity, r.residualSeverity),
    fiches: ficheNumbersCell(r.ficheNumbers),
    instances: lines(r.instances.map((i) => instanceCell(i.serviceName, i.name))),
  })));
}

/** The names of the sheets written for the reader only (the import ignores them). */
export const EXPORT_ONLY_SHEETS = { calendar: 'Calendrier', meetings: 'Comités', decisions: 'Décisions' } as const;

export function calendarTable(milestones: readonly ExportMilestone[]): ExportTable {
  const columns: ExportColumn[] = [
    { key: 'dueDate', header: 'Date', kind: 'date' }, { key: 'title', header: 'Jalon', kind: 'text' }, { key: 'done', header: 'Fait', kind: 'text' },
  ];
  return tableOf(EXPORT_ONLY_SHEETS.calendar, columns, milestones.map((m) => ({ dueDate: m.dueDate, title: m.title, done: booleanCell(m.done) })));
}

const MEETING_KINDS: Record<ExportMeeting['kind'], string> = { suivi: 'Comité de suivi', signature: 'Séance de signature' };
const time = (local: string) => (/T(\d{2}:\d{2})/.exec(local)?.[1] ?? '');

export function meetingsTable(meetings: readonly ExportMeeting[]): ExportTable {
  const columns: ExportColumn[] = [
    { key: 'date', header: 'Date', kind: 'date' },
    { key: 'hours', header: 'Horaire', kind: 'text' },
    { key: 'title', header: 'Séance', kind: 'text' },
    { key: 'kind', header: 'Type', kind: 'text' },
    { key: 'place', header: 'Lieu', kind: 'text' },
    { key: 'held', header: 'Tenue', kind: 'text' },
    { key: 'fiches', header: 'Fiches examinées', kind: 'text' },
    { key: 'attendees', header: 'Participants', kind: 'number' },
    { key: 'decisions', header: 'Décisions du comité', kind: 'text' },
  ];
  return tableOf(EXPORT_ONLY_SHEETS.meetings, columns, meetings.map((m) => ({
    date: m.startsAt.slice(0, 10),
    hours: [time(m.startsAt), time(m.endsAt)].filter(Boolean).join(' – '),
    title: m.title,
    kind: MEETING_KINDS[m.kind],
    place: m.place,
    held: booleanCell(m.heldAt !== null),
    fiches: m.coversAll ? 'Toutes' : ficheNumbersCell(m.ficheNumbers),
    attendees: m.attendees,
    decisions: lines(m.decisions),
  })));
}

export function decisionsTable(decisions: readonly ExportDecision[]): ExportTable {
  const columns: ExportColumn[] = [
    { key: 'decidedOn', header: 'Date de la décision', kind: 'date' },
    { key: 'outcome', header: 'Décision', kind: 'text' },
    { key: 'authority', header: "Autorité d'homologation", kind: 'text' },
    { key: 'duration', header: 'Durée (mois)', kind: 'number' },
    { key: 'endsOn', header: 'Fin de validité', kind: 'date' },
    { key: 'conditions', header: 'Conditions', kind: 'text' },
  ];
  return tableOf(EXPORT_ONLY_SHEETS.decisions, columns, decisions.map((d) => ({
    decidedOn: d.decidedOn, outcome: OUTCOME_LABELS[d.outcome], authority: d.authority, duration: d.durationMonths, endsOn: d.endsOn, conditions: d.conditions,
  })));
}

/** Every sheet of the export, the five importable ones first, in PLAN_SHEETS' order. */
export function exportTables(s: PlanSnapshot): ExportTable[] {
  return [
    fichesTable(s.fiches), stepsTable(s.fiches), sideEffectsTable(s.fiches), ownersTable(s.fiches), risksTable(s.risks, s.scales),
    calendarTable(s.milestones), meetingsTable(s.meetings), decisionsTable(s.decisions),
  ];
}

/** The tables a CSV can be asked for, by the slug of its address (/export/<slug>.csv). */
export const CSV_TABLES = {
  fiches: (s: PlanSnapshot) => fichesTable(s.fiches),
  etapes: (s: PlanSnapshot) => stepsTable(s.fiches),
  'effets-de-bord': (s: PlanSnapshot) => sideEffectsTable(s.fiches),
  porteurs: (s: PlanSnapshot) => ownersTable(s.fiches),
  risques: (s: PlanSnapshot) => risksTable(s.risks, s.scales),
  calendrier: (s: PlanSnapshot) => calendarTable(s.milestones),
  comites: (s: PlanSnapshot) => meetingsTable(s.meetings),
  decisions: (s: PlanSnapshot) => decisionsTable(s.decisions),
} as const satisfies Record<string, (s: PlanSnapshot) => ExportTable>;
export type CsvTable = keyof typeof CSV_TABLES;

/** A table's rows as a CSV writes them: the header row, then dates as 31/12/2026 (a spreadsheet reads them as dates). */
export function csvRows(t: ExportTable): (string | number | null)[][] {
  return [
    t.columns.map((c) => c.header),
    ...t.rows.map((row) => row.map((v, i) => (t.columns[i]!.kind === 'date' && typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v.split('-').reverse().join('/') : v))),
  ];
}

// ---------------------------------------------------------------- the import template

/** The example of the template: one fiche and one risk, consistent across the five sheets. */
export const TEMPLATE_EXAMPLE: { fiche: ExportFiche; risk: ExportRisk; scales: RiskScales } = {
  fiche: {
    number: 1,
    title: "Déployer l'authentification multifacteur",
    finding: "Les comptes d'administration des téléservices se connectent avec un simple mot de passe.",
    targetDate: '2026-12-31',
    status: 'en_cours',
    conclusion: "L'étude montre que la plupart des instances acceptent un second facteur sans changement de version.",
    conclusionCounts: [{ count: 9, total: 14, label: 'instances compatibles' }],
    costAmount: 12000,
    costSource: 'Devis du prestataire',
    scopeAll: false,
    scope: [{ serviceName: 'Toodego', name: 'Toodego (production)' }, { serviceName: 'Toodego', name: 'Toodego (recette)' }],
    owners: [{ teamName: 'Équipe sécurité', serviceName: null }],
    steps: [{ position: 1, label: 'Choisir la solution de second facteur', status: 'fait', forCommunes: false }],
    sideEffects: [{ level: 'faible', description: 'Une étape de plus à chaque connexion des administrateurs' }],
  },
  risk: {
    number: 1,
    title: "Usurpation d'un compte d'administration",
    description: "Un mot de passe d'administrateur dérobé donne la main sur le téléservice.",
    scenario: 'Hameçonnage ciblé des administrateurs',
    likelihood: 3, severity: 3, residualLikelihood: 1, residualSeverity: 3,
    ownerTeamName: 'Équipe sécurité', ownerName: '',
    existingMeasures: 'Mots de passe de 12 caractères au moins',
    treatment: 'reduire',
    ficheNumbers: [1],
    instances: [{ serviceName: 'Toodego', name: 'Toodego (production)' }],
  },
  scales: {
    likelihood: ['Improbable', 'Peu probable', 'Probable', 'Très probable'],
    severity: ['Modéré', 'Grave', 'Majeur', 'Critique'],
    classes: ['Faible', 'Modérée', 'Critique', 'Très critique'],
    matrix: [[1, 1, 2, 2], [1, 2, 2, 3], [2, 2, 3, 4], [2, 3, 4, 4]],
  },
};

export const HELP_SHEET = "Mode d'emploi";

/**
 * The import template: the five importable sheets with the spec's headers and one example row each (the
 * organisation's own scales and instances when given, so the example imports as it is), then the « Mode d'emploi »
 * sheet: one row per column, what it holds.
 */
export function templateTables(opts: { scales?: RiskScales; instances?: ExportInstance[]; teamName?: string | null } = {}): ExportTable[] {
  const ex = TEMPLATE_EXAMPLE;
  const scales = opts.scales ?? ex.scales;
  const instances = opts.instances?.length ? opts.instances.slice(0, 2) : ex.fiche.scope;
  const level = (scale: readonly string[], wanted: number) => Math.min(wanted, scale.length);
  const teamName = opts.teamName || ex.fiche.owners[0]!.teamName;
  const fiche: ExportFiche = { ...ex.fiche, scope: instances, owners: [{ teamName, serviceName: null }] };
  const risk: ExportRisk = {
    ...ex.risk,
    likelihood: level(scales.likelihood, 3), severity: level(scales.severity, 3),
    residualLikelihood: 1, residualSeverity: level(scales.severity, 3),
    ownerTeamName: teamName,
    instances: instances.slice(0, 1),
  };
  const help: ExportColumn[] = [
    { key: 'sheet', header: 'Feuille', kind: 'text' }, { key: 'column', header: 'Colonne', kind: 'text' },
    { key: 'required', header: 'Obligatoire', kind: 'text' }, { key: 'help', header: "Ce qu'elle contient", kind: 'text' },
  ];
  const written = new Map<PlanSheetKind, readonly string[]>([['fiches', FICHES_OMITTED]]);
  // the sheet numbered ("1. Fiches"): a row never holds two cells an import would take for headers ("Fiches" and "N°")
  const helpRows = PLAN_SHEETS.flatMap((sheet, i) => sheet.columns
    .filter((c) => !(written.get(sheet.kind) ?? []).includes(c.key))
    .map((c) => ({ sheet: `${i + 1}. ${sheet.name}`, column: c.header, required: booleanCell(Boolean(c.required)), help: c.help })));
  return [
    fichesTable([fiche]), stepsTable([fiche]), sideEffectsTable([fiche]), ownersTable([fiche]), risksTable([risk], scales),
    tableOf(HELP_SHEET, help, helpRows),
  ];
}

/** The headers each importable sheet is written with (for the tests and the import's error messages). */
export const EXPORT_HEADERS: Record<PlanSheetKind, string[]> = {
  fiches: FICHE_COLUMNS.filter((c) => !(FICHES_OMITTED as readonly string[]).includes(c.key)).map((c) => c.header),
  steps: STEP_COLUMNS.map((c) => c.header),
  sideEffects: SIDE_EFFECT_COLUMNS.map((c) => c.header),
  owners: OWNER_COLUMNS.map((c) => c.header),
  risks: RISK_COLUMNS.map((c) => c.header),
};

// ---------------------------------------------------------------- file names

/** "Plan d'action RGS — Téléservices" → "plan-d-action-rgs-teleservices": ASCII, for a file name. */
export function slugOf(text: string): string {
  const slug = text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/œ/g, 'oe').replace(/æ/g, 'ae').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '');
  return slug || 'homologation';
}
