// Length first, as ANSSI recommends, plus a refusal of the passwords everyone tries.
export const MIN_PASSWORD_LENGTH = 12;

const COMMON = new Set([
  'motdepasse', 'motdepasse123', 'password', 'password123', 'azertyuiop', 'azertyuiop123', 'qwertyuiop',
  '123456789012', '1234567890ab', 'abcdefghijkl', 'bonjour12345', 'soleil123456', 'administrateur', 'changeme1234',
  'aaaaaaaaaaaa', 'motdepasse2024', 'motdepasse2025', 'motdepasse2026', 'azerty123456',
]);

/** Returns a French message explaining why the password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, context: { email?: string; name?: string } = {}): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `Le mot de passe doit contenir au moins ${MIN_PASSWORD_LENGTH} caractères.`;
  }
  if (password.length > 256) return 'Le mot de passe ne doit pas dépasser 256 caractères.';
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || new Set(lower).size < 5) {
    return 'Ce mot de passe est trop courant ou trop répétitif : choisissez une phrase de passe plus originale.';
  }
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) {
    return 'Le mot de passe ne doit pas contenir votre adresse électronique.';
  }
  return null;
}
