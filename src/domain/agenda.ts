import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import { fr } from 'date-fns/locale/fr';
// The committee agenda (ordre du jour), as a display-ready model: the HTML page, the PDF and the
// frozen record of a held meeting are all made from this one JSON-serialisable value.
import { ANSWER_STATE_LABELS, type AnswerState, answersSummary } from './commune-answers';

/** Up to this many communes concerned, the agenda lists each one's answer, "sans réponse" included. */
export const ANSWERS_LISTED = 30;
import type { RiskRow } from './risk-committee';
import type { SideEffectLevel } from './statuses';

export interface AgendaStep {
  position: number; label: string; status: string;
  /** who does it and by when (dd/mm/yyyy, its own date or its fiche's), and whether that date passed: absent from agendas frozen before steps had them */
  assignee?: string | null; due?: string | null; late?: boolean;
}

/** "Déployer (En cours) — Camille Martin, pour le 15/04/2026, en retard": a step as the agenda writes it. */
export function stepLine(st: AgendaStep): string {
  const who = [st.assignee ?? '', st.due ? `pour le ${st.due}` : '', st.late ? 'en retard' : ''].filter(Boolean).join(', ');
  return `${st.label} (${st.status})${who ? ` — ${who}` : ''}`;
}

export interface AgendaFiche {
  ficheId: number;
  number: number;
  title: string;
  finding: string;
  steps: AgendaStep[];
  stepsDone: number;
  targetDate: string;
  late: boolean;
  status: string;
  progress: string;
  conclusion: string;
  conclusionCounts: string[];
  cost: string | null;
  owner: string;
  scope: string;
  sideEffects: { level: SideEffectLevel; levelLabel: string; description: string }[];
  /** What changed since the previous meeting of the plan, in French sentences. */
  changes: string[];
  /** Its evidence (its own, its steps' and its notes'), title and date (dd/mm/yyyy): absent from agendas frozen before evidence existed. */
  evidence?: { title: string; addedOn: string }[];
  /** A fiche followed instance by instance: its rollout in one sentence ("Fait sur 9 des 14 instances de production…"). */
  rollout?: string | null;
  /**
   * A fiche with a strong side effect: each commune concerned and its answer (acknowledged, objected, no answer, answered
   * a previous wording), with their count in one sentence. Absent without a strong side effect (or from older agendas).
   */
  communeAnswers?: AgendaCommuneAnswer[];
  communeAnswersSummary?: string;
  /**
   * How many communes the fiche concerns. Beyond ANSWERS_LISTED, `communeAnswers` holds the communes that answered
   * only: a thousand lines of "sans réponse" per fiche is not read, and made a national agenda weigh megabytes.
   */
  communeAnswersTotal?: number;
  /** The progress notes written by communes since the previous meeting, each labelled with its commune. */
  communeNotes?: { communeId: number; text: string }[];
}

/** One commune's answer to a fiche's strong side effects, as the agenda writes it. */
export interface AgendaCommuneAnswer {
  communeId: number;
  commune: string;
  state: AnswerState;
  label: string;
  /** dd/mm/yyyy of the answer, null without one. */
  date: string | null;
  comment: string;
  /** The whole answer in one sentence ("Objection le 12/03/2026 : « … »"), for the PDF. */
  text: string;
}

/** "Rapport du test d'intrusion (12/03/2026) ; Procédure signée (14/03/2026)", or null without evidence. */
export function evidenceLine(f: Pick<AgendaFiche, 'evidence'>): string | null {
  if (!f.evidence?.length) return null;
  return f.evidence.map((e) => `${e.title} (${e.addedOn})`).join(' ; ');
}

/** The instances of a service in one environment, for the perimeter section. */
export interface AgendaEnvironmentCount { label: string; count: number }

/** A perimeter line's counts per environment; an agenda frozen before the organisation's list has production and recette only. */
export function environmentCounts(line: { prod: number; recette: number; environments?: AgendaEnvironmentCount[] }): AgendaEnvironmentCount[] {
  return line.environments ?? [{ label: 'Production', count: line.prod }, { label: 'Recette', count: line.recette }];
}

