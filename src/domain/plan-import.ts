import type { RiskScales, Treatment } from './risks';
import { TREATMENT_LABELS, TREATMENTS } from './risks';
import {
  type ColumnSpec, normaliseHeader, PLAN_SHEETS, type PlanSheetKind, sheetSpec, splitList, WHOLE_PERIMETER,
} from './plan-sheets';
import {
  type CellValue, cellText, matchLabel, parseAmount, parseBoolean, parseDay, parseNumber, parseStatus, quoted,
} from './spreadsheet-values';
import { SIDE_EFFECT_LABELS, SIDE_EFFECT_LEVELS, type SideEffectLevel, type Status } from './statuses';

/**
 * From the tables of an uploaded spreadsheet to what an import would do to a homologation's plan: which sheet holds
 * what (found by the sheet's name and its headers, or as the user mapped it), every line error with its row and
 * column, and for each fiche and risk of the file whether it is created, updated (matched by number) or unchanged.
 * Pure: the data layer reads the homologation's current plan into an ImportContext and applies the result.
 */

export interface ImportSheet { name: string; rows: CellValue[][] }

/** How one sheet is read: as which table, its header row, and which field each column fills (null: not imported). */
export interface SheetMapping {
  sheet: number;
  kind: PlanSheetKind | null;
  /** 0-based index of the header row */
  headerRow: number;
  columns: (string | null)[];
}

export interface LineError {
  sheet: string;
  /** the spreadsheet's row number (1 = first row), or null for the sheet as a whole */
  row: number | null;
  column: string | null;
  message: string;
  /** an unknown team the user may choose to create with the import */
  team?: string;
}

export interface ExistingFiche {
  id: number; number: number; version: number;
  title: string; finding: string; targetDate: string | null; status: Status; conclusion: string;
  conclusionCounts: { count: number; total: number; label: string }[];
  costAmount: number | null; costSource: string; scopeAll: boolean; instanceIds: number[];
  owners: { teamId: number; serviceId: number | null }[];
  /** assignee: "u12" (an account) or "p3" (a named person) */
  steps: { id: number; position: number; label: string; status: Status; forCommunes: boolean; assignee: string | null; targetDate: string | null }[];
  sideEffects: { level: SideEffectLevel; description: string }[];
}

export interface ExistingRisk {
  id: number; number: number; version: number;
  title: string; description: string; scenario: string; ownerTeamId: number | null; ownerName: string;
  likelihood: number; severity: number; existingMeasures: string; treatment: Treatment;
  residualLikelihood: number | null; residualSeverity: number | null;
  ficheNumbers: number[]; instanceIds: number[];
}

export interface ImportContext {
  teams: readonly { id: number; name: string }[];
  services: readonly { id: number; name: string }[];
  /** the homologation's perimeter */
  instances: readonly { id: number; name: string; serviceName: string }[];
  /** who may be responsible for a step: active accounts ("u12") and named people ("p3") */
  assignees: readonly { value: string; name: string; email: string }[];
  scales: RiskScales;
  fiches: readonly ExistingFiche[];
  risks: readonly ExistingRisk[];
  /** unknown teams the user chose to create with the import (as written in the file) */
  createTeams: readonly string[];
}

/** An owner as imported: an existing team's id, or null for a team created by the import (by its name). */
export interface ImportOwner { teamId: number | null; teamName: string; serviceId: number | null }

export interface ImportedFiche {
  number: number; title: string; finding: string; targetDate: string | null; status: Status; conclusion: string;
  conclusionCounts: { count: number; total: number; label: string }[];
  costAmount: number | null; costSource: string; scopeAll: boolean; instanceIds: number[];
  owners: ImportOwner[];
  steps: { id: number | null; position: number; label: string; status: Status; forCommunes: boolean; assignee: string | null; targetDate: string | null }[];
  sideEffects: { level: SideEffectLevel; description: string }[];
}

export interface ImportedRisk {
  number: number; title: string; description: string; scenario: string; ownerTeamId: number | null; ownerName: string;
  likelihood: number; severity: number; existingMeasures: string; treatment: Treatment;
  residualLikelihood: number | null; residualSeverity: number | null; ficheNumbers: number[]; instanceIds: number[];
}

export type ChangeKind = 'create' | 'update' | 'unchanged';

export interface Change<T> {
  kind: ChangeKind;
  number: number;
  /** where it is in the file: "Fiches, ligne 4" */
  where: string;
  /** the existing object's id and version (update and unchanged) */
  id: number | null;
  version: number | null;
  /** the labels of the fields an update changes */
  changed: string[];
  input: T;
}

export interface ImportPlan {
  fiches: Change<ImportedFiche>[];
  risks: Change<ImportedRisk>[];
  errors: LineError[];
  /** what the user should know, that blocks nothing */
  notes: string[];
  /** the teams the import will create */
  newTeams: string[];
}

// ────────────────────────────────────────────── mapping

const HEADER_SEARCH_ROWS = 15;

/** The column of a spec a header names: its header or an alias, compared normalised, also without a bracketed hint. */
export function columnFor(spec: readonly ColumnSpec[], header: string): ColumnSpec | undefined {
  const keys = [normaliseHeader(header), normaliseHeader(header.replace(/\([^)]*\)|\*/g, ''))].filter((k) => k !== '');
  for (const key of keys) {
    const found = spec.find((c) => normaliseHeader(c.header) === key || c.aliases.some((a) => normaliseHeader(a) === key));
    if (found) return found;
  }
  return undefined;
}

