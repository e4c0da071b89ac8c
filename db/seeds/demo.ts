import { addDays } from 'date-fns/addDays';
import { addMonths } from 'date-fns/addMonths';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Knex } from 'knex';
import type { AuditActor } from '../../src/data/audit';
import { createFiche, addNote, type FicheInput } from '../../src/data/fiches';
import { applyRollout } from '../../src/data/rollout';
import { createRisk, type RiskInput } from '../../src/data/risks';
import { communes, instances, milestones, services, teams } from '../../src/data/referentials';
import { createUser } from '../../src/data/users';
import { addDecision, createMeeting, getMeeting, holdMeeting, recordSignature, setRecord } from '../../src/data/meetings';
import { addMember, createHomologation, getHomologation } from '../../src/data/homologations';
import { renewHomologation } from '../../src/data/lifecycle';
import { liveAgenda } from '../../src/services/agenda';
import type { Actor, Role } from '../../src/domain/roles';
import { type PasswordHasher, passwordHasher } from '../../src/security/passwords';
import { loadMailConfig } from '../../src/config';
import { createContact } from '../../src/data/contacts';
import { periodOf } from '../../src/domain/schedule';
import { enqueueDigests } from '../../src/services/digests';

/** Shown on the sign-in page in demo mode only. Never used outside the demonstration plan. */
export const DEMO_PASSWORD = 'demo-plan-rgs-2026';

export const DEMO_ACCOUNTS: { email: string; name: string; role: Role; commune?: string }[] = [
  { email: 'admin@metropole.example.org', name: 'Camille Martin', role: 'admin' },
  { email: 'equipe-projet@metropole.example.org', name: 'Julien Petit', role: 'editor' },
  { email: 'comite@metropole.example.org', name: 'Sophie Bernard', role: 'viewer' },
  { email: 'agent@villeurbanne.example.org', name: 'Nadia Roux', role: 'commune', commune: 'Villeurbanne' },
  { email: 'dsi@villeurbanne.example.org', name: 'Marc Lemoine', role: 'commune_admin', commune: 'Villeurbanne' },
];

// Sixteen partner towns: each has a test (recette) instance of the citizen portal, fourteen are in production.
const COMMUNES = [
  'Villeurbanne', 'Vénissieux', 'Bron', 'Caluire-et-Cuire', 'Saint-Priest', 'Vaulx-en-Velin', 'Rillieux-la-Pape', 'Oullins',
  'Écully', 'Décines-Charpieu', 'Meyzieu', 'Tassin-la-Demi-Lune', 'Givors', 'Sainte-Foy-lès-Lyon', 'Craponne', 'Limonest',
];
const NOT_YET_IN_PRODUCTION = new Set(['Craponne', 'Limonest']);

const CONTACT_NAMES = [
  'Claire Fontaine', 'Mehdi Benali', 'Hélène Girard', 'Thomas Lefèvre', 'Aurélie Chevalier', 'Karim Haddad', 'Sandrine Moreau', 'Nicolas Dupuis',
  'Isabelle Garnier', 'Yacine Mebarki', 'Céline Rousseau', 'Pierre Lambert', 'Fatima Ouali', 'Laurent Mercier', 'Émilie Blanc', 'Olivier Perrin',
];

const loader: AuditActor = { id: null, name: 'Chargement du plan de démonstration' };

/**
 * Loads the demonstration plan, modelled on a Métropole's committee deck, with dates
 * placed around `now` so that the calendar, the late marks and the coming dates mean something.
 */
