import { z } from 'zod';
import { emailAddress } from './fields';

/** Sign-in: both fields present (the address's format is not checked: a typo gets the same refusal as a wrong password). */
export const signInForm = z.object({
  email: z.string().trim().min(1, { error: 'Saisissez votre adresse électronique.' }),
  // a password is taken as typed, spaces included
  password: z.string().min(1, { error: 'Saisissez votre mot de passe.' }),
});

/** The second factor after a right password: a TOTP code or a recovery code. */
export const signInCodeForm = z.object({
  code: z.string().trim().min(1, { error: 'Saisissez le code à 6 chiffres de votre application, ou un code de secours.' }),
});

export const forgottenPasswordForm = z.object({
  email: emailAddress('Saisissez une adresse électronique valide (par exemple prenom.nom@exemple.fr).'),
});

/** A new password, typed twice; the policy, the match and the history are the service's rules (they need the account). */
export const newPasswordForm = z.object({ password: z.string(), confirm: z.string() });

/** The signed-in user's change of password: the current one, then the new one twice. */
export const changePasswordForm = z.object({ current: z.string(), password: z.string(), confirm: z.string() });

/** A second-factor code typed in a signed-in session (enrolment, new recovery codes); a wrong or empty one is refused the same. */
export const totpCodeForm = z.object({ code: z.string() });