function kindOfName(name: string): PlanSheetKind | undefined {
  const key = normaliseHeader(name);
  return PLAN_SHEETS.find((s) => normaliseHeader(s.name) === key || s.aliases.some((a) => normaliseHeader(a) === key))?.kind;
}

function columnsOf(kind: PlanSheetKind, header: readonly CellValue[]): (string | null)[] {
  const spec = sheetSpec(kind).columns;
  const used = new Set<string>();
  return header.map((cell) => {
    const found = columnFor(spec, cellText(cell));
    if (!found || used.has(found.key)) return null;
    used.add(found.key);
    return found.key;
  });
}

/**
 * Which table a sheet holds and where its header row is: the row (among the first ones) whose cells name the most
 * columns of one table, the sheet's name breaking ties (a title row above the table is skipped). A sheet that names
 * fewer than two columns of any table, and is not named after one, is not imported.
 */
export function detectMapping(sheet: ImportSheet, index: number): SheetMapping {
  const byName = kindOfName(sheet.name);
  let best: { kind: PlanSheetKind; row: number; score: number } | undefined;
  for (let r = 0; r < Math.min(HEADER_SEARCH_ROWS, sheet.rows.length); r++) {
    for (const spec of PLAN_SHEETS) {
      const matched = columnsOf(spec.kind, sheet.rows[r] ?? []).filter((k) => k !== null);
      const required = spec.columns.filter((c) => c.required).every((c) => matched.includes(c.key));
      const score = matched.length + (required ? 1 : 0) + (spec.kind === byName ? 1.5 : 0);
      if (matched.length >= 2 && (!best || score > best.score)) best = { kind: spec.kind, row: r, score };
    }
  }
  if (!best) return { sheet: index, kind: null, headerRow: 0, columns: (sheet.rows[0] ?? []).map(() => null) };
  return { sheet: index, kind: best.kind, headerRow: best.row, columns: columnsOf(best.kind, sheet.rows[best.row] ?? []) };
}

/** What the user changed on the mapping screen, checked: a column names a field of the sheet's table, at most once. */
export function checkMapping(sheet: ImportSheet, mapping: SheetMapping): string | undefined {
  if (mapping.kind === null) return undefined;
  const spec = sheetSpec(mapping.kind);
  const seen = new Set<string>();
  for (const key of mapping.columns) {
    if (key === null) continue;
    const column = spec.columns.find((c) => c.key === key);
    if (!column) return `La feuille « ${sheet.name} » : une colonne est associée à un champ inconnu.`;
    if (seen.has(key)) return `Feuille « ${sheet.name} » : le champ « ${column.header} » est choisi pour deux colonnes ; gardez-en une.`;
    seen.add(key);
  }
  for (const c of spec.columns.filter((col) => col.required)) {
    if (!seen.has(c.key)) return `Feuille « ${sheet.name} » : associez une colonne au champ « ${c.header} » (obligatoire pour ${spec.name.toLowerCase()}).`;
  }
  return undefined;
}

// ────────────────────────────────────────────── reading the rows

interface Row { sheet: string; row: number; get: (key: string) => CellValue | undefined; header: (key: string) => string }

function rowsOf(sheet: ImportSheet, mapping: SheetMapping): Row[] {
  const header = sheet.rows[mapping.headerRow] ?? [];
  const index = new Map<string, number>();
  mapping.columns.forEach((k, i) => { if (k !== null) index.set(k, i); });
  const spec = mapping.kind ? sheetSpec(mapping.kind).columns : [];
  const out: Row[] = [];
  for (let r = mapping.headerRow + 1; r < sheet.rows.length; r++) {
    const cells = sheet.rows[r] ?? [];
    if (![...index.values()].some((i) => cellText(cells[i] ?? null) !== '')) continue;
    out.push({
      sheet: sheet.name, row: r + 1,
      get: (key) => (index.has(key) ? cells[index.get(key)!] ?? null : undefined),
      header: (key) => {
        const i = index.get(key);
        const typed = i === undefined ? '' : cellText(header[i] ?? null);
        return typed || spec.find((c) => c.key === key)?.header || key;
      },
    });
  }
  return out;
}

/** A fiche as given by the file: only what the file says (undefined: the file does not say, the current value stays). */
interface FichePatch {
  number: number;
  where: string;
  sheet: string;
  row: number;
  title?: string; finding?: string; targetDate?: string | null; status?: Status | null; conclusion?: string;
  conclusionCounts?: ImportedFiche['conclusionCounts']; costAmount?: number | null; costSource?: string;
  scope?: { all: true } | { all: false; instanceIds: number[] };
  owners?: ImportOwner[];
  steps?: { position: number | null; label: string; status: Status | null; forCommunes?: boolean; assignee?: string | null; targetDate?: string | null }[];
  sideEffects?: ImportedFiche['sideEffects'];
  /** the rows of the fiches sheet, per field, that gave a value: a repeated fiche must not contradict itself */
  givenAt: Map<string, { row: number; value: string }>;
}

const TEXT_LIMITS: Record<string, number> = { title: 300, finding: 5000, conclusion: 5000, costSource: 200 };

const STEP_LINE = /^(?:\d{1,3}\s*[.)-]\s*|[-•*–]\s*)?(?:\[([^\]]{1,30})\]\s*)?(.*)$/;