/** "14 instances de production et 16 instances de recette": each environment's count as `part` writes it, joined in French. */
export function countsPhrase(line: { prod: number; recette: number; environments?: AgendaEnvironmentCount[] }, part: (count: number, label: string) => string): string {
  const parts = environmentCounts(line).map((e) => part(e.count, e.label.toLocaleLowerCase('fr')));
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} et ${parts.at(-1)}` : parts.join('');
}

/** A condition of the homologation's decision, followed as a fiche. */
export interface AgendaCondition {
  ficheId: number;
  number: number;
  title: string;
  text: string;
  status: string;
  /** dd/mm/yyyy or "—" */
  targetDate: string;
  late: boolean;
  owner: string;
}

/** A risk's changes since the previous meeting, with the communes of the instances it touched (for a commune's agenda). */
export interface AgendaRiskChange { riskId: number; number: number; title: string; changes: string[]; communeIds: number[] }

/** The risk table of the agenda: its rows (RiskRow: critical risks waiting on a late fiche first) and the changes since the previous meeting. */
export interface AgendaRisks {
  /** The critical classes, "Critique ou Très critique". */
  critical: string;
  risks: RiskRow[];
  changes: AgendaRiskChange[];
}

export type AgendaSection =
  | { key: 'ordre_du_jour'; title: string; items: string[] }
  | { key: 'objectif'; title: string; text: string }
  | {
      key: 'perimetre';
      title: string;
      /** prod and recette: the default environments (agendas frozen before the list); environments: every one present, in order. */
      lines: { service: string; prod: number; recette: number; environments?: AgendaEnvironmentCount[]; teams: string }[];
      communes: string[];
      reminder: string;
    }
  | { key: 'calendrier'; title: string; done: string[]; toDo: string[] }
  /** ficheId: absent from agendas frozen before the agenda was read a page at a time. */
  | { key: 'plan'; title: string; fiches: { ficheId?: number; number: number; title: string; status: string }[] }
  | { key: 'conditions'; title: string; decision: string; items: AgendaCondition[] }
  | ({ key: 'risques'; title: string } & AgendaRisks)
  | { key: 'fiche'; title: string; fiche: AgendaFiche }
  | { key: 'questions'; title: string; text: string };

export type SectionKey = AgendaSection['key'];

export interface Agenda {
  organisation: string;
  planTitle: string;
  meetingTitle: string;
  /** "mardi 24 novembre 2026, 14 h 00 – 16 h 00" */
  when: string;
  /** "24/11/2026", for footers */
  dateShort: string;
  place: string;
  previousMeeting: string | null;
  sections: AgendaSection[];
  generatedAt: string;
  /** A signature meeting: the communes' answers to strong side effects are stressed (absent from older agendas). */
  signature?: boolean;
}

/** The default order of the deck; fiche sections stand where "fiches" is. */
export const DEFAULT_SECTION_ORDER = ['ordre_du_jour', 'objectif', 'perimetre', 'calendrier', 'plan', 'fiches', 'questions'] as const;
export type OrderKey = (typeof DEFAULT_SECTION_ORDER)[number];

export const SECTION_TITLES: Record<OrderKey, string> = {
  ordre_du_jour: 'Ordre du jour proposé',
  objectif: 'Objectif de la séance',
  perimetre: "Périmètre de l'homologation",
  calendrier: 'Rappel du calendrier',
  plan: "Présentation du plan d'action",
  fiches: "Détail du plan d'action",
  questions: 'Questions diverses',
};

/** The section of the decision's conditions: not moved on its own, it stands just before the fiches' detail. */
export const CONDITIONS_TITLE = "Conditions de l'homologation";

/** The risk table: not moved on its own either, it stands before the conditions and the fiches' detail. */
export const RISKS_TITLE = 'Risques';

/** Reads a stored order, keeping only known keys once each and appending the missing ones. */
export function normaliseOrder(order: readonly string[]): OrderKey[] {
  const known = new Set<string>(DEFAULT_SECTION_ORDER);
  const kept = [...new Set(order.filter((k) => known.has(k)))] as OrderKey[];
  return [...kept, ...DEFAULT_SECTION_ORDER.filter((k) => !kept.includes(k))];
}

/** Moves one section up or down in the order. */
export function moveSection(order: readonly OrderKey[], key: OrderKey, direction: 'up' | 'down'): OrderKey[] {
  const list = [...order];
  const i = list.indexOf(key);
  const j = direction === 'up' ? i - 1 : i + 1;
  if (i < 0 || j < 0 || j >= list.length) return list;
  [list[i], list[j]] = [list[j]!, list[i]!];
  return list;
}

export interface AgendaInput {
  organisation: string;
  planTitle: string;
  planReminder: string;
  meeting: {
    title: string; startsAt: string; endsAt: string; place: string; visioUrl: string; objective: string; reminder: string; questions: string; sectionOrder: string[];
    kind?: string;
  };
  previousMeeting: { title: string; startsAt: string } | null;
  /** Per service: its counts, its managing teams, and whether communes' instances are among them. */
  perimeter: { serviceName: string; prod: number; recette: number; environments?: AgendaEnvironmentCount[]; teams: string[]; communal: boolean }[];
  communes: string[];
  milestones: { dueDate: string; title: string; done: boolean }[];
  /** The fiches detailed: all of the meeting's, or those of one page of the agenda (then `outline` lists them all). */
  fiches: Omit<AgendaFiche, 'changes'>[];
  /** Every fiche of the meeting, for the presentation of the plan, when `fiches` holds some of them only. */
  outline?: { ficheId: number; number: number; title: string; status: string }[];
  changes: Map<number, string[]>;
  /** The conditions of the decision that counts, when it set some. */
  conditions?: { decision: string; items: AgendaCondition[] } | null;
  /** The homologation's risks, when it has some (or some changed since the previous meeting). */
  risks?: AgendaRisks | null;
  generatedAt: Date;
}

function when(startsAt: string, endsAt: string): string {
  const start = parseISO(startsAt);
  const end = parseISO(endsAt);
  const time = (d: Date) => format(d, "HH' h 'mm");
  const sameDay = format(start, 'yyyy-MM-dd') === format(end, 'yyyy-MM-dd');
  return sameDay
    ? `${format(start, 'EEEE d MMMM yyyy', { locale: fr })}, ${time(start)} – ${time(end)}`
    : `du ${format(start, 'EEEE d MMMM yyyy', { locale: fr })} ${time(start)} au ${format(end, 'EEEE d MMMM yyyy', { locale: fr })} ${time(end)}`;
}

/** Builds the agenda of a meeting from the live plan, in the deck's structure and the editors' order. */
export function buildAgenda(input: AgendaInput): Agenda {
  const m = input.meeting;
  const month = (d: string) => format(parseISO(d), 'MMMM yyyy', { locale: fr });
  const order = normaliseOrder(m.sectionOrder);
  const conditions = input.conditions && input.conditions.items.length ? input.conditions : null;
  const risks = input.risks && (input.risks.risks.length || input.risks.changes.length) ? input.risks : null;
  const parts: Record<OrderKey, AgendaSection[]> = {
    ordre_du_jour: [],
    objectif: [{ key: 'objectif', title: SECTION_TITLES.objectif, text: m.objective }],
    perimetre: [{
      key: 'perimetre', title: SECTION_TITLES.perimetre,
      lines: input.perimeter.map((l) => ({
        service: l.serviceName, prod: l.prod, recette: l.recette, ...(l.environments ? { environments: l.environments } : {}),
        teams: l.teams.join(', ') + (l.communal ? ' et les communes' : ''),
      })),
      communes: input.communes,
      reminder: m.reminder || input.planReminder,
    }],
    calendrier: [{
      key: 'calendrier', title: SECTION_TITLES.calendrier,
      done: input.milestones.filter((x) => x.done).map((x) => `${capitalise(month(x.dueDate))} : ${x.title}`),
      toDo: input.milestones.filter((x) => !x.done).map((x) => `${capitalise(month(x.dueDate))} : ${x.title}`),
    }],
    plan: [{ key: 'plan', title: SECTION_TITLES.plan, fiches: (input.outline ?? input.fiches).map((f) => ({ ficheId: f.ficheId, number: f.number, title: f.title, status: f.status })) }],
    fiches: [
      ...(risks ? [{ key: 'risques' as const, title: RISKS_TITLE, ...risks }] : []),
      ...(conditions ? [{ key: 'conditions' as const, title: CONDITIONS_TITLE, decision: conditions.decision, items: conditions.items }] : []),
      ...input.fiches.map((f) => ({
        key: 'fiche' as const, title: `Détail de la fiche action n°${f.number}`, fiche: { ...f, changes: input.changes.get(f.ficheId) ?? [] },
      })),
    ],
    questions: [{ key: 'questions', title: SECTION_TITLES.questions, text: m.questions }],
  };
  parts.ordre_du_jour = [{ key: 'ordre_du_jour', title: SECTION_TITLES.ordre_du_jour, items: order.filter((k) => k !== 'ordre_du_jour').flatMap((k) => (k === 'fiches' ? [...(risks ? [RISKS_TITLE] : []), ...(conditions ? [CONDITIONS_TITLE] : []), SECTION_TITLES[k]] : [SECTION_TITLES[k]])) }];
  return {
    organisation: input.organisation,
    planTitle: input.planTitle,
    meetingTitle: m.title,
    when: when(m.startsAt, m.endsAt),
    dateShort: format(parseISO(m.startsAt), 'dd/MM/yyyy'),
    place: [m.place, m.visioUrl].filter(Boolean).join(' — '),
    previousMeeting: input.previousMeeting ? `${input.previousMeeting.title} du ${format(parseISO(input.previousMeeting.startsAt), 'dd/MM/yyyy')}` : null,
    sections: order.flatMap((k) => parts[k]),
    generatedAt: input.generatedAt.toISOString(),
    signature: m.kind === 'signature',
  };
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A fiche of the agenda as a commune's agent reads it: its own commune's answer and notes, no other commune's. */
function ownCommuneOnly(fiche: AgendaFiche, communeId: number | null, communeName: string | null): AgendaFiche {
  if (!fiche.communeAnswers && !fiche.communeNotes) return fiche;
  let answers = fiche.communeAnswers?.filter((a) => a.communeId === communeId);
  // a list of answers only (a large one): the commune that is not in it has not answered
  if (answers && !answers.length && communeId !== null && communeName) {
    answers = [{ communeId, commune: communeName, state: 'sans_reponse', label: ANSWER_STATE_LABELS.sans_reponse, date: null, comment: '', text: ANSWER_STATE_LABELS.sans_reponse }];
  }
  return {
    ...fiche,
    ...(answers ? { communeAnswers: answers, communeAnswersSummary: answersSummary(answers), communeAnswersTotal: answers.length } : {}),
    ...(fiche.communeNotes ? { communeNotes: fiche.communeNotes.filter((n) => n.communeId === communeId) } : {}),
  };
}

/**
 * The agenda as a commune agent may read it: only the fiches touching its instances, the risks touching them (as
 * they did when the agenda was made) with the fiches it may see, and no other commune's name (nor answer, nor note). Everyone else gets it whole.
 */
export function restrictAgenda(agenda: Agenda, visible: { ficheIds: Set<number>; communeName: string | null; communeId?: number | null } | null): Agenda {
  if (!visible) return agenda;
  const numbers = new Set(agenda.sections.flatMap((s) => (s.key === 'fiche' && visible.ficheIds.has(s.fiche.ficheId) ? [s.fiche.number] : [])));
  const sections = agenda.sections.flatMap((s): AgendaSection[] => {
    if (s.key === 'fiche') return visible.ficheIds.has(s.fiche.ficheId) ? [{ ...s, fiche: ownCommuneOnly(s.fiche, visible.communeId ?? null, visible.communeName) }] : [];
    // a fiche of the plan by its id (an agenda read a page at a time details only that page's), else by its number
    if (s.key === 'plan') return [{ ...s, fiches: s.fiches.filter((f) => (f.ficheId === undefined ? numbers.has(f.number) : visible.ficheIds.has(f.ficheId))) }];
    if (s.key === 'conditions') {
      const items = s.items.filter((c) => visible.ficheIds.has(c.ficheId));
      return items.length ? [{ ...s, items }] : [];
    }
    if (s.key === 'perimetre') return [{ ...s, communes: s.communes.filter((c) => c === visible.communeName) }];
    if (s.key === 'risques') {
      const touches = (r: { communeIds: number[] }) => visible.communeId !== undefined && visible.communeId !== null && r.communeIds.includes(visible.communeId);
      const risks = s.risks.filter(touches).map((r) => {
        const fiches = r.fiches.filter((f) => visible.ficheIds.has(f.ficheId));
        return { ...r, fiches, waiting: r.critical && fiches.some((f) => f.late) };
      });
      const changes = s.changes.filter(touches);
      return risks.length || changes.length ? [{ ...s, risks, changes }] : [];
    }
    return [s];
  });
  // the agenda's list of sections names the risk table only when the commune still has one
  const withRisks = sections.some((s) => s.key === 'risques');
  return { ...agenda, sections: sections.map((s) => (s.key === 'ordre_du_jour' && !withRisks ? { ...s, items: s.items.filter((i) => i !== RISKS_TITLE) } : s)) };
}
