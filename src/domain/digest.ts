import { addDays, format, parseISO } from 'date-fns';
import { isLate, ownersSummary, type Owner, type SideEffect, type Step, stepsProgress } from './fiche';
import { periodLabel } from './schedule';
import { STATUS_LABELS, type Status } from './statuses';

/** What the digest of one commune is built from: its fiches only, their scope already cut to its instances. */
export interface DigestInput {
  organisation: string;
  planTitle: string;
  commune: { id: number; name: string };
  period: string;
  /** The instant the changes are counted from: the commune's previous digest, or a month back for the first. */
  since: string;
  firstDigest: boolean;
  today: string;
  fiches: {
    id: number;
    number: number;
    title: string;
    status: Status;
    targetDate: string | null;
    owners: Owner[];
    steps: Step[];
    sideEffects: SideEffect[];
    instances: string[];
  }[];
  changes: Map<number, string[]>;
  milestones: { dueDate: string; title: string; done: boolean }[];
  nextMeeting: { title: string; startsAt: string; place: string } | null;
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
}

export interface Digest {
  subject: string;
  communeName: string;
  organisation: string;
  planTitle: string;
  periodLabel: string;
  sinceLabel: string;
  summary: { total: number; done: number; late: number; inProgress: number };
  fiches: DigestFiche[];
  communeSteps: { fiche: string; label: string; status: string }[];
  upcoming: { date: string; label: string }[];
  strongEffects: { fiche: string; description: string }[];
  nextMeeting: { title: string; date: string; place: string } | null;
  signInUrl: string;
}

const dmy = (d: string) => format(parseISO(d), 'dd/MM/yyyy');
/** Look-ahead of the "coming up" list. */
export const UPCOMING_DAYS = 60;

/**
 * The progress report of one commune: its fiches with what changed since its previous digest,
 * the steps that fall to it, the dates coming up, the strong side effects that affect it and the next meeting.
 */
export function buildDigest(input: DigestInput): Digest {
  const { fiches, today } = input;
  const horizon = format(addDays(parseISO(today), UPCOMING_DAYS), 'yyyy-MM-dd');
  const label = periodLabel(input.period);
  const name = (f: { number: number; title: string }) => `Fiche n°${f.number} — ${f.title}`;
  const upcoming = [
    ...fiches.filter((f) => f.status !== 'fait' && f.targetDate && f.targetDate >= today && f.targetDate <= horizon)
      .map((f) => ({ sort: f.targetDate!, date: dmy(f.targetDate!), label: `Date cible de la fiche n°${f.number} : ${f.title}` })),
    ...input.milestones.filter((m) => !m.done && m.dueDate >= today && m.dueDate <= horizon)
      .map((m) => ({ sort: m.dueDate, date: dmy(m.dueDate), label: m.title })),
  ].sort((a, b) => a.sort.localeCompare(b.sort)).map(({ date, label: l }) => ({ date, label: l }));
  return {
    subject: `Plan d'action RGS : point d'avancement pour ${input.commune.name} (${label})`,
    communeName: input.commune.name,
    organisation: input.organisation,
    planTitle: input.planTitle,
    periodLabel: label,
    sinceLabel: `${input.firstDigest ? 'depuis le' : 'depuis le précédent point, envoyé le'} ${dmy(input.since.slice(0, 10))}`,
    summary: {
      total: fiches.length,
      done: fiches.filter((f) => f.status === 'fait').length,
      late: fiches.filter((f) => isLate(f, today)).length,
      inProgress: fiches.filter((f) => f.status === 'en_cours').length,
    },
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
      };
    }),
    communeSteps: fiches.flatMap((f) => f.steps.filter((s) => s.forCommunes && s.status !== 'fait')
      .map((s) => ({ fiche: name(f), label: s.label, status: STATUS_LABELS[s.status] }))),
    upcoming,
    strongEffects: fiches.filter((f) => f.status !== 'fait')
      .flatMap((f) => f.sideEffects.filter((e) => e.level === 'fort').map((e) => ({ fiche: name(f), description: e.description }))),
    nextMeeting: input.nextMeeting
      ? { title: input.nextMeeting.title, date: format(parseISO(input.nextMeeting.startsAt), "dd/MM/yyyy 'à' HH'h'mm"), place: input.nextMeeting.place }
      : null,
    signInUrl: input.signInUrl,
  };
}