class Interpreter {
  readonly errors: LineError[] = [];
  readonly notes: string[] = [];
  readonly fiches = new Map<number, FichePatch>();
  readonly risks = new Map<number, { where: string; cells: Row }>();
  readonly newTeams = new Map<string, string>();
  private readonly createTeams: Set<string>;

  constructor(private readonly ctx: ImportContext) {
    this.createTeams = new Set(ctx.createTeams.map(normaliseHeader));
  }

  error(r: Row | null, sheet: string, key: string | null, message: string, team?: string): void {
    this.errors.push({ sheet, row: r?.row ?? null, column: key && r ? r.header(key) : key, message, ...(team ? { team } : {}) });
  }

  patch(number: number, r: Row): FichePatch {
    let p = this.fiches.get(number);
    if (!p) this.fiches.set(number, (p = { number, where: `${r.sheet}, ligne ${r.row}`, sheet: r.sheet, row: r.row, givenAt: new Map() }));
    return p;
  }

  text(r: Row, key: string): string | undefined {
    const cell = r.get(key);
    if (cell === undefined) return undefined;
    const text = cellText(cell);
    const max = TEXT_LIMITS[key];
    if (max !== undefined && text.length > max) {
      this.error(r, r.sheet, key, `le texte dépasse ${max} caractères (${text.length})`);
      return undefined;
    }
    return text;
  }

  team(r: Row, key: string, name: string): ImportOwner | undefined {
    const m = /^(.*?)\s*\(([^()]+)\)$/.exec(name);
    const service = m ? this.ctx.services.find((s) => normaliseHeader(s.name) === normaliseHeader(m[2]!)) : undefined;
    const teamName = service && m ? m[1]! : name;
    const team = this.ctx.teams.find((t) => normaliseHeader(t.name) === normaliseHeader(teamName));
    if (team) return { teamId: team.id, teamName: team.name, serviceId: service?.id ?? null };
    if (teamName.length > 100) {
      this.error(r, r.sheet, key, `${quoted(teamName)} est trop long pour un nom d'équipe (100 caractères au plus)`);
      return undefined;
    }
    if (this.createTeams.has(normaliseHeader(teamName))) {
      this.newTeams.set(normaliseHeader(teamName), teamName);
      return { teamId: null, teamName, serviceId: service?.id ?? null };
    }
    this.error(r, r.sheet, key, `l'équipe ${quoted(teamName)} n'existe pas : choisissez de la créer avec l'import, ou corrigez son nom`, teamName);
    return undefined;
  }

  /** The perimeter's instances by normalised "service — name" and by normalised name: built once, looked up per cell. */
  private instanceIndex?: { full: Map<string, number[]>; name: Map<string, number[]> };

  instance(r: Row, key: string, text: string): number | undefined {
    if (!this.instanceIndex) {
      const full = new Map<string, number[]>();
      const name = new Map<string, number[]>();
      const add = (map: Map<string, number[]>, k: string, id: number) => { const l = map.get(k); if (l) { if (!l.includes(id)) l.push(id); } else map.set(k, [id]); };
      for (const i of this.ctx.instances) {
        add(full, normaliseHeader(`${i.serviceName}${i.name}`), i.id);
        add(name, normaliseHeader(i.name), i.id);
      }
      this.instanceIndex = { full, name };
    }
    // "Service — Instance" (any dash), or the instance's name alone when no other instance of the perimeter has it
    const k = normaliseHeader(text);
    const found = this.instanceIndex.full.get(k) ?? this.instanceIndex.name.get(k) ?? [];
    if (found.length === 1) return found[0]!;
    this.error(r, r.sheet, key, found.length > 1
      ? `plusieurs instances s'appellent ${quoted(text)} : écrivez « Service — Instance »`
      : `l'instance ${quoted(text)} n'est pas dans le périmètre de l'homologation`);
    return undefined;
  }

  /** Keeps a fiche field's value, unless an earlier row of the same fiche gave another one. */
  give<K extends keyof FichePatch>(p: FichePatch, r: Row, key: string, field: K, value: FichePatch[K], shown: string): void {
    const before = p.givenAt.get(field as string);
    if (before && before.value !== shown) {
      this.error(r, r.sheet, key, `la fiche n°${p.number} a déjà ${before.value === '' ? 'une valeur vide' : quoted(before.value)} ligne ${before.row}`);
      return;
    }
    if (!before) p.givenAt.set(field as string, { row: r.row, value: shown });
    p[field] = value;
  }