export async function loadDemo(db: Knex, now: Date, passwords: PasswordHasher = passwordHasher): Promise<void> {
  const day = (months: number, days = 0) => format(addDays(addMonths(now, months), days), 'yyyy-MM-dd');

  const [plan] = await db('plans').insert({
    title: "Plan d'action de l'homologation RGS des téléservices",
    organisation: 'Métropole (démonstration)',
    reminder:
      "Les instances communales du portail citoyen sont co-administrées par la Métropole et chaque commune partenaire. " +
      "Les communes doivent donc être tenues informées du déploiement du plan d'action, et la mise en conformité de leurs instances vérifiée avec elles.",
    is_demo: true,
  }).returning('id');
  const planId = Number(typeof plan === 'object' ? plan.id : plan);
  // a Métropole is not a State service: the demonstration wears the neutral identity (the DSFR is not ours to lend)
  await db('organisation_identity').where({ id: 1 }).update({ nature: 'autre', name: 'Métropole (démonstration)' });

  const teamIds: Record<string, number> = {};
  for (const [name, description] of [
    ['PWN', "Pôle web et numérique : exploite l'intranet et l'extranet"],
    ['SNU 1', 'Service numérique aux usagers, équipe 1 : exploite le service des demandes et le portail citoyen'],
    ['DAUSN', "Direction des usages du numérique : pilote l'homologation et rédige le plan d'action"],
  ] as const) {
    const r = await teams.create(db, { name, description }, loader, now);
    if (r.ok) teamIds[name] = r.id;
  }

  const serviceIds: Record<string, number> = {};
  const serviceList = [
    ['Intranet', 'Portail interne des agents', 'PWN'],
    ['Extranet', 'Portail des partenaires et prestataires', 'PWN'],
    ['SAU', 'Service des demandes des usagers (gestion de la relation usager)', 'SNU 1'],
    ['Toodego', 'Portail citoyen, avec une instance par commune partenaire', 'SNU 1'],
  ] as const;
  for (const [i, [name, description]] of serviceList.entries()) {
    const r = await services.create(db, { name, description, position: i + 1 }, loader, now);
    if (r.ok) serviceIds[name] = r.id;
  }

  const communeIds: Record<string, number> = {};
  for (const name of COMMUNES) {
    const r = await communes.create(db, { name, inseeCode: null }, loader, now);
    if (r.ok) communeIds[name] = r.id;
  }

  const instanceIdsOf: Record<string, number[]> = { Intranet: [], Extranet: [], SAU: [], Toodego: [] };
  const addInstance = async (service: string, environment: 'prod' | 'recette', name: string, team: string, commune: string | null) => {
    const r = await instances.create(db, {
      serviceId: serviceIds[service]!, environment, name, teamId: teamIds[team]!, communeId: commune ? communeIds[commune]! : null,
    }, loader, now);
    if (r.ok) instanceIdsOf[service]!.push(r.id);
  };
  for (const [service, , team] of serviceList.slice(0, 3)) {
    await addInstance(service, 'prod', `${service} production`, team, null);
    await addInstance(service, 'recette', `${service} recette`, team, null);
  }
  for (const commune of COMMUNES) {
    if (!NOT_YET_IN_PRODUCTION.has(commune)) await addInstance('Toodego', 'prod', `Toodego ${commune}`, 'SNU 1', commune);
    await addInstance('Toodego', 'recette', `Toodego ${commune} (recette)`, 'SNU 1', commune);
  }

  // The deck's homologation covers every service and instance declared above.
  await db('plan_instances').insert((await db('instances').select('id')).map((i: { id: number }) => ({ plan_id: planId, instance_id: i.id })));

  const users: Record<string, Actor> = {};
  const passwordHash = await passwords.hash(DEMO_PASSWORD);
  for (const account of DEMO_ACCOUNTS) {
    const communeId = account.commune ? communeIds[account.commune]! : null;
    const r = await createUser(db, { email: account.email, name: account.name, role: account.role, communeId, active: true, passwordHash }, loader, now);
    if (r.ok) users[account.role] = { id: r.id, email: account.email, name: account.name, role: account.role, communeId };
  }
  const editor = users.editor!;
  // The project team's members receive the late-fiche alerts of the fiches their teams own.
  await db('team_members').insert([
    { team_id: teamIds['SNU 1']!, user_id: editor.id },
    { team_id: teamIds.PWN!, user_id: editor.id },
    { team_id: teamIds.DAUSN!, user_id: users.admin!.id },
  ]);
  // The deck's homologation was first decided about 33 months ago, for 36 months, under conditions: its end date is
  // about three months away, so it "expires soon" and its reminders at six and three months are due. Its signature
  // meeting comes first, before the action plan now followed in the tool (its frozen agenda has no fiche).
  const decidedOn = day(-33, -5);
  const decidedAt = parseISO(`${decidedOn}T12:00:00`);
  const committee = Object.values(users).filter((u) => u.role !== 'commune' && u.role !== 'commune_admin').map((u) => ({ userId: u.id, name: u.name, organisation: 'Métropole (démonstration)' }));
  const signatureMeeting = await createMeeting(db, planId, {
    title: "Commission d'homologation des téléservices", kind: 'signature', startsAt: `${decidedOn}T10:00`, endsAt: `${decidedOn}T12:00`,
    place: 'Hôtel de la Métropole, salle du conseil', visioUrl: '', objective: "Recueillir la décision de l'autorité d'homologation sur les téléservices.",
    reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: committee,
  }, editor, addDays(decidedAt, -30));
  await holdMeeting(db, signatureMeeting, await liveAgenda(db, (await getHomologation(db, planId))!, (await getMeeting(db, signatureMeeting))!, decidedAt), editor, decidedAt);
  const decision = await recordSignature(db, planId, signatureMeeting, {
    outcome: 'sous_conditions', authority: 'Le président de la Métropole', authorityEmail: 'president@metropole.example.org', decidedOn,
    durationMonths: 36, endsOn: null, conditions: [],
  }, editor, decidedAt, decidedOn);
  if (!decision.ok) throw new Error("La décision d'homologation de démonstration n'a pas pu être enregistrée.");

  const calendar: [number, string, boolean][] = [
    [-6, "Ateliers d'évaluation des menaces avec l'outil d'analyse de risques", true],
    [-5, "Construction du plan d'action", true],
    [-4, "Rédaction du plan d'action par l'équipe DAUSN", true],
    [-3, 'Relecture et échanges avec la direction des affaires juridiques', true],
    [-1, 'Présentation du plan aux communes partenaires', true],
    [1, "Présentation et validation par l'autorité d'homologation", false],
    [2, "Signature de l'homologation", false],
    [6, "Mise en œuvre du plan d'action", false],
  ];
  for (const [months, title, done] of calendar) {
    await milestones.create(db, { planId, dueDate: day(months), title, done }, loader, now);
  }

  // Each commune has a digital-services contact, some a second one: the digests show out of the box.
  for (const [i, commune] of COMMUNES.entries()) {
    const domain = `${commune.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]+/g, '-')}.example.org`;
    await createContact(db, communeIds[commune]!, { name: CONTACT_NAMES[i]!, email: `numerique@${domain}`, function: 'Référent numérique' }, loader, now);
    if (i % 3 === 0) await createContact(db, communeIds[commune]!, { name: `Direction générale des services de ${commune}`, email: `dgs@${domain}`, function: 'Directeur général des services' }, loader, now);
  }

  const portal = [...instanceIdsOf.Toodego!, ...instanceIdsOf.SAU!];
  const base: Pick<FicheInput, 'conclusion' | 'conclusionCounts' | 'costAmount' | 'costSource' | 'sideEffects'> = {
    conclusion: '', conclusionCounts: [], costAmount: null, costSource: '', sideEffects: [],
  };
  const fiches: FicheInput[] = [
    {
      ...base,
      number: 1,
      title: "Sécuriser l'accès aux demandes par le code de suivi",
      finding:
        "Des usagers publient ou transmettent le code de suivi de leur demande. Quiconque le détient peut consulter la demande, " +
        "y lire des données personnelles, voire agir au nom de l'usager.",
      targetDate: day(1),
      status: 'non_demarre',
      conclusion: "Le recensement des champs mobilisables est terminé sur l'ensemble des formulaires.",
      conclusionCounts: [
        { count: 52, total: 84, label: 'action possible : un champ supplémentaire peut être demandé' },
        { count: 28, total: 84, label: 'action impossible (surtout des saisines par voie électronique) : passage en mode connecté recommandé' },
        { count: 3, total: 84, label: 'action impossible, mais formulaires disponibles en mode connecté : retrait du code de suivi' },
      ],
      scopeAll: false,
      instanceIds: portal,
      owners: [{ teamId: teamIds['SNU 1']!, serviceId: null }],
      steps: [
        { id: null, position: 1, label: 'Recenser, formulaire par formulaire, les champs qui peuvent servir de second facteur', status: 'fait' },
        { id: null, position: 2, label: "Demander à l'usager un champ supplémentaire en plus du code de suivi", status: 'en_cours' },
        { id: null, position: 3, label: 'Ne plus utiliser le code de suivi comme référence de la demande', status: 'non_demarre' },
      ],
      sideEffects: [
        { level: 'fort', description: "Les agents du centre de contact consultent les demandes avec le code de suivi, comme s'ils étaient l'usager. Limiter ce code les obligera à passer par le back office, qu'ils refusent d'utiliser pour l'instant." },
        { level: 'faible', description: 'Parcours de connexion plus complexe pour les usagers qui basculent en mode connecté.' },
      ],
    },
    {
      ...base,
      number: 2,
      title: "Formaliser une procédure d'anonymisation des demandes (instances Intranet et Extranet)",
      finding:
        'Les formulaires sont conçus par des administrateurs fonctionnels qui ne connaissent pas toujours les bonnes pratiques ' +
        "d'anonymisation des données personnelles.",
      targetDate: day(-1, -5),
      status: 'non_demarre',
      scopeAll: false,
      instanceIds: [...instanceIdsOf.Intranet!, ...instanceIdsOf.Extranet!],
      owners: [{ teamId: teamIds.PWN!, serviceId: null }],
      steps: [
        { id: null, position: 1, label: 'Informer les administrateurs fonctionnels des obligations du RGPD', status: 'non_demarre' },
        { id: null, position: 2, label: 'Vérifier que chaque traitement a sa fiche au registre', status: 'non_demarre' },
        { id: null, position: 3, label: 'Anonymiser automatiquement les demandes un délai fixé après leur clôture', status: 'non_demarre' },
      ],
    },
    {
      ...base,
      number: 3,
      title: 'Mettre en œuvre une double authentification sur le back office (Toodego et SAU)',
      finding: 'Les agents se connectent au back office avec un simple identifiant et un mot de passe.',
      targetDate: day(3),
      status: 'non_demarre',
      costAmount: 1500,
      costSource: 'le prestataire de la plateforme',
      scopeAll: false,
      // followed instance by instance: done on the Métropole's own back office (SAU) before the communes'
      rollout: true,
      instanceIds: portal,
      owners: [{ teamId: teamIds['SNU 1']!, serviceId: null }],
      steps: [
        { id: null, position: 1, label: 'Faire chiffrer le raccordement par le prestataire', status: 'fait' },
        { id: null, position: 2, label: "Demander le raccordement au service d'authentification unique de la Métropole", status: 'bloque' },
        { id: null, position: 3, label: "Raccorder l'authentification des agents au service d'authentification unique", status: 'non_demarre' },
        { id: null, position: 4, label: 'Recenser les agents communaux qui traitent des demandes dans le back office', status: 'en_cours', forCommunes: true },
      ],
      sideEffects: [
        { level: 'fort', description: "Les agents des communes traitent les demandes dans le back office, mais leur identité n'est pas dans l'annuaire relié au service d'authentification unique. Comment les faire bénéficier de cette mesure ?" },
        { level: 'faible', description: 'Parcours de connexion des agents un peu plus long.' },
      ],
    },
    {
      ...base,
      number: 4,
      title: "Ajuster et formaliser les droits d'agir sur les demandes",
      finding: "Certains agents ne mesurent pas ce que leurs droits d'accès leur permettent de faire.",
      targetDate: day(5),
      status: 'non_demarre',
      scopeAll: true,
      instanceIds: [],
      owners: [
        { teamId: teamIds['SNU 1']!, serviceId: serviceIds.Toodego! },
        { teamId: teamIds['SNU 1']!, serviceId: serviceIds.SAU! },
        { teamId: teamIds.PWN!, serviceId: serviceIds.Intranet! },
        { teamId: teamIds.PWN!, serviceId: serviceIds.Extranet! },
      ],
      steps: [
        { id: null, position: 1, label: 'Décrire les droits associés à chaque rôle (évolution financée par la communauté, livraison non datée)', status: 'non_demarre' },
        { id: null, position: 2, label: 'Rédiger la procédure de création des droits', status: 'non_demarre' },
        { id: null, position: 3, label: 'Ajuster les droits dans les formulaires', status: 'non_demarre' },
      ],
      sideEffects: [{ level: 'faible', description: 'Risque de gêne passagère chez les agents qui traitent les demandes.' }],
    },
    {
      ...base,
      number: 5,
      title: "Vérifier la redondance de l'hébergement en mode SaaS",
      finding: "Avec les tensions sur l'énergie, des délestages électriques peuvent survenir chez l'hébergeur.",
      targetDate: day(-4),
      status: 'non_demarre',
      conclusion: "L'éditeur a confirmé la redondance de l'hébergement et un haut niveau de service.",
      scopeAll: false,
      instanceIds: portal,
      owners: [{ teamId: teamIds['SNU 1']!, serviceId: null }],
      steps: [{ id: null, position: 1, label: "Faire le point sur la redondance avec l'éditeur", status: 'fait' }],
    },
  ];
  const ficheIds: number[] = [];
  for (const fiche of fiches) {
    const r = await createFiche(db, planId, fiche, editor, addMonths(now, -5));
    if (r.ok) ficheIds.push(r.id);
  }
  // Fiche 3's rollout: the SAU's instances are done, the communes' recette instances of three towns under way.
  const sau = instanceIdsOf.SAU!.map((id) => ({ instanceId: id, seenVersion: 0 }));
  await applyRollout(db, { id: ficheIds[2]!, planId, number: 3, scopeAll: false }, sau, { status: 'fait', note: 'Double authentification active sur le back office du SAU.' }, editor, addMonths(now, -1));
  const recette = await db('instances').whereIn('id', instanceIdsOf.Toodego!).where('environment', 'recette').whereIn('commune_id', [communeIds.Villeurbanne!, communeIds.Bron!, communeIds['Vénissieux']!]).select('id');
  await applyRollout(db, { id: ficheIds[2]!, planId, number: 3, scopeAll: false }, recette.map((r: { id: number }) => ({ instanceId: Number(r.id), seenVersion: 0 })), { status: 'en_cours' }, editor, addMonths(now, -1));
  await addDemoRisks(db, planId, ficheIds, { teamIds, instanceIdsOf, villeurbanne: communeIds.Villeurbanne! }, editor, addMonths(now, -5));
  // The decision's conditions are followed as fiches: the anonymisation procedure (late) and the back office's
  // double authentication. (The decision predates the tool: its conditions are linked to the fiches written since.)
  await db('signatures').where('id', decision.id).update({ conditions: [fiches[1]!.title, fiches[2]!.title].map((t) => `- ${t}`).join('\n') });
  await db('fiches').whereIn('id', [ficheIds[1]!, ficheIds[2]!]).update({ condition_of: decision.id });
  // The notes move the statuses, so the history tells how each fiche got where it is.
  const notes: [number, number, string, 'en_cours' | 'bloque' | 'fait' | null][] = [
    [0, -3, 'Recensement lancé sur les 84 formulaires du portail.', 'en_cours'],
    [0, -1, 'Recensement terminé : 52 formulaires peuvent demander un champ supplémentaire.', null],
    [2, -2, 'Chiffrage reçu du prestataire : 1 500 €.', 'en_cours'],
    [2, -1, "Demande de raccordement envoyée à la tierce maintenance, toujours sans réponse.", 'bloque'],
    [4, -4, "L'éditeur confirme la redondance de l'hébergement et le niveau de service.", 'fait'],
  ];
  const addNotes = async (from: number, to: number) => {
    for (const [index, months, body, status] of notes.filter(([, m]) => m >= from && m < to)) {
      await addNote(db, ficheIds[index]!, { body, notedOn: day(months), status }, editor, parseISO(`${day(months)}T10:00:00`));
    }
  };
  // A first committee meeting two months ago, held: its agenda was frozen with the plan as it then stood.
  await addNotes(-12, -1);
  const attendees = committee;
  const past = await createMeeting(db, planId, {
    title: 'Comité de pilotage', kind: 'suivi', startsAt: `${day(-2)}T14:00`, endsAt: `${day(-2)}T16:00`, place: 'Hôtel de la Métropole, salle du conseil', visioUrl: '',
    objective: "Présentation et échange sur le plan d'action RGS à déployer en vue de l'homologation.", reminder: '', questions: '', coversAll: true, ficheIds: [],
    attendees: [...attendees, { userId: null, name: 'Représentant des communes', organisation: 'Conférence des maires' }],
  }, editor, addMonths(now, -2));
  const planRow = (await getHomologation(db, planId))!;
  const pastMeeting = (await getMeeting(db, past))!;
  const at = parseISO(`${day(-2)}T16:00:00`);
  await holdMeeting(db, past, await liveAgenda(db, planRow, pastMeeting, at), editor, at);
  await addDecision(db, past, ficheIds[2]!, "Relancer la tierce maintenance du service d'authentification ; point d'étape au prochain comité.", editor, at);
  await setRecord(db, past, "Le comité valide le plan d'action dans ses grandes lignes. Les communes seront informées du déploiement.", editor, at);
  await addNotes(-1, 1);
  // The next one, to prepare: the signature meeting.
  await createMeeting(db, planId, {
    title: "Comité de pilotage — signature de l'homologation", kind: 'signature', startsAt: `${day(1)}T10:00`, endsAt: `${day(1)}T12:00`,
    place: 'Hôtel de la Métropole, salle du conseil', visioUrl: 'https://visio.example.org/comite-rgs',
    objective: "Présenter l'avancement du plan d'action et recueillir la décision de l'autorité d'homologation.", reminder: '',
    questions: '', coversAll: true, ficheIds: [], attendees,
  }, editor, now);
  // Last month's digests were sent (they sit in the outbox, unsent, in the demo) and the schedule is monthly:
  // "since the previous digest" means something in the preview.
  const lastMonth = addMonths(now, -1);
  const mail = loadMailConfig(process.env);
  await enqueueDigests(db, mail, lastMonth, { communeIds: 'all', period: periodOf(lastMonth, 'monthly', mail.timeZone), origin: 'planifie' });
  // They are the demo's history: shown as delivered then, never delivered again if SMTP_URL is set later.
  await db('outbox').where('kind', 'digest').update({ status: 'sent', attempts: 1, sent_at: lastMonth.toISOString() });
  // Its renewal was prepared eleven days ago: a new homologation renewing it, its unfinished fiches carried over
  // (fiches 1 to 4, linked to those they continue); the deck's homologation stays in force until its end date.
  const renewal = await renewHomologation(db, planId, "Renouvellement de l'homologation RGS des téléservices", users.admin!, addDays(now, -11));
  if (!renewal.ok) throw new Error("Le renouvellement de démonstration n'a pas pu être préparé.");

  // A second system in preparation: the new HR portal, its own service and instances, its project team.
  const hrService = await services.create(db, { name: 'Portail RH', description: 'Portail des agents pour leurs démarches de ressources humaines', position: serviceList.length + 1 }, loader, now);
  if (!hrService.ok) throw new Error('Service de démonstration en double.');
  const hrInstances: number[] = [];
  for (const environment of ['prod', 'recette'] as const) {
    const r = await instances.create(db, {
      serviceId: hrService.id, environment, name: `Portail RH ${environment === 'prod' ? 'production' : 'recette'}`, teamId: teamIds.PWN!, communeId: null,
    }, loader, now);
    if (r.ok) hrInstances.push(r.id);
  }
  const createdHr = addDays(now, -10);
  const hr = await createHomologation(db, {
    title: 'Homologation du portail RH', organisation: 'Métropole (démonstration)', instanceIds: hrInstances,
    description: 'Le nouveau portail où les agents consultent leurs bulletins de paie et font leurs demandes de congés et de formation.',
  }, loader, createdHr);
  if (!hr.ok) throw new Error("L'homologation de démonstration du portail RH n'a pas pu être créée.");
  await addMember(db, hr.id, editor.id, 'editor', loader, createdHr);
  await addMember(db, hr.id, users.viewer!.id, 'viewer', loader, createdHr);
  const hrFiches: FicheInput[] = [
    {
      ...base, number: 1, title: 'Définir les habilitations des gestionnaires RH',
      finding: "Les gestionnaires RH verront les dossiers de tous les agents : leurs droits doivent suivre leur périmètre de gestion.",
      targetDate: day(2), status: 'en_cours', scopeAll: true, instanceIds: [], owners: [{ teamId: teamIds.PWN!, serviceId: null }],
      steps: [
        { id: null, position: 1, label: 'Recenser les profils de gestionnaires et leurs périmètres', status: 'fait' },
        { id: null, position: 2, label: 'Faire valider la matrice des droits par la DRH', status: 'en_cours' },
      ],
    },
    {
      ...base, number: 2, title: 'Chiffrer les bulletins de paie stockés',
      finding: "Les bulletins de paie sont déposés en clair sur l'espace de stockage du portail.",
      targetDate: day(4), status: 'non_demarre', scopeAll: false, instanceIds: hrInstances.slice(0, 1), owners: [{ teamId: teamIds.PWN!, serviceId: null }],
      steps: [{ id: null, position: 1, label: "Demander à l'éditeur le chiffrement du stockage", status: 'non_demarre' }],
      sideEffects: [{ level: 'faible', description: 'Temps de génération des bulletins un peu plus long.' }],
    },
    {
      ...base, number: 3, title: 'Journaliser les consultations des dossiers des agents',
      finding: "Rien ne garde la trace de qui consulte le dossier d'un agent.",
      targetDate: day(3), status: 'non_demarre', scopeAll: true, instanceIds: [], owners: [{ teamId: teamIds.DAUSN!, serviceId: null }],
      steps: [
        { id: null, position: 1, label: 'Activer la journalisation des accès', status: 'non_demarre' },
        { id: null, position: 2, label: 'Définir la durée de conservation des journaux avec le délégué à la protection des données', status: 'non_demarre' },
      ],
    },
  ];
  for (const fiche of hrFiches) await createFiche(db, hr.id, fiche, editor, createdHr);
  for (const [months, title] of [[1, "Ateliers d'analyse de risques du portail RH"], [3, 'Présentation du plan d’action du portail RH au comité']] as const) {
    await milestones.create(db, { planId: hr.id, dueDate: day(months), title, done: false }, loader, createdHr);
  }

  // Who does what: a few steps of the main homologation have a responsible person (the project team's account, a
  // provider without an account) and a date of their own, one of them already passed.
  const [provider] = await db('people').insert({ name: 'Camille Durand', email: 'camille.durand@infogerant.example.org', function: 'Infogérant (prestataire)', created_at: now.toISOString() }).returning('id');
  const providerId = Number(typeof provider === 'object' ? provider.id : provider);
  const mainSteps = await db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').where('fiches.plan_id', planId).whereNot('steps.status', 'fait')
    .select('steps.id', 'fiches.number', 'steps.position').orderBy(['fiches.number', 'steps.position']);
  const stepOf = (number: number, position: number) => mainSteps.find((s) => Number(s.number) === number && Number(s.position) === position)?.id;
  for (const [number, position, who, date] of [[1, 2, 'editor', day(0, -10)], [1, 3, 'editor', day(1)], [3, 1, 'provider', day(0, 5)], [4, 1, 'editor', day(2)]] as const) {
    const id = stepOf(number, position);
    if (id === undefined) continue;
    await db('steps').where({ id }).update({
      target_date: date, assignee_user_id: who === 'editor' ? editor.id : null, assignee_person_id: who === 'provider' ? providerId : null,
      // the demo does not e-mail anyone about the steps it was born with
      assignment_notified: who === 'editor' ? `u${editor.id}` : `p${providerId}`,
    });
  }

  // The demo lets every role in with the shown password alone; a real installation requires a second factor
  // for admins and the project team (the migration's default), which the sign-in page says in demo mode.
  await db('security_settings').where('id', 1).update({ totp_roles: '' });
  await db('mail_settings').where('id', 1).update({ digest_frequency: 'monthly', digest_weekday: 1, digest_week: '1', digest_time: '09:00', digest_checked_at: now.toISOString() });
}

