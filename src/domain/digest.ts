import { addDays } from 'date-fns/addDays';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import { answerState, atYourPlace, awaitsAnswer, type StoredAnswer, strongEffects } from './commune-answers';
import { isLate, ownersSummary, type Owner, type SideEffect, type Step, stepsProgress } from './fiche';
import { rolloutShort } from './rollout';
import { type DecisionFacts, type HomologationState, OUTCOME_LABELS, STATE_LABELS, validityPhrase } from './homologation';
import { periodLabel } from './schedule';
import { STATUS_LABELS, type Status } from './statuses';

/** The fiches of one homologation visible to the commune, their scope already cut to its instances. */
export interface DigestFicheInput {
  id: number;
  number: number;
  title: string;
  status: Status;
  targetDate: string | null;
  owners: Owner[];
  steps: Step[];
  sideEffects: SideEffect[];
  instances: string[];
  /** The fiche of the renewed homologation this one continues, when carried over by a renewal. */
  carriedFrom?: { homologation: string; number: number } | null;
  /** The fiche of a renewal that continues this one. */
  continuedIn?: { homologation: string; number: number } | null;
  /** A fiche followed instance by instance: its rollout on the commune's own instances. */
  rollout?: { done: number; total: number } | null;
}

/** One homologation touching the commune, with what its section tells. */
export interface DigestSectionInput {
  homologation: { id: number; title: string; state: HomologationState; decision: DecisionFacts | null; url: string };
  fiches: DigestFicheInput[];
  changes: Map<number, string[]>;
  milestones: { dueDate: string; title: string; done: boolean }[];
  nextMeeting: { title: string; startsAt: string; place: string } | null;
  /** The commune's page in this homologation, where it answers (absolute). */
  communeUrl?: string;
  /** The commune's own status of each step "à mener par les communes" (absent: not started; no map: the step's own status). */
  communeStepStatuses?: Map<number, Status>;
  /** The commune's answer to each fiche's strong side effects (absent: none yet). */
  sideEffectAnswers?: Map<number, Pick<StoredAnswer, 'answer' | 'effects' | 'answeredAt'>>;
}

/** What the digest of one commune is built from: one section per homologation touching its instances. */
export interface DigestInput {
  organisation: string;
  commune: { id: number; name: string };
  period: string;
  /** The instant the changes are counted from: the commune's previous digest, or a month back for the first. */
  since: string;
  firstDigest: boolean;
  today: string;
  sections: DigestSectionInput[];
  signInUrl: string;
}

export interface DigestFiche {
  number: number;
  title: string;
  status: string;
  targetDate: string;
  late: boolean;
  owner: string;
  steps: string;
  instances: string;
  changes: string[];
  /** Where it comes from or goes on after a renewal: both homologations may touch the commune. */
  renewal: string | null;
  /** "chez vous : 2 instances sur 3", for a fiche followed instance by instance. */
  rollout: string | null;
}

export interface DigestSummary { total: number; done: number; late: number; inProgress: number }

/** One homologation's part of the digest. */
export interface DigestSection {
  title: string;
  /** Its life-cycle state, as the app labels it. */
  state: string;
  /** Its decision and end of validity in one sentence. */
  validity: string;
  url: string;
  summary: DigestSummary;
  fiches: DigestFiche[];
  communeSteps: { fiche: string; label: string; status: string }[];
  upcoming: { date: string; label: string }[];
  /** Each strong side effect, with where the commune stands on its fiche's (its acknowledgement, objection or none yet). */
  strongEffects: { fiche: string; description: string; answer: string; awaiting: boolean }[];
  /** How many fiches' strong side effects still wait for the commune's answer. */
  awaitingAnswers: number;
  /** The commune's page in this homologation, where it answers; null when not given. */
  communeUrl: string | null;
  nextMeeting: { title: string; date: string; place: string } | null;
}

export interface Digest {
  subject: string;
  communeName: string;
  organisation: string;
  /** The header line of the message: the homologation's name, or how many there are. */
  heading: string;
  periodLabel: string;
  sinceLabel: string;
  /** All the sections together. */
  summary: DigestSummary;
  sections: DigestSection[];
  signInUrl: string;
}

const dmy = (d: string) => format(parseISO(d), 'dd/MM/yyyy');
/** Look-ahead of the "coming up" list. */
export const UPCOMING_DAYS = 60;

/** "Homologuée sous conditions le 16/06/2023, valable jusqu'au 15/06/2026 (expire dans 91 jours)." */
export function decisionSentence(decision: DecisionFacts | null, today: string): string {
  if (!decision) return "Pas encore de décision d'homologation.";
  const decided = `${OUTCOME_LABELS[decision.outcome]} le ${dmy(decision.decidedOn)}`;
  if (decision.outcome === 'refusee' || !decision.endsOn) return `${decided}.`;
  return `${decided}, valable jusqu'au ${dmy(decision.endsOn)} (${validityPhrase(decision.endsOn, today)}).`;
}

function summaryOf(fiches: { status: Status; targetDate: string | null }[], today: string): DigestSummary {
  return {
    total: fiches.length,
    done: fiches.filter((f) => f.status === 'fait').length,
    late: fiches.filter((f) => isLate(f, today)).length,
    inProgress: fiches.filter((f) => f.status === 'en_cours').length,
  };
}