  readFiches(sheet: ImportSheet, mapping: SheetMapping): void {
    let current: FichePatch | undefined;
    for (const r of rowsOf(sheet, mapping)) {
      const n = parseNumber(r.get('number') ?? null);
      if (!n.ok) { this.error(r, r.sheet, 'number', n.error); current = undefined; continue; }
      if (n.value === null) {
        // a row without a number carries more steps (or side effects, owners) of the fiche above it
        if (!current) { this.error(r, r.sheet, 'number', 'le numéro de la fiche manque'); continue; }
      } else {
        current = this.patch(n.value, r);
      }
      const p = current;
      const fields: [string, keyof FichePatch][] = [['title', 'title'], ['finding', 'finding'], ['conclusion', 'conclusion'], ['costSource', 'costSource']];
      for (const [key, field] of fields) {
        const t = this.text(r, key);
        if (t !== undefined && (n.value !== null || t !== '')) this.give(p, r, key, field, t, t);
      }
      const date = r.get('targetDate');
      if (date !== undefined && (n.value !== null || cellText(date) !== '')) {
        const d = parseDay(date);
        if (d.ok) this.give(p, r, 'targetDate', 'targetDate', d.value, d.value ?? '');
        else this.error(r, r.sheet, 'targetDate', d.error);
      }
      const status = r.get('status');
      if (status !== undefined && cellText(status) !== '') {
        const s = parseStatus(status);
        if (s.ok) this.give(p, r, 'status', 'status', s.value, s.value ?? '');
        else this.error(r, r.sheet, 'status', s.error);
      }
      const amount = r.get('costAmount');
      if (amount !== undefined && (n.value !== null || cellText(amount) !== '')) {
        const a = parseAmount(amount);
        if (a.ok) this.give(p, r, 'costAmount', 'costAmount', a.value, String(a.value ?? ''));
        else this.error(r, r.sheet, 'costAmount', a.error);
      }
      const scope = r.get('scope');
      if (scope !== undefined && cellText(scope) !== '') {
        const text = cellText(scope);
        if (normaliseHeader(text) === normaliseHeader(WHOLE_PERIMETER) || normaliseHeader(text) === 'tout') {
          this.give(p, r, 'scope', 'scope', { all: true }, 'tout');
        } else {
          const ids = splitList(text).map((t) => this.instance(r, 'scope', t));
          if (ids.every((i) => i !== undefined)) this.give(p, r, 'scope', 'scope', { all: false, instanceIds: ids as number[] }, ids.join(','));
        }
      }
      const counts = r.get('conclusionCounts');
      if (counts !== undefined && (n.value !== null || cellText(counts) !== '')) {
        const list: ImportedFiche['conclusionCounts'] = [];
        for (const line of splitList(cellText(counts))) {
          const m = /^(\d{1,7})\s*\/\s*(\d{1,7})\s*[:–—-]?\s*(.+)$/.exec(line);
          if (!m || Number(m[1]) > Number(m[2]) || m[3]!.length > 500) {
            this.error(r, r.sheet, 'conclusionCounts', `${quoted(line)} n'est pas un décompte (écrivez « 9 / 14 : instances concernées »)`);
          } else list.push({ count: Number(m[1]), total: Number(m[2]), label: m[3]!.trim() });
        }
        this.give(p, r, 'conclusionCounts', 'conclusionCounts', list, JSON.stringify(list));
      }
      const owners = r.get('owners');
      if (owners !== undefined) {
        p.owners ??= [];
        for (const name of splitList(cellText(owners))) {
          const o = this.team(r, 'owners', name);
          if (o && !p.owners.some((x) => x.teamName === o.teamName && x.serviceId === o.serviceId)) p.owners.push(o);
        }
      }
      const steps = r.get('steps');
      if (steps !== undefined) {
        p.steps ??= [];
        const lines = cellText(steps).split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const rowStatus = lines.length === 1 && r.get('stepStatus') !== undefined ? parseStatus(r.get('stepStatus') ?? null) : undefined;
        if (rowStatus && !rowStatus.ok) this.error(r, r.sheet, 'stepStatus', rowStatus.error);
        for (const line of lines) {
          const m = STEP_LINE.exec(line)!;
          const tagged = m[1] !== undefined ? parseStatus(m[1]) : undefined;
          if (tagged && !tagged.ok) { this.error(r, r.sheet, 'steps', `${quoted(line)} : [${m[1]}] n'est pas un statut (Non démarré, En cours, Bloqué ou Fait)`); continue; }
          const label = (m[2] ?? '').trim();
          if (label.length > 500) { this.error(r, r.sheet, 'steps', `une étape dépasse 500 caractères (${label.length})`); continue; }
          if (label === '') continue;
          p.steps.push({ position: null, label, status: tagged?.ok ? tagged.value : rowStatus?.ok ? rowStatus.value : null });
        }
      }
      const effects = r.get('sideEffects');
      if (effects !== undefined) {
        p.sideEffects ??= [];
        for (const line of splitList(cellText(effects))) {
          const e = this.sideEffect(line);
          if (e) p.sideEffects.push(e);
          else this.error(r, r.sheet, 'sideEffects', `${quoted(line)} : commencez par « Fort : » ou « Faible : »`);
        }
      }
    }
  }

  sideEffect(line: string): { level: SideEffectLevel; description: string } | undefined {
    const m = /^([^:]{1,12})\s*:\s*(.+)$/s.exec(line);
    if (!m) return undefined;
    const level = SIDE_EFFECT_LEVELS[matchLabel(SIDE_EFFECT_LEVELS.map((l) => SIDE_EFFECT_LABELS[l]), m[1]!)];
    return level && m[2]!.trim().length <= 2000 ? { level, description: m[2]!.trim() } : undefined;
  }

  /** The fiche a row of a child sheet belongs to: in the file or in the plan. */
  ficheOf(r: Row): FichePatch | undefined {
    const n = parseNumber(r.get('ficheNumber') ?? null);
    if (!n.ok || n.value === null) {
      this.error(r, r.sheet, 'ficheNumber', n.ok ? 'le numéro de la fiche manque' : n.error);
      return undefined;
    }
    if (!this.fiches.has(n.value) && !this.ctx.fiches.some((f) => f.number === n.value)) {
      this.error(r, r.sheet, 'ficheNumber', `la fiche n°${n.value} n'existe ni dans le fichier ni dans le plan`);
      return undefined;
    }
    return this.patch(n.value, r);
  }

