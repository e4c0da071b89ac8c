import { type MessageKind, OUTBOX_STATUSES, type OutboxStatus } from '../../data/outbox';
import { str } from './fields';

export type OutboxQuery =
  | { ok: true; status: OutboxStatus | ''; kind: MessageKind | ''; page: number }
  | { ok: false; message: string };

/**
 * Reads the send log's filters (state, kind of message among `kinds`; empty: all) and its page (1 when absent or not
 * a number). An unknown state or kind is a French message, not an empty log.
 */
export function readOutboxQuery(source: Record<string, unknown>, kinds: readonly MessageKind[]): OutboxQuery {
  const status = str(source.etat);
  const kind = str(source.type);
  if (status && !(OUTBOX_STATUSES as readonly string[]).includes(status)) return { ok: false, message: "L'état demandé n'existe pas : choisissez-en un dans la liste." };
  if (kind && !(kinds as readonly string[]).includes(kind)) return { ok: false, message: "Le type de message demandé n'existe pas : choisissez-en un dans la liste." };
  const page = Math.max(1, Number(/^\d{1,6}$/.test(str(source.page)) ? str(source.page) : '1'));
  return { ok: true, status: status as OutboxStatus | '', kind: kind as MessageKind | '', page };
}
