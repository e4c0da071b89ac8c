import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import { fr } from 'date-fns/locale/fr';
import { countsPhrase } from '../domain/agenda';
import { de, plural, shorten, withEnvironment } from '../domain/words';
import { periodLabel } from '../domain/schedule';
import { ownersByTeam, ownersSummary } from '../domain/fiche';
import { ROLE_LABELS } from '../domain/roles';
import { SIDE_EFFECT_LABELS, STATUS_BADGES, STATUS_LABELS } from '../domain/statuses';

/** A calendar date as stored (yyyy-MM-dd), month and day in range; anything else goes through date-fns. */
const PLAIN_DATE = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** Plain functions the views may call: formatting only, never a query. */
export const viewHelpers = {
  STATUS_LABELS,
  STATUS_BADGES,
  SIDE_EFFECT_LABELS,
  ROLE_LABELS,
  ownersSummary,
  ownersByTeam,
  countsPhrase,
  /** 2026-06-30 → 30/06/2026 (a plain date is only reordered: long lists of dates do not parse each one) */
  date(value: string | null | undefined): string {
    if (!value) return '—';
    const plain = PLAIN_DATE.exec(value);
    if (plain) return `${plain[3]}/${plain[2]}/${plain[1]}`;
    return format(parseISO(value), 'dd/MM/yyyy');
  },
  /** 2026-06-30 → juin 2026 */
  month(value: string): string {
    return format(parseISO(value), 'MMMM yyyy', { locale: fr });
  },
  /** An ISO instant → 24/11/2026 à 14:05 */
  dateTime(value: string | null | undefined): string {
    if (!value) return '—';
    return format(parseISO(value), "dd/MM/yyyy 'à' HH:mm");
  },
  euros(amount: number | null): string {
    if (amount === null) return '—';
    return `${new Intl.NumberFormat('fr-FR').format(amount)} €`;
  },
  plural,
  shorten,
  withEnvironment,
  de,
  periodLabel,
};