  readSteps(sheet: ImportSheet, mapping: SheetMapping): void {
    const touched = new Set<FichePatch>();
    for (const r of rowsOf(sheet, mapping)) {
      const p = this.ficheOf(r);
      if (!p) continue;
      // the sheet gives the fiche's steps: the ones of a fiches sheet's column, if any, come first
      if (!touched.has(p)) { p.steps ??= []; touched.add(p); }
      const label = this.text(r, 'label') ?? '';
      if (label === '') { this.error(r, r.sheet, 'label', "l'intitulé de l'étape manque"); continue; }
      if (label.length > 500) { this.error(r, r.sheet, 'label', `l'étape dépasse 500 caractères (${label.length})`); continue; }
      const position = parseNumber(r.get('position') ?? null);
      if (!position.ok) { this.error(r, r.sheet, 'position', position.error); continue; }
      const status = parseStatus(r.get('status') ?? null);
      if (!status.ok) { this.error(r, r.sheet, 'status', status.error); continue; }
      const communes = r.get('forCommunes');
      const forCommunes = communes === undefined ? undefined : parseBoolean(communes);
      if (forCommunes && !forCommunes.ok) { this.error(r, r.sheet, 'forCommunes', forCommunes.error); continue; }
      const who = r.get('assignee');
      let assignee: string | null | undefined;
      if (who !== undefined) {
        assignee = this.assignee(r, cellText(who));
        if (assignee === undefined) continue;
      }
      const dateCell = r.get('targetDate');
      const date = dateCell === undefined ? undefined : parseDay(dateCell);
      if (date && !date.ok) { this.error(r, r.sheet, 'targetDate', date.error); continue; }
      p.steps!.push({
        position: position.value, label, status: status.value, ...(forCommunes ? { forCommunes: forCommunes.value } : {}),
        ...(assignee !== undefined ? { assignee } : {}), ...(date?.ok ? { targetDate: date.value } : {}),
      });
    }
  }

  /** A step's responsible person by e-mail or name, among the accounts and the named people; '' is nobody (null). */
  assignee(r: Row, text: string): string | null | undefined {
    if (text === '') return null;
    const key = normaliseHeader(text);
    const found = this.ctx.assignees.filter((a) => a.email.toLowerCase() === text.toLowerCase() || normaliseHeader(a.name) === key);
    if (found.length === 1) return found[0]!.value;
    this.error(r, r.sheet, 'assignee', found.length > 1
      ? `plusieurs personnes s'appellent ${quoted(text)} : écrivez son adresse électronique`
      : `${quoted(text)} n'est ni un compte actif ni une personne sans compte enregistrée (ajoutez-la dans « Personnes sans compte »)`);
    return undefined;
  }

  readSideEffects(sheet: ImportSheet, mapping: SheetMapping): void {
    const touched = new Set<FichePatch>();
    for (const r of rowsOf(sheet, mapping)) {
      const p = this.ficheOf(r);
      if (!p) continue;
      if (!touched.has(p)) { p.sideEffects ??= []; touched.add(p); }
      const levelText = cellText(r.get('level') ?? null);
      const level = SIDE_EFFECT_LEVELS[matchLabel(SIDE_EFFECT_LEVELS.map((l) => SIDE_EFFECT_LABELS[l]), levelText)];
      if (!level) { this.error(r, r.sheet, 'level', `${quoted(levelText)} n'est pas un niveau (Fort ou Faible)`); continue; }
      const description = this.text(r, 'description') ?? '';
      if (description === '' || description.length > 2000) {
        this.error(r, r.sheet, 'description', description === '' ? "la description de l'effet manque" : `la description dépasse 2 000 caractères (${description.length})`);
        continue;
      }
      p.sideEffects!.push({ level, description });
    }
  }

  readOwners(sheet: ImportSheet, mapping: SheetMapping): void {
    const touched = new Set<FichePatch>();
    for (const r of rowsOf(sheet, mapping)) {
      const p = this.ficheOf(r);
      if (!p) continue;
      if (!touched.has(p)) { p.owners ??= []; touched.add(p); }
      const teamName = cellText(r.get('team') ?? null);
      const serviceName = cellText(r.get('service') ?? null);
      if (teamName === '') { this.error(r, r.sheet, 'team', "le nom de l'équipe manque"); continue; }
      let serviceId: number | null = null;
      if (serviceName !== '') {
        const service = this.ctx.services.find((s) => normaliseHeader(s.name) === normaliseHeader(serviceName));
        if (!service) { this.error(r, r.sheet, 'service', `le service ${quoted(serviceName)} n'existe pas`); continue; }
        serviceId = service.id;
      }
      const o = this.team(r, 'team', teamName);
      if (!o) continue;
      const owner = { ...o, serviceId: serviceId ?? o.serviceId };
      if (!p.owners!.some((x) => x.teamName === owner.teamName && x.serviceId === owner.serviceId)) p.owners!.push(owner);
    }
  }

