import type { Response } from 'express';
import type { Knex } from 'knex';
import type { Repository } from '../../data/referentials';
import type { User } from '../../data/users';
import type { AppContext } from '../context';
import { type FieldErrors, str } from '../forms/fields';

/** One field of an administration form (admin/form.ejs draws them). */
export interface Field {
  name: string;
  label: string;
  type: 'text' | 'textarea' | 'number' | 'date' | 'checkbox' | 'select' | 'email' | 'password';
  hint?: string;
  required?: boolean;
  autocomplete?: string;
  options?: (db: Knex) => Promise<{ value: string; label: string }[]>;
}

export type Values = Record<string, string>;

/** What the administration pages call a kind of row: "Équipes", "une équipe". */
export interface Kind { slug: string; title: string; one: string }

export const optionsOf = (repo: Repository<{ id: number; name: string }, unknown>, none?: string) => async (db: Knex) => [
  ...(none !== undefined ? [{ value: '', label: none }] : []),
  ...(await repo.list(db)).map((i) => ({ value: String(i.id), label: i.name })),
];

/** The fields of a form as typed, to show them again. */
export const readValues = (fields: Field[], body: Record<string, unknown>): Values =>
  Object.fromEntries(fields.map((f) => [f.name, str(body[f.name])]));

/** The one administration form page, for a reference table's row or an account. */
export const formRenderer = (ctx: AppContext) =>
  async (res: Response, status: number, o: { e: Kind; fields: Field[]; values: Values; errors?: FieldErrors; id?: number; alert?: string; account?: User }) => {
    const options: Record<string, { value: string; label: string }[]> = {};
    for (const f of o.fields) if (f.options) options[f.name] = await f.options(ctx.db);
    res.status(status).render('admin/form', {
      title: o.id ? `Modifier ${o.e.one}` : `Ajouter ${o.e.one}`,
      entity: o.e, fields: o.fields, options, values: o.values, errors: o.errors ?? {}, id: o.id ?? null, alert: o.alert ?? null, account: o.account ?? null, now: ctx.now().toISOString(),
    });
  };
