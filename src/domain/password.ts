/**
 * The password policy the admin sets. Defaults follow ANSSI's recommendations on passwords
 * (« Recommandations relatives à l'authentification multifacteur et aux mots de passe », 2021):
 * length first (12 characters, more than 80 bits for a random password… and room for passphrases up to 128),
 * no composition rule (they lead to "Motdepasse1!"), a refusal of common and repetitive passwords and of the
 * user's own name or address, no periodic expiry (it pushes to predictable variations; change on suspicion
 * instead), and a history of the last 5 so a forced change is a real change. Everything is configurable for
 * policies such as the partner portal's of seed 003 (length bounds, classes, history, validity).
 */
export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
  /** How many of the four classes (lower case, upper case, digit, other) must be present: 0 = no rule. */
  classes: number;
  /** The last N passwords may not be reused: 0 = no history. */
  history: number;
  /** Days before a password must be changed: 0 = it does not expire. */
  maxAgeDays: number;
}

export const DEFAULT_POLICY: PasswordPolicy = { minLength: 12, maxLength: 128, classes: 0, history: 5, maxAgeDays: 0 };

/** Kept for the command line and messages: the default minimum. */
export const MIN_PASSWORD_LENGTH = DEFAULT_POLICY.minLength;

const COMMON = new Set([
  'motdepasse', 'motdepasse123', 'password', 'password123', 'azertyuiop', 'azertyuiop123', 'qwertyuiop',
  '123456789012', '1234567890ab', 'abcdefghijkl', 'bonjour12345', 'soleil123456', 'administrateur', 'changeme1234',
  'aaaaaaaaaaaa', 'motdepasse2024', 'motdepasse2025', 'motdepasse2026', 'azerty123456', 'motdepasse1!', 'motdepasse01',
  'azertyuiop1!', 'marseille2026', 'lyonmetropole', 'metropole2026', 'bienvenue123', 'bienvenue2026', 'jesuisadmin',
]);

const CLASSES: [RegExp, string][] = [[/[a-z]/, 'une minuscule'], [/[A-Z]/, 'une majuscule'], [/\d/, 'un chiffre'], [/[^A-Za-z0-9]/, 'un autre caractère']];

/** Returns a French message explaining why the password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, context: { email?: string; name?: string } = {}, policy: PasswordPolicy = DEFAULT_POLICY): string | null {
  if (password.length < policy.minLength) return `Le mot de passe doit contenir au moins ${policy.minLength} caractères.`;
  if (password.length > policy.maxLength) return `Le mot de passe ne doit pas dépasser ${policy.maxLength} caractères.`;
  const present = CLASSES.filter(([re]) => re.test(password)).length;
  if (present < policy.classes) {
    return `Le mot de passe doit mêler au moins ${policy.classes} de ces quatre types de caractères : ${CLASSES.map(([, l]) => l).join(', ')}.`;
  }
  const lower = password.toLowerCase();
  // "Motdepasse2026!" is "motdepasse2026" with a capital and a sign: compare without them.
  const bare = lower.replace(/[^a-z0-9]+$/, '').replace(/^[^a-z0-9]+/, '');
  if (COMMON.has(lower) || COMMON.has(bare) || new Set(lower).size < 5) {
    return 'Ce mot de passe est trop courant ou trop répétitif : choisissez une phrase de passe plus originale.';
  }
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) return 'Le mot de passe ne doit pas contenir votre adresse électronique.';
  const names = (context.name ?? '').toLowerCase().split(/[\s-]+/).filter((n) => n.length >= 4);
  if (names.some((n) => lower.includes(n))) return 'Le mot de passe ne doit pas contenir votre nom.';
  return null;
}

/** Whether a password set at `changedAt` has expired at `now` under the policy. */
export function passwordExpired(changedAt: string | null, now: Date, policy: PasswordPolicy): boolean {
  if (!policy.maxAgeDays || !changedAt) return false;
  return now.getTime() - new Date(changedAt).getTime() > policy.maxAgeDays * 86_400_000;
}