  readRisks(sheet: ImportSheet, mapping: SheetMapping): void {
    if (mapping.columns.includes('criticality')) {
      this.notes.push(`Feuille « ${sheet.name} » : la criticité est calculée par la matrice de l'organisation à partir de la vraisemblance et de la gravité ; la colonne du fichier n'est pas importée.`);
    }
    for (const r of rowsOf(sheet, mapping)) {
      const n = parseNumber(r.get('number') ?? null);
      if (!n.ok || n.value === null) { this.error(r, r.sheet, 'number', n.ok ? 'le numéro du risque manque' : n.error); continue; }
      if (this.risks.has(n.value)) { this.error(r, r.sheet, 'number', `le risque n°${n.value} figure déjà ${this.risks.get(n.value)!.where.replace(/^.*, /, '')}`); continue; }
      this.risks.set(n.value, { where: `${r.sheet}, ligne ${r.row}`, cells: r });
    }
  }

  /** A level on a scale: its label (tolerant), or its rank. */
  level(r: Row, key: string, labels: readonly string[], what: string): number | null | undefined {
    const cell = r.get(key);
    if (cell === undefined) return undefined;
    const text = cellText(cell);
    if (text === '') return null;
    const i = matchLabel(labels, text);
    if (i >= 0) return i + 1;
    if (/^\d$/.test(text) && Number(text) >= 1 && Number(text) <= labels.length) return Number(text);
    this.error(r, r.sheet, key, `${quoted(text)} n'est pas un niveau de ${what} (${labels.join(', ')})`);
    return undefined;
  }

  risk(number: number, r: Row, existing: ExistingRisk | undefined, ficheNumbers: Set<number>): ImportedRisk | undefined {
    const before = this.errors.length;
    const { scales } = this.ctx;
    const title = this.text(r, 'title');
    const text = (key: string, max: number) => {
      const t = this.text(r, key);
      if (t !== undefined && t.length > max) { this.error(r, r.sheet, key, `le texte dépasse ${max} caractères`); return undefined; }
      return t;
    };
    const description = text('description', 5000);
    const scenario = text('scenario', 5000);
    const measures = text('existingMeasures', 5000);
    const likelihood = this.level(r, 'likelihood', scales.likelihood, 'vraisemblance');
    const severity = this.level(r, 'severity', scales.severity, 'gravité');
    const rl = this.level(r, 'residualLikelihood', scales.likelihood, 'vraisemblance');
    const rs = this.level(r, 'residualSeverity', scales.severity, 'gravité');
    let treatment: Treatment | undefined;
    const tcell = r.get('treatment');
    if (tcell !== undefined && cellText(tcell) !== '') {
      treatment = TREATMENTS[matchLabel(TREATMENTS.map((t) => TREATMENT_LABELS[t]), cellText(tcell))];
      if (!treatment) this.error(r, r.sheet, 'treatment', `${quoted(tcell)} n'est pas un traitement (Réduire, Accepter, Transférer ou Éviter)`);
    }
    let owner: { teamId: number | null; name: string } | undefined;
    const ocell = r.get('owner');
    if (ocell !== undefined) {
      const o = cellText(ocell);
      const teamNamed = (name: string) => this.ctx.teams.find((t) => normaliseHeader(t.name) === normaliseHeader(name));
      const parts = o.split(/\s+—\s+/);
      const whole = teamNamed(o);
      const first = parts.length >= 2 ? teamNamed(parts[0]!) : undefined;
      owner = whole ? { teamId: whole.id, name: '' } : first ? { teamId: first.id, name: parts.slice(1).join(' — ') } : { teamId: null, name: o };
      if (owner.name.length > 200) { this.error(r, r.sheet, 'owner', 'le nom du responsable dépasse 200 caractères'); owner = undefined; }
    }
    let fiches: number[] | undefined;
    const fcell = r.get('fiches');
    if (fcell !== undefined) {
      fiches = [];
      for (const part of splitList(cellText(fcell), { commas: true })) {
        const n = parseNumber(part);
        if (!n.ok || n.value === null) this.error(r, r.sheet, 'fiches', `${quoted(part)} n'est pas un numéro de fiche`);
        else if (!ficheNumbers.has(n.value)) this.error(r, r.sheet, 'fiches', `la fiche n°${n.value} n'existe ni dans le fichier ni dans le plan`);
        else if (!fiches.includes(n.value)) fiches.push(n.value);
      }
    }
    let instances: number[] | undefined;
    const icell = r.get('instances');
    if (icell !== undefined) {
      instances = [];
      for (const t of splitList(cellText(icell))) {
        const id = this.instance(r, 'instances', t);
        if (id !== undefined && !instances.includes(id)) instances.push(id);
      }
    }
    if (!existing) {
      if (!title) this.error(r, r.sheet, 'title', `le risque n°${number} n'existe pas encore : son intitulé est obligatoire`);
      if (likelihood === null || (likelihood === undefined && r.get('likelihood') === undefined)) this.error(r, r.sheet, 'likelihood', `la vraisemblance du risque n°${number} est obligatoire`);
      if (severity === null || (severity === undefined && r.get('severity') === undefined)) this.error(r, r.sheet, 'severity', `la gravité du risque n°${number} est obligatoire`);
    } else if (title === '') this.error(r, r.sheet, 'title', "l'intitulé du risque ne peut pas être vide");
    const residualL = rl === undefined ? existing?.residualLikelihood ?? null : rl;
    const residualS = rs === undefined ? existing?.residualSeverity ?? null : rs;
    if ((residualL === null) !== (residualS === null)) {
      this.error(r, r.sheet, residualL === null ? 'residualLikelihood' : 'residualSeverity', 'donnez la vraisemblance et la gravité résiduelles ensemble, ou aucune des deux');
    }
    if (this.errors.length > before) return undefined;
    return {
      number,
      title: title || existing?.title || '',
      description: description ?? existing?.description ?? '',
      scenario: scenario ?? existing?.scenario ?? '',
      ownerTeamId: owner ? owner.teamId : existing?.ownerTeamId ?? null,
      ownerName: owner ? owner.name : existing?.ownerName ?? '',
      likelihood: likelihood ?? existing!.likelihood,
      severity: severity ?? existing!.severity,
      existingMeasures: measures ?? existing?.existingMeasures ?? '',
      treatment: treatment ?? existing?.treatment ?? 'reduire',
      residualLikelihood: residualL, residualSeverity: residualS,
      ficheNumbers: fiches ?? existing?.ficheNumbers ?? [],
      instanceIds: instances ?? existing?.instanceIds ?? [],
    };
  }
}

