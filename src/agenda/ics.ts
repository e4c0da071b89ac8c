import { createEvent, type DateArray } from 'ics';

export interface IcsMeeting {
  uid: string;
  title: string;
  description: string;
  start: Date;
  end: Date;
  location: string;
  url?: string;
  organizer?: { name: string; email: string };
  attendees: { name: string; email?: string }[];
}

/** A meeting that cannot be written as an invitation (its end not after its start, an unreadable date). */
export class IcsError extends Error {}

const utc = (d: Date): DateArray => [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()];

/** An iCalendar invitation for a meeting (times in UTC); participants without e-mail are named in the description. */
export function meetingIcs(m: IcsMeeting): string {
  if (Number.isNaN(m.start.getTime()) || Number.isNaN(m.end.getTime())) throw new IcsError("sa date ou son heure est illisible");
  if (m.end.getTime() <= m.start.getTime()) throw new IcsError("sa fin n'est pas après son début");
  const withMail = m.attendees.filter((a) => a.email);
  const withoutMail = m.attendees.filter((a) => !a.email).map((a) => a.name);
  const description = [m.description, withoutMail.length ? `Participants : ${withoutMail.join(', ')}` : ''].filter(Boolean).join('\n\n');
  const { error, value } = createEvent({
    uid: m.uid,
    title: m.title,
    description,
    start: utc(m.start),
    startInputType: 'utc',
    startOutputType: 'utc',
    end: utc(m.end),
    endInputType: 'utc',
    endOutputType: 'utc',
    location: m.location || undefined,
    url: m.url,
    organizer: m.organizer,
    attendees: withMail.map((a) => ({ name: a.name, email: a.email!, rsvp: true, role: 'REQ-PARTICIPANT' as const })),
    productId: 'plan-action-rgs',
  });
  if (error || !value) throw new IcsError(`format iCalendar refusé : ${error?.message ?? 'erreur inconnue'}`);
  return value;
}
