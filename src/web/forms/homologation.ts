import { z } from 'zod';
import type { Instance, Service } from '../../data/referentials';
import { MEMBER_ROLES } from '../../domain/homologation';
import { type FieldErrors, optionalText, parseForm, requiredText, strings } from './fields';

/** A service of the organisation with its instances: one group of the perimeter's checkboxes. */
export interface PerimeterGroup { service: Service; instances: Instance[] }

export interface PerimeterValues { instanceIds: string[]; serviceIds: string[] }

export const PERIMETER_GONE =
  "Une instance ou un service coché n'existe plus dans le catalogue de l'organisation : vérifiez le périmètre et enregistrez à nouveau.";
export const INSTANCE_DELETED_MEANWHILE =
  "Une instance cochée vient d'être supprimée du catalogue : vérifiez le périmètre et enregistrez à nouveau.";

/**
 * Reads the perimeter's checkboxes: the instances ticked, plus every instance of a service ticked as a whole.
 * An id the catalogue does not hold (deleted meanwhile, or forged) is an error, never silently dropped.
 */
export function readPerimeter(body: Record<string, unknown>, choices: PerimeterGroup[]): { values: PerimeterValues; ids: number[]; error?: string } {
  const values = { instanceIds: strings(body.instanceIds), serviceIds: strings(body.serviceIds) };
  const known = new Map(choices.flatMap((g) => g.instances.map((i) => [String(i.id), i.id] as const)));
  const services = new Map(choices.map((g) => [String(g.service.id), g.instances.map((i) => i.id)] as const));
  const unknown = values.instanceIds.some((v) => !known.has(v)) || values.serviceIds.some((v) => !services.has(v));
  const ids = new Set([...values.instanceIds.flatMap((v) => (known.has(v) ? [known.get(v)!] : [])), ...values.serviceIds.flatMap((v) => services.get(v) ?? [])]);
  return { values, ids: [...ids].sort((a, b) => a - b), error: unknown ? PERIMETER_GONE : undefined };
}

const homologationFields = {
  title: requiredText(200, "Saisissez le nom de l'homologation."),
  organisation: requiredText(200, "Saisissez le nom de l'organisation qui porte l'homologation."),
  description: optionalText(5000),
};

/** Creating a homologation: its name, organisation, description (and its perimeter, read by readPerimeter). */
export const homologationForm = z.object(homologationFields);
/** A homologation's settings: the creation's fields and the reminder shown on its page. */
export const homologationSettingsForm = z.object({ ...homologationFields, reminder: optionalText(2000) });

type HomologationSchema = typeof homologationForm | typeof homologationSettingsForm;

export type HomologationFormValues<S extends HomologationSchema> = { [K in keyof S['shape']]: string } & PerimeterValues;

export type ReadHomologation<S extends HomologationSchema> =
  | { ok: true; data: z.output<S> & { instanceIds: number[] }; values: HomologationFormValues<S> }
  | { ok: false; errors: FieldErrors; values: HomologationFormValues<S> };

/** Reads a homologation's fields and its perimeter together, so that every error shows at once. */
export function readHomologationForm<S extends HomologationSchema>(schema: S, body: unknown, choices: PerimeterGroup[]): ReadHomologation<S> {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const form = parseForm(schema, source);
  const perimeter = readPerimeter(source, choices);
  const values = { ...form.values, ...perimeter.values } as HomologationFormValues<S>;
  if (form.ok && !perimeter.error) return { ok: true, data: { ...form.data, instanceIds: perimeter.ids }, values };
  const errors: FieldErrors = form.ok ? {} : { ...form.errors };
  if (perimeter.error) errors.instanceIds = perimeter.error;
  return { ok: false, errors, values };
}

const memberRole = z.enum(MEMBER_ROLES, { error: 'Choisissez un rôle dans la liste : équipe projet ou comité.' });

/** Adding a member: an account of the list, and its role in the homologation. */
export const memberForm = z.object({
  userId: z.string().regex(/^\d{1,9}$/, { error: 'Choisissez une personne dans la liste.' }).transform(Number),
  role: memberRole,
});

/** Changing a member's role. */
export const memberRoleForm = z.object({ role: memberRole });

/** Preparing the renewal: the new homologation's name. */
export const renewalForm = z.object({ title: requiredText(200, 'Saisissez le nom de la nouvelle homologation.') });