/**
 * One homologation's section: its fiches with what changed since the commune's previous digest, the steps that fall
 * to the commune, the dates coming up, the strong side effects that affect it and its next meeting.
 */
export function buildSection(input: DigestSectionInput, today: string): DigestSection {
  const { fiches } = input;
  const horizon = format(addDays(parseISO(today), UPCOMING_DAYS), 'yyyy-MM-dd');
  const name = (f: { number: number; title: string }) => `Fiche n°${f.number} — ${f.title}`;
  const open = fiches.filter((f) => f.status !== 'fait');
  const communeStatus = (s: Step): Status => (input.communeStepStatuses && s.id !== undefined ? input.communeStepStatuses.get(s.id) ?? 'non_demarre' : s.status);
  /** Where the commune stands on a fiche's strong side effects, in a sentence. */
  const answerPhrase = (f: DigestFicheInput): { answer: string; awaiting: boolean } => {
    const answer = input.sideEffectAnswers?.get(f.id);
    const state = answerState(answer, strongEffects(f.sideEffects));
    const on = answer ? dmy(answer.answeredAt.slice(0, 10)) : '';
    const text = {
      sans_reponse: 'votre réponse est attendue',
      a_renouveler: `votre réponse du ${on} porte sur une version antérieure : elle est à renouveler`,
      prise_acte: `votre commune en a pris acte le ${on}`,
      objection: `votre commune a fait objection le ${on}`,
    }[state];
    return { answer: text, awaiting: awaitsAnswer(state) };
  };
  const upcoming = [
    ...fiches.filter((f) => f.status !== 'fait' && f.targetDate && f.targetDate >= today && f.targetDate <= horizon)
      .map((f) => ({ sort: f.targetDate!, date: dmy(f.targetDate!), label: `Date cible de la fiche n°${f.number} : ${f.title}` })),
    ...input.milestones.filter((m) => !m.done && m.dueDate >= today && m.dueDate <= horizon)
      .map((m) => ({ sort: m.dueDate, date: dmy(m.dueDate), label: m.title })),
  ].sort((a, b) => a.sort.localeCompare(b.sort)).map(({ date, label: l }) => ({ date, label: l }));
  return {
    title: input.homologation.title,
    state: STATE_LABELS[input.homologation.state],
    validity: decisionSentence(input.homologation.decision, today),
    url: input.homologation.url,
    summary: summaryOf(fiches, today),
    fiches: fiches.map((f) => {
      const p = stepsProgress(f.steps);
      return {
        number: f.number,
        title: f.title,
        status: STATUS_LABELS[f.status],
        targetDate: f.targetDate ? dmy(f.targetDate) : 'non fixée',
        late: isLate(f, today),
        owner: ownersSummary(f.owners) || 'non désigné',
        steps: `${p.done} action${p.done > 1 ? 's' : ''} faite${p.done > 1 ? 's' : ''} sur ${p.total}`,
        instances: f.instances.join(', '),
        changes: input.changes.get(f.id) ?? [],
        renewal: f.carriedFrom ? `Reprise de la fiche n°${f.carriedFrom.number} de l'homologation « ${f.carriedFrom.homologation} ».`
          : f.continuedIn ? `Reprise dans le renouvellement « ${f.continuedIn.homologation} » (fiche n°${f.continuedIn.number}).` : null,
        rollout: f.rollout ? atYourPlace(rolloutShort(f.rollout)) : null,
      };
    }),
    // each commune has its own status of these steps: the commune's, when known
    communeSteps: fiches.flatMap((f) => f.steps.filter((s) => s.forCommunes).map((s) => ({ s, status: communeStatus(s) }))
      .filter(({ status }) => status !== 'fait').map(({ s, status }) => ({ fiche: name(f), label: s.label, status: STATUS_LABELS[status] }))),
    upcoming,
    strongEffects: open.flatMap((f) => {
      const answer = answerPhrase(f);
      return f.sideEffects.filter((e) => e.level === 'fort').map((e) => ({ fiche: name(f), description: e.description, ...answer }));
    }),
    awaitingAnswers: open.filter((f) => strongEffects(f.sideEffects).length && answerPhrase(f).awaiting).length,
    communeUrl: input.communeUrl ?? null,
    nextMeeting: input.nextMeeting
      ? { title: input.nextMeeting.title, date: format(parseISO(input.nextMeeting.startsAt), "dd/MM/yyyy 'à' HH'h'mm"), place: input.nextMeeting.place }
      : null,
  };
}

/** The progress report of one commune: one message, a section per homologation touching its instances. */
export function buildDigest(input: DigestInput): Digest {
  const label = periodLabel(input.period);
  const sections = input.sections.map((s) => buildSection(s, input.today));
  return {
    subject: `Plan d'action RGS : point d'avancement pour ${input.commune.name} (${label})`,
    communeName: input.commune.name,
    organisation: input.organisation,
    heading: sections.length === 1 ? sections[0]!.title : `${sections.length} homologations vous concernent`,
    periodLabel: label,
    sinceLabel: `${input.firstDigest ? 'depuis le' : 'depuis le précédent point, envoyé le'} ${dmy(input.since.slice(0, 10))}`,
    summary: summaryOf(input.sections.flatMap((s) => s.fiches), input.today),
    sections,
    signInUrl: input.signInUrl,
  };
}
