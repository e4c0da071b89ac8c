/** An error that renders as a page with the given status, never as a stack trace. */
export class HttpError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message);
  }
}

export const notFound = (what = 'Cette page') => new HttpError(404, `${what} n'existe pas ou n'existe plus.`);
export const forbidden = () => new HttpError(403, "Vous n'avez pas les droits nécessaires pour accéder à cette page ou faire cette action.");

/** Parses a numeric route parameter; anything else is a 404, not a crash. */
export function idParam(value: string | string[] | undefined, what?: string): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text || !/^\d{1,9}$/.test(text)) throw notFound(what);
  return Number(text);
}
