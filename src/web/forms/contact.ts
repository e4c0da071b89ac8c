import { z } from 'zod';
import { emailAddress, optionalText, requiredText } from './fields';

const contactFields = {
  name: requiredText(150, 'Saisissez le nom du contact.'),
  email: emailAddress("Saisissez l'adresse électronique du contact.", 'prenom.nom@commune.fr'),
  function: optionalText(150),
};

/** A commune's contact, who receives its digests. */
export const contactForm = z.object(contactFields);

/** Editing a contact: its fields, and the box that subscribes again a contact who had unsubscribed. */
export const contactEditForm = z.object({ ...contactFields, resubscribe: z.string().transform((v) => v === 'on') });

export const CONTACT_TAKEN = 'Cette adresse est déjà parmi les contacts de la commune.';
