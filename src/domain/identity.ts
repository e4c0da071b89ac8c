/**
 * The organisation's visual identity. Only a State service may wear the State's design system (DSFR: Marianne,
 * "République française", the bloc marque); its terms forbid it to territorial administrations and to anyone else.
 * Every other organisation, and any deployment whose administrator has not chosen yet, wears the neutral identity:
 * its own name, an optional logo and an accent colour.
 */
export type Nature = 'etat' | 'autre';

export interface Identity {
  /** null until the first administrator chooses. */
  nature: Nature | null;
  /** The organisation's name as its pages show it; empty until set. */
  name: string;
  /** '#rrggbb', or null for the default. */
  accent: string | null;
  hasLogo: boolean;
  logoAlt: string;
  /** The legal notice's director of publication (LCEN), and the host's name, address and telephone; empty until given. */
  publisher: string;
  host: string;
  version: number;
}

export const NATURE_LABELS: Record<Nature, string> = {
  etat: "Un service de l'État (ministère, préfecture, opérateur de l'État)",
  autre: "Une autre organisation (collectivité territoriale, établissement public local, organisme de sécurité sociale, entreprise…)",
};

/** The neutral identity's accent when none is chosen: a dark teal, 8.4:1 against white. */
export const DEFAULT_ACCENT = '#0b5563';

/** Names shown when the organisation has none yet. */
export const SERVICE_NAME = "Plan d'action RGS";

export const NEUTRAL_DEFAULT: Identity = { nature: null, name: '', accent: null, hasLogo: false, logoAlt: '', publisher: '', host: '', version: 0 };

/** True only for a State service, the one deployment allowed the DSFR. */
export function wearsDsfr(identity: Pick<Identity, 'nature'>): boolean {
  return identity.nature === 'etat';
}

/** WCAG relative luminance of a '#rrggbb' colour. */
function luminance(hex: string): number {
  const channel = (i: number): number => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG contrast ratio between two '#rrggbb' colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * The accent carries white text (buttons, the header band) and is itself text on white (links): RGAA AA asks 4.5:1
 * for normal text, in both directions the same ratio against white.
 */
export const MIN_ACCENT_CONTRAST = 4.5;

export const HEX_COLOUR = /^#[0-9a-f]{6}$/;

/** The image types a logo may have, told by their first bytes (never by the name or the type the browser claims). SVG is refused: it can carry script. */
export function logoType(data: Uint8Array): 'image/png' | 'image/jpeg' | 'image/webp' | null {
  const starts = (bytes: number[], at = 0): boolean => bytes.every((b, i) => data[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return null;
}

export const MAX_LOGO_BYTES = 200 * 1024;

/** How e-mails look: the State's blue and font for a State service only, else the organisation's accent and a common font. */
export interface MailBrand { colour: string; font: string }

export function mailBrand(identity: Pick<Identity, 'nature' | 'accent'>): MailBrand {
  return wearsDsfr(identity)
    ? { colour: '#000091', font: 'Marianne,Arial,Helvetica,sans-serif' }
    : { colour: identity.accent ?? DEFAULT_ACCENT, font: 'Arial,Helvetica,sans-serif' };
}