// ────────────────────────────────────────────── the plan of an import

const FICHE_FIELD_LABELS: Record<string, string> = {
  title: 'titre', finding: 'constat', targetDate: 'date cible', status: 'statut', conclusion: "conclusion de l'étude",
  conclusionCounts: "chiffres de l'étude", costAmount: 'coût', costSource: 'source du coût', scope: 'périmètre',
  owners: 'porteurs', steps: 'étapes', sideEffects: 'effets de bord',
};
const RISK_FIELD_LABELS: Record<string, string> = {
  title: 'intitulé', description: 'description', scenario: 'scénario', owner: 'responsable', likelihood: 'vraisemblance',
  severity: 'gravité', existingMeasures: 'mesures existantes', treatment: 'traitement', residual: 'niveau résiduel',
  fiches: 'fiches', instances: 'instances',
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function ficheComparable(f: ImportedFiche | ExistingFiche) {
  return {
    title: f.title, finding: f.finding, targetDate: f.targetDate, status: f.status, conclusion: f.conclusion,
    conclusionCounts: f.conclusionCounts.map((c) => [c.count, c.total, c.label]),
    costAmount: f.costAmount, costSource: f.costSource,
    scope: f.scopeAll ? 'tout' : [...f.instanceIds].sort((a, b) => a - b),
    owners: f.owners.map((o) => [o.teamId ?? ('teamName' in o ? o.teamName : ''), o.serviceId]),
    steps: f.steps.map((s) => [s.position, s.label, s.status, Boolean(s.forCommunes), s.assignee, s.targetDate]),
    sideEffects: f.sideEffects.map((e) => [e.level, e.description]),
  };
}

function riskComparable(r: ImportedRisk | ExistingRisk) {
  return {
    title: r.title, description: r.description, scenario: r.scenario, owner: [r.ownerTeamId, r.ownerName], likelihood: r.likelihood,
    severity: r.severity, existingMeasures: r.existingMeasures, treatment: r.treatment, residual: [r.residualLikelihood, r.residualSeverity],
    fiches: [...r.ficheNumbers].sort((a, b) => a - b), instances: [...r.instanceIds].sort((a, b) => a - b),
  };
}

function changedFields<T extends Record<string, unknown>>(a: T, b: T, labels: Record<string, string>): string[] {
  return Object.keys(a).filter((k) => !same(a[k], b[k])).map((k) => labels[k] ?? k);
}

/** What importing these sheets, read as mapped, would do to the plan described by the context. */
export function planImport(sheets: readonly ImportSheet[], mappings: readonly SheetMapping[], ctx: ImportContext): ImportPlan {
  const it = new Interpreter(ctx);
  const used = mappings.filter((m) => m.kind !== null && sheets[m.sheet]);
  if (!used.length) {
    return {
      fiches: [], risks: [], notes: [], newTeams: [],
      errors: [{ sheet: sheets[0]?.name ?? '', row: null, column: null, message: "aucune feuille n'a été reconnue : vérifiez que la première ligne du tableau porte les intitulés des colonnes (téléchargez le modèle pour les voir), ou associez les colonnes ci-dessous" }],
    };
  }
  for (const m of used) {
    const problem = checkMapping(sheets[m.sheet]!, m);
    if (problem) it.errors.push({ sheet: sheets[m.sheet]!.name, row: null, column: null, message: problem });
  }
  if (it.errors.length) return { fiches: [], risks: [], errors: it.errors, notes: [], newTeams: [] };
  const order: PlanSheetKind[] = ['fiches', 'steps', 'sideEffects', 'owners', 'risks'];
  for (const kind of order) {
    for (const m of used.filter((x) => x.kind === kind)) {
      const sheet = sheets[m.sheet]!;
      if (kind === 'fiches') it.readFiches(sheet, m);
      else if (kind === 'steps') it.readSteps(sheet, m);
      else if (kind === 'sideEffects') it.readSideEffects(sheet, m);
      else if (kind === 'owners') it.readOwners(sheet, m);
      else it.readRisks(sheet, m);
    }
  }
  for (const m of mappings) {
    if (m.kind === null && sheets[m.sheet] && sheets[m.sheet]!.rows.length > 0) {
      it.notes.push(`La feuille « ${sheets[m.sheet]!.name} » n'est pas importée (elle n'est associée à aucune table du plan).`);
    }
  }

  const fiches: Change<ImportedFiche>[] = [];
  const existingByNumber = new Map(ctx.fiches.map((f) => [f.number, f]));
  for (const p of [...it.fiches.values()].sort((a, b) => a.number - b.number)) {
    const existing = existingByNumber.get(p.number);
    const where = p.where;
    // a required field already refused on that row (a date that is not one) is said once
    const errorAt = (message: string, field: string) => {
      if (!it.errors.some((e) => e.sheet === p.sheet && e.row === p.row && normaliseHeader(e.column ?? '') === normaliseHeader(field))) {
        it.errors.push({ sheet: p.sheet, row: p.row, column: field, message });
      }
    };
    if (!existing) {
      if (!p.title) errorAt(`la fiche n°${p.number} n'existe pas encore : son titre est obligatoire`, 'Titre');
      if (!p.targetDate) errorAt(`la fiche n°${p.number} n'existe pas encore : sa date cible est obligatoire`, 'Date cible');
      if (!p.owners?.length) errorAt(`la fiche n°${p.number} n'existe pas encore : indiquez au moins une équipe porteuse`, 'Porteurs');
    } else if (p.title === '') errorAt('le titre de la fiche ne peut pas être vide', 'Titre');
    else if (p.givenAt.has('targetDate') && p.targetDate === null) errorAt('la date cible ne peut pas être vide', 'Date cible');
    else if (p.owners && p.owners.length === 0) errorAt('indiquez au moins une équipe porteuse', 'Porteurs');
    const base: ExistingFiche | undefined = existing;
    const steps = p.steps
      ? sortSteps(p.steps).map((s, i) => {
          const kept = base?.steps[i];
          return {
            id: kept?.id ?? null, position: i + 1, label: s.label, status: s.status ?? (kept && kept.label === s.label ? kept.status : 'non_demarre'),
            forCommunes: s.forCommunes ?? kept?.forCommunes ?? false,
            assignee: s.assignee !== undefined ? s.assignee : kept?.assignee ?? null, targetDate: s.targetDate !== undefined ? s.targetDate : kept?.targetDate ?? null,
          };
        })
      : base?.steps.map((s) => ({ ...s })) ?? [];
    const input: ImportedFiche = {
      number: p.number,
      title: p.title ?? base?.title ?? '',
      finding: p.finding ?? base?.finding ?? '',
      targetDate: p.targetDate !== undefined ? p.targetDate : base?.targetDate ?? null,
      status: p.status ?? base?.status ?? 'non_demarre',
      conclusion: p.conclusion ?? base?.conclusion ?? '',
      conclusionCounts: p.conclusionCounts ?? base?.conclusionCounts ?? [],
      costAmount: p.costAmount !== undefined ? p.costAmount : base?.costAmount ?? null,
      costSource: p.costSource ?? base?.costSource ?? '',
      scopeAll: p.scope ? p.scope.all : base?.scopeAll ?? true,
      instanceIds: p.scope ? (p.scope.all ? [] : p.scope.instanceIds) : base?.instanceIds ?? [],
      owners: p.owners ?? base?.owners.map((o) => ({ ...o, teamName: ctx.teams.find((t) => t.id === o.teamId)?.name ?? '' })) ?? [],
      steps,
      sideEffects: p.sideEffects ?? base?.sideEffects ?? [],
    };
    if (!existing) {
      fiches.push({ kind: 'create', number: p.number, where, id: null, version: null, changed: [], input });
    } else {
      const changed = changedFields(ficheComparable(input), ficheComparable(existing), FICHE_FIELD_LABELS);
      fiches.push({ kind: changed.length ? 'update' : 'unchanged', number: p.number, where, id: existing.id, version: existing.version, changed, input });
    }
  }

  const ficheNumbers = new Set([...ctx.fiches.map((f) => f.number), ...it.fiches.keys()]);
  const risks: Change<ImportedRisk>[] = [];
  const riskByNumber = new Map(ctx.risks.map((r) => [r.number, r]));
  for (const [number, { where, cells }] of [...it.risks].sort((a, b) => a[0] - b[0])) {
    const existing = riskByNumber.get(number);
    const input = it.risk(number, cells, existing, ficheNumbers);
    if (!input) continue;
    if (!existing) risks.push({ kind: 'create', number, where, id: null, version: null, changed: [], input });
    else {
      const changed = changedFields(riskComparable(input), riskComparable(existing), RISK_FIELD_LABELS);
      risks.push({ kind: changed.length ? 'update' : 'unchanged', number, where, id: existing.id, version: existing.version, changed, input });
    }
  }
  it.errors.sort((a, b) => (a.sheet === b.sheet ? (a.row ?? 0) - (b.row ?? 0) : 0));
  return { fiches, risks, errors: it.errors, notes: it.notes, newTeams: [...it.newTeams.values()] };
}

/** Steps with a typed position first in that order, the others after them in the order of the rows. */
function sortSteps<T extends { position: number | null }>(steps: readonly T[]): T[] {
  return steps.map((s, i) => ({ s, i }))
    .sort((a, b) => (a.s.position ?? Number.MAX_SAFE_INTEGER) - (b.s.position ?? Number.MAX_SAFE_INTEGER) || a.i - b.i)
    .map(({ s }) => s);
}

/** "Ligne 14, colonne « Date cible » : « 31/02/2024 » n'est pas une date." */
export function errorText(e: LineError, withSheet: boolean): string {
  const where = [withSheet ? `Feuille « ${e.sheet} »` : '', e.row !== null ? `ligne ${e.row}` : '', e.column ? `colonne « ${e.column} »` : '']
    .filter((s) => s !== '').join(', ');
  const text = where ? `${where} : ${e.message}` : e.message;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

