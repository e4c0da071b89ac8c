import { isValid } from 'date-fns/isValid';
import { parseISO } from 'date-fns/parseISO';
import { z } from 'zod';

export type FieldErrors = Record<string, string>;

/** Turns a zod failure into one French message per field, keyed by its path ("steps.2.label"). */
export function fieldErrors(error: z.ZodError, prefix = ''): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of error.issues) {
    const key = prefix + issue.path.join('.');
    errors[key] ??= issue.message;
  }
  return errors;
}

export const str = (value: unknown): string => (typeof value === 'string' ? value : Array.isArray(value) ? str(value[0]) : '');

/** Form rows arrive as an array or, past qs's array limit, as an object keyed by index. */
export function rows(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'object' && v !== null);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .filter(([k, v]) => /^\d+$/.test(k) && typeof v === 'object' && v !== null)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, v]) => v as Record<string, unknown>);
  }
  return [];
}

export const strings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string');

export const requiredText = (max: number, missing: string) =>
  z.string().trim().min(1, { error: missing }).max(max, { error: `${max} caractères au maximum.` });

export const optionalText = (max: number) => z.string().trim().max(max, { error: `${max} caractères au maximum.` });

/** The years a date typed in the app may fall in. */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2100;

export const isoDate = (missing: string) =>
  z
    .string()
    .trim()
    .min(1, { error: missing })
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'Saisissez une date valide (jj/mm/aaaa).' })
    .refine((v) => isValid(parseISO(v)), { error: "Cette date n'existe pas.", abort: true })
    // Year 0000 or 9999 is a typing slip, not a plan date: refused here, for every date field of the app.
    .refine((v) => { const year = Number(v.slice(0, 4)); return year >= MIN_YEAR && year <= MAX_YEAR; }, { error: `Saisissez une année entre ${MIN_YEAR} et ${MAX_YEAR}.` });

export const idString = (missing: string) =>
  z.string().regex(/^\d{1,9}$/, { error: missing }).transform(Number);

/** The one e-mail rule of every form (accounts, contacts, members, decision authority). */
export const emailAddress = (missing: string, example = 'prenom.nom@exemple.fr') =>
  z.string().trim().min(1, { error: missing }).max(254, { error: '254 caractères au maximum.' })
    .pipe(z.email({ error: `Saisissez une adresse électronique valide (par exemple ${example}).` }));

/** A form's fields as typed (strings), to show them again next to the errors. */
export type FormValues<S extends z.ZodObject> = { [K in keyof S['shape']]: string };

export type ParsedForm<S extends z.ZodObject> =
  | { ok: true; data: z.output<S>; values: FormValues<S> }
  | { ok: false; errors: FieldErrors; values: FormValues<S> };

/**
 * Reads the fields a schema names from a request body (each as one string, whatever was sent) and checks them:
 * the parsed data, or one French message per field; the typed values either way, to fill the form again.
 */
export function parseForm<S extends z.ZodObject>(schema: S, body: unknown): ParsedForm<S> {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const values = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, str(source[k])])) as FormValues<S>;
  const parsed = schema.safeParse(values);
  return parsed.success ? { ok: true, data: parsed.data, values } : { ok: false, errors: fieldErrors(parsed.error), values };
}