/**
 * The risks behind the deck's five fiches (levels on the default scales: 1 improbable … 4 très probable, 1 modéré …
 * 4 critique). Some fiches treat several risks; two risks touch Villeurbanne's instances (its agent sees them); the
 * first has its residual level, once its fiches are done.
 */
async function addDemoRisks(
  db: Knex, planId: number, ficheIds: number[],
  refs: { teamIds: Record<string, number>; instanceIdsOf: Record<string, number[]>; villeurbanne: number },
  editor: Actor, at: Date,
): Promise<void> {
  const villeurbanne = (await db('instances').where('commune_id', refs.villeurbanne).orderBy('id').select('id')).map((r: { id: number }) => Number(r.id));
  const portal = [...refs.instanceIdsOf.Toodego!, ...refs.instanceIdsOf.SAU!];
  const fiche = (n: number) => ficheIds[n - 1]!;
  const base = { description: '', scenario: '', ownerTeamId: null, ownerName: '', existingMeasures: '', residualLikelihood: null, residualSeverity: null };
  const risks: RiskInput[] = [
    {
      ...base, title: "Lecture d'une demande par un tiers qui en connaît le code de suivi",
      description: "Le code de suivi suffit aujourd'hui pour ouvrir une demande et les pièces jointes qu'elle contient.",
      scenario: "Un proche, un voisin ou un démarcheur récupère le code (courriel transféré, capture d'écran) et consulte la demande.",
      ownerTeamId: refs.teamIds['SNU 1']!, likelihood: 3, severity: 3, treatment: 'reduire',
      existingMeasures: 'Codes longs et aléatoires ; journalisation des consultations.',
      residualLikelihood: 1, residualSeverity: 3,
      ficheIds: [fiche(1), fiche(4)], instanceIds: villeurbanne,
    },
    {
      ...base, title: "Prise de contrôle du compte d'un agent du back office",
      scenario: "Hameçonnage ciblé : l'agent saisit son mot de passe sur une fausse page de connexion.",
      ownerTeamId: refs.teamIds.PWN!, ownerName: 'Responsable de la sécurité des systèmes d’information', likelihood: 3, severity: 4, treatment: 'reduire',
      existingMeasures: 'Mots de passe de 12 caractères au moins ; sensibilisation annuelle.',
      ficheIds: [fiche(3), fiche(4)], instanceIds: portal,
    },
    {
      ...base, title: 'Modification d’une demande par un agent qui n’en a pas la charge',
      scenario: 'Des droits trop larges, hérités d’un ancien poste, restent ouverts sur toutes les demandes.',
      ownerTeamId: refs.teamIds.DAUSN!, likelihood: 2, severity: 3, treatment: 'reduire',
      ficheIds: [fiche(4), fiche(3)], instanceIds: villeurbanne.slice(0, 1),
    },
    {
      ...base, title: 'Données personnelles gardées plus longtemps que nécessaire dans les demandes internes',
      description: 'Les demandes closes de l’Intranet et de l’Extranet gardent nom, adresse et pièces sans limite de durée.',
      ownerTeamId: refs.teamIds.PWN!, likelihood: 3, severity: 2, treatment: 'reduire',
      ficheIds: [fiche(2)], instanceIds: [...refs.instanceIdsOf.Intranet!, ...refs.instanceIdsOf.Extranet!],
    },
    {
      ...base, title: "Arrêt du portail après une panne chez l'hébergeur",
      scenario: 'Incident majeur dans le centre de données de l’éditeur du service en mode SaaS.',
      ownerTeamId: refs.teamIds['SNU 1']!, ownerName: 'Éditeur du portail', likelihood: 2, severity: 2, treatment: 'transferer',
      existingMeasures: 'Engagement de disponibilité au contrat ; redondance annoncée par l’éditeur.',
      ficheIds: [fiche(5)], instanceIds: refs.instanceIdsOf.SAU!.slice(0, 1),
    },
    {
      ...base, title: 'Anonymisation incomplète d’une demande transmise à un partenaire',
      ownerTeamId: refs.teamIds.PWN!, likelihood: 1, severity: 2, treatment: 'accepter',
      ficheIds: [fiche(2)], instanceIds: [],
    },
  ];
  for (const risk of risks) {
    const r = await createRisk(db, planId, risk, editor, at);
    if (!r.ok) throw new Error(`Risque de démonstration refusé (${r.reason}) : ${risk.title}`);
  }
}
