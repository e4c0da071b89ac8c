import type { Knex } from 'knex';
import { type FicheListFilter, matchesSearch, type PageWindow, pageWindow } from '../domain/fiche-list';
import { sortFrench } from '../domain/words';
import { type FicheListRow, type FicheSummary, summariesOf, visibleTo } from './fiches';

/**
 * One page of the homologation's fiches as a reader may see them (a commune's staff: those touching its instances),
 * filtered and searched, in number order, with owners and step counts for that page only: four statements whatever
 * the size of the plan. The filters run in SQL; the search reads the candidates' title and finding (only then).
 * `total`: the fiches the reader may see; `matching`: those the filters and search keep.
 */
export async function fichePage(
  db: Knex, planId: number, communeId: number | null, filter: FicheListFilter, today: string, requestedPage: number,
): Promise<{ total: number; matching: number; window: PageWindow; fiches: FicheSummary[] }> {
  const visible = () => visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId);
  const list = visible().select('fiches.id', 'fiches.number', 'fiches.title', 'fiches.status', 'fiches.target_date').orderBy('fiches.number');
  if (filter.words.length) list.select('fiches.finding');
  if (filter.status) list.where('fiches.status', filter.status);
  // late as the list marks it (isLate): not done, a target date, and that date passed
  if (filter.late) list.whereNot('fiches.status', 'fait').whereNotNull('fiches.target_date').where('fiches.target_date', '<', today);
  if (filter.teamId !== undefined) {
    list.whereExists(db('fiche_owners').select(db.raw('1')).whereRaw('fiche_owners.fiche_id = fiches.id').where('fiche_owners.team_id', filter.teamId));
  }
  const [rows, count] = await Promise.all([
    list as Promise<(FicheListRow & { finding?: string | null })[]>,
    visible().count({ n: '*' }).first() as Promise<{ n: number | string } | undefined>,
  ]);
  const matching = filter.words.length
    ? rows.filter((r) => matchesSearch({ number: Number(r.number), title: String(r.title), finding: String(r.finding ?? '') }, filter.words))
    : rows;
  const window = pageWindow(matching.length, requestedPage);
  const fiches = window.first ? await summariesOf(db, matching.slice(window.first - 1, window.last)) : [];
  return { total: Number(count?.n ?? 0), matching: matching.length, window, fiches };
}

/** The teams owning at least one fiche of the homologation the reader may see, in French order: the list's team filter. */
export async function ficheOwnerTeams(db: Knex, planId: number, communeId: number | null): Promise<{ id: number; name: string }[]> {
  const rows: { id: number; name: string }[] = await db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id')
    .whereIn('fiche_owners.fiche_id', visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId).select('fiches.id'))
    .distinct('teams.id', 'teams.name');
  return sortFrench(rows.map((t) => ({ id: Number(t.id), name: String(t.name) })), (t) => t.name);
}
