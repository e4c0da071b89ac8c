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

const utc = (d: Date): DateArray => [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()];

/** An iCalendar invitation for a meeting (times in UTC); participants without e-mail are named in the description. */
export function meetingIcs(m: IcsMeeting): string {
  if (m.end.getTime() <= m.start.getTime()) throw new Error("La fin de la séance doit être après son début.");
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
  if (error || !value) throw new Error(`Invitation impossible à générer : ${error?.message ?? 'erreur inconnue'}`);
  return value;
}
