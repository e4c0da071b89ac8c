// Small French-language helpers shared by views, mails and services: the words a reader sees.

/** "1 fiche", "0 fiche", "3 fiches": French takes the singular below 2. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n >= 2 ? many : one}`;
}

// A mute h elides like a vowel ("d'Hérouville"); an aspirated h does not ("de Hautecombe"), and no spelling rule
// tells them apart, so only a few common mute-h beginnings are listed.
const MUTE_H = /^(hôpital|hôtel|hérouville|herblay|hyères|homme|huit)/i;

/** Whether "de"/"le" elides before this word: a vowel (accented or not) or a mute h. */
export function elides(word: string): boolean {
  const first = word.trim().normalize('NFD').charAt(0);
  return /^[aeiouyAEIOUY]/.test(first) || MUTE_H.test(word.trim());
}

/** "de Villeurbanne", "d'Oullins", "d'Écully": the preposition before a name, elided where French elides it. */
export function de(name: string): string {
  return elides(name) ? `d’${name.trim()}` : `de ${name.trim()}`;
}

/** French order: Écully between Décines and Feyzin, case and accents ignored, numbers in numeric order. */
/** `a.localeCompare(b, 'fr')`, with the collator made once (localeCompare builds one at every comparison). */
export const frenchOrder = new Intl.Collator('fr');

export const frenchCollator = new Intl.Collator('fr', { sensitivity: 'base', numeric: true });

/** A copy of the list sorted in French order by the given key. */
export function sortFrench<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => frenchCollator.compare(key(a), key(b)));
}

/** A label cut to fit, at a word boundary and never mid-word, with an ellipsis when something was cut. */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:(–—-]+$/, '')}…`;
}

/**
 * "Toodego Bron (Recette)": an instance and its environment, without a second bracket when the instance's
 * own name already ends with it ("Toodego Bron (recette)", not "Toodego Bron (recette) (Recette)").
 */
export function withEnvironment(name: string, environmentLabel: string): string {
  const bare = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trim();
  return bare(name).endsWith(`(${bare(environmentLabel)})`) ? name : `${name} (${environmentLabel})`;
}
