import type { Knex } from 'knex';
import { readIdentity } from '../data/identity';
import { setupCounts } from '../data/plans';

export interface SetupStep { key: string; title: string; what: string; href: string; linkLabel: string; done: boolean }
export interface SetupChecklist { steps: SetupStep[]; complete: boolean; doneCount: number }

/**
 * The first administrator's set-up, in the order that avoids dead ends: a fiche needs a responsible team and a
 * homologation, a homologation covers services and their instances, an instance belongs to a service and a team.
 */
export async function setupChecklist(db: Knex): Promise<SetupChecklist> {
  const [counts, identity] = await Promise.all([setupCounts(db), readIdentity(db)]);
  const newHomologation = '/homologations/nouvelle';
  const steps: SetupStep[] = [
    {
      key: 'organisation', title: "L'identité de votre organisation",
      what: "Son nom, et si elle est un service de l'État : seul un service de l'État peut porter l'identité de l'État (Marianne, « République française ») ; toute autre organisation porte son nom, son logo et sa couleur.",
      href: '/admin/identite', linkLabel: "Choisir l'identité", done: identity.nature !== null && identity.name !== '',
    },
    {
      key: 'teams', title: 'Les équipes',
      what: 'Chaque fiche du plan a au moins une équipe responsable, et chaque instance une équipe qui l’exploite : créez-les d’abord.',
      href: '/admin/equipes', linkLabel: 'Gérer les équipes', done: counts.teams > 0,
    },
    {
      key: 'services', title: 'Les services',
      what: 'Les services numériques à homologuer (un site, une application) : une homologation couvre un ou plusieurs services.',
      href: '/admin/services', linkLabel: 'Gérer les services', done: counts.services > 0,
    },
    {
      key: 'instances', title: 'Les instances',
      what: 'Chaque service tourne sur une ou plusieurs instances (production, recette) : elles forment le périmètre d’une homologation.',
      href: '/admin/instances', linkLabel: 'Gérer les instances', done: counts.instances > 0,
    },
    {
      key: 'members', title: 'Les comptes des autres personnes',
      what: 'Créez un compte pour chaque personne qui suit ou rédige le plan d’action ; vous les ajouterez ensuite comme membres d’une homologation.',
      href: '/admin/utilisateurs', linkLabel: 'Gérer les utilisateurs', done: counts.accounts > 1,
    },
    {
      key: 'homologation', title: 'La première homologation',
      what: 'Son nom, votre organisation, et les services et instances qu’elle couvre.',
      href: newHomologation, linkLabel: 'Créer une homologation', done: counts.homologations > 0,
    },
    {
      key: 'fiche', title: 'La première fiche du plan d’action',
      what: 'Une action à mener pour l’homologation, avec ses équipes responsables et son échéance.',
      href: counts.latestHomologationId ? `/homologations/${counts.latestHomologationId}/fiches/nouvelle` : newHomologation,
      linkLabel: counts.latestHomologationId ? 'Écrire une fiche' : 'Créer d’abord une homologation',
      done: counts.fiches > 0,
    },
  ];
  const doneCount = steps.filter((s) => s.done).length;
  return { steps, complete: doneCount === steps.length, doneCount };
}
