import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

const PERIOD = 30;
const ISSUER = "Plan d'action RGS";

const totpOf = (secret: string, label = '') => new TOTP({ issuer: ISSUER, label, secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: PERIOD });

/** A new random TOTP secret (160 bits, base32), as authenticator apps expect. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The otpauth:// address an authenticator app reads from the QR code. */
export const totpUri = (secret: string, email: string): string => totpOf(secret, email).toString();

/** The QR code of that address, as inline SVG markup (no script, no style: fits the strict CSP). */
export async function qrSvg(uri: string): Promise<string> {
  // qrcode (and its PNG encoder) loaded when a QR code is first drawn, at the second factor's enrolment only
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
}

/** The code an app shows at an instant: for tests and the enrolment check. */
export const totpCode = (secret: string, at: Date): string => totpOf(secret).generate({ timestamp: at.getTime() });

/**
 * Checks a 6-digit code, allowing one step of clock drift either way. Returns the time step it
 * belongs to, or null. A step at or before `lastStep` is refused: a code is never accepted twice.
 */
export function verifyTotp(secret: string, code: string, at: Date, lastStep: number | null): number | null {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totpOf(secret).validate({ token, timestamp: at.getTime(), window: 1 });
  if (delta === null) return null;
  const step = Math.floor(at.getTime() / 1000 / PERIOD) + delta;
  return lastStep !== null && step <= lastStep ? null : step;
}

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Ten single-use recovery codes, "xxxx-xxxx-xxxx" (about 60 bits each). */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(12);
    const chars = [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
  });
}

/** Recovery codes and one-time tokens are random secrets: a plain SHA-256 is enough to store them. */
export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
export const normaliseRecoveryCode = (code: string): string => code.trim().toLowerCase().replace(/[^a-z0-9]/g, '');
