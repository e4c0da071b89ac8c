import { askAccess } from '../src/data/identities';
import { createHash, createHmac } from 'node:crypto';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { issueToken } from '../src/data/accounts';
import { listContacts } from '../src/data/contacts';
import { createFiche } from '../src/data/fiches';
import { createRisk, type RiskInput } from '../src/data/risks';
import { saveUpload } from '../src/data/plan-import';
import { createDocument } from '../src/data/evidence';
import { setIcsTokenHash } from '../src/data/my-actions';
import { createStepLink } from '../src/data/step-notices';
import { insertedId } from '../src/data/write';
import { createReminder } from '../src/data/expiry-reminders';
import { getHomologation } from '../src/data/homologations';
import { archiveHomologation } from '../src/data/lifecycle';
import { createMeeting, getMeeting, holdMeeting } from '../src/data/meetings';
import { createUser, findUser } from '../src/data/users';
import { endDateOf } from '../src/domain/homologation';
import type { Actor, Role } from '../src/domain/roles';
import { liveAgenda } from '../src/services/agenda';
import { ACCOUNTS, type Agent, csrfOf, ficheIdByNumber, formBody, freshApp, NOW, type TestApp, TEST_PASSWORDS } from './helpers';

/*
 * The authorization matrix: every route the app's router holds, for every kind of visitor.
 *
 * The routes are read from the router itself, so a route added without a decision here fails the
 * first test with its name. Each decision is a policy (who may use the route) applied to the
 * cases its parameters allow: for a fiche, a meeting or a commune, one the Villeurbanne agent
 * may see ("own") and one it may not ("other").
 */

// ---------------------------------------------------------------- actors

/**
 * The demo's roles, and two members of the second homologation (B) whose role there differs from their global one:
 * member_editor is a global viewer listed as an editor of B; member_viewer a global editor listed as a viewer of B.
 */
const ACTORS = ['anonymous', 'admin', 'editor', 'viewer', 'commune', 'commune_admin', 'member_editor', 'member_viewer'] as const;
type ActorName = (typeof ACTORS)[number];
type SignedIn = Exclude<ActorName, 'anonymous'>;
const COMMUNE_ROLES: readonly ActorName[] = ['commune', 'commune_admin'];
/** The global role of each signed-in actor. */
const GLOBAL_ROLE: Record<SignedIn, Role> = {
  admin: 'admin', editor: 'editor', viewer: 'viewer', commune: 'commune', commune_admin: 'commune_admin', member_editor: 'viewer', member_viewer: 'editor',
};
/** Homologations: A is the demo's (the 'own' case), B the second one prepare() creates (the 'hom2' case). */
type Hom = 'A' | 'B';
const MEMBERSHIP: Partial<Record<SignedIn, Partial<Record<Hom, 'editor' | 'viewer'>>>> = {
  member_editor: { B: 'editor' },
  member_viewer: { B: 'viewer' },
};
/** The accounts prepare() creates for the members of B. */
const MEMBER_ACCOUNTS: Partial<Record<SignedIn, { email: string; name: string }>> = {
  member_editor: { email: 'membre-editeur@metropole.example.org', name: 'Membre éditeur de B (test)' },
  member_viewer: { email: 'membre-lecteur@metropole.example.org', name: 'Membre lecteur de B (test)' },
};

/** The demo account of an actor: ACCOUNTS.communeAdmin (or commune_admin) for the commune administrator. */
function demoAccountOf(actor: SignedIn): string | undefined {
  const accounts = ACCOUNTS as Partial<Record<string, string>>;
  if (MEMBER_ACCOUNTS[actor]) return undefined;
  return actor === 'commune_admin' ? accounts.communeAdmin ?? accounts.commune_admin : accounts[actor];
}

/** Without a demo commune administrator, the tests create one at Villeurbanne. */
const CREATED_COMMUNE_ADMIN = { email: 'admin-commune@villeurbanne.example.org', password: 'phrase-de-passe-admin-commune-2026' };
/** The password hash of the accounts the tests create (computed once: argon2 is slow on purpose). */
let testPasswordHash: Promise<string> | undefined;

function credentialsOf(actor: SignedIn): { email: string; password: string } {
  const known = demoAccountOf(actor);
  if (known) return { email: known, password: DEMO_PASSWORD };
  if (actor === 'commune_admin') return CREATED_COMMUNE_ADMIN;
  const member = MEMBER_ACCOUNTS[actor];
  if (member) return { email: member.email, password: CREATED_COMMUNE_ADMIN.password };
  throw new Error(`Aucun compte de démonstration pour le rôle ${actor}`);
}

/** The second factor of the roles that must have one, enrolled in the test database (RFC 6238 test secret). */
const TOTP_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function totpCode(secret: string, at: Date): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of secret.replace(/=+$/, '')) {
    value = ((value << 5) | alphabet.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 30_000)));
  const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Enrols a second factor for the accounts whose role requires one (security settings), as in production. */
async function enrolRequiredSecondFactors(db: Knex): Promise<void> {
  const settings = await db('security_settings').first().catch(() => undefined);
  const roles = String(settings?.totp_roles ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  if (roles.length) await db('users').whereIn('role', roles).update({ totp_secret: TOTP_SECRET, totp_enabled_at: NOW.toISOString(), totp_last_step: null });
}

/**
 * Signs in through the real pages: password, then the second factor when the account has one.
 * Fails unless the session ends up usable (not sent back to sign in, to an enrolment or a password change).
 */
async function signInAs(t: TestApp, email: string, password: string): Promise<Agent> {
  const agent = request.agent(t.app);
  const page = await agent.get('/connexion').expect(200);
  let res = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email, password });
  if (res.headers.location === '/connexion/code') {
    const row = await t.db('users').where({ email }).first();
    const codePage = await agent.get('/connexion/code').expect(200);
    res = await agent.post('/connexion/code').type('form').send({ _csrf: csrfOf(codePage.text), code: totpCode(String(row.totp_secret), NOW) });
  }
  const where = String(res.headers.location ?? '');
  if (![302, 303].includes(res.status) || /^\/(connexion|compte)/.test(where)) {
    throw new Error(`Connexion de ${email} : ${res.status}${where ? ` vers ${where}` : ''}, pas une session utilisable`);
  }
  return agent;
}

// ---------------------------------------------------------------- policies

/**
 * own: an object of Villeurbanne (the commune actors'); other: one they may not see; unknown: a token that exists nowhere.
 * Under /homologations/:hid, also: hom2, homologation B and one of its objects (B covers none of Villeurbanne's
 * instances); foreign, an object of B asked for under A's address; nohom, a homologation that does not exist.
 */
type CaseName = 'own' | 'other' | 'any' | 'unknown' | 'hom2' | 'foreign' | 'nohom';
/**
 * moved: a permanent redirect to the new address under /homologations; hidden: 403 or 404 (another homologation's
 * object asked for by someone the route refuses anyway: refused before or after the lookup, nothing shown either way).
 */
type Outcome = 'allowed' | 'login' | 'moved' | 'hidden' | 403 | 404;
type Rule = (actor: SignedIn, c: CaseName) => Outcome;

const signedIn = (rule: Rule) => (actor: ActorName, c: CaseName): Outcome => (actor === 'anonymous' ? 'login' : rule(actor, c));
/** Commune roles act on their own commune's objects only (B touches none of them); everyone else as the rule says. */
const ownCommuneOnly = (rule: Rule): Rule => (actor, c) => (COMMUNE_ROLES.includes(actor) && (c === 'other' || c === 'hom2') ? 403 : rule(actor, c));
/** By global role. */
const only = (...roles: Role[]): Rule => (actor) => (roles.includes(GLOBAL_ROLE[actor]) ? 'allowed' : 403);
/** Edits the homologation of the case: administrators; a member as listed; anyone else by global role (editor); never a commune. */
const editsHomologation: Rule = (actor, c) => {
  const role = GLOBAL_ROLE[actor];
  if (role === 'admin') return 'allowed';
  if (role === 'commune' || role === 'commune_admin') return 403;
  const listed = MEMBERSHIP[actor]?.[c === 'hom2' ? 'B' : 'A'];
  return (listed ?? role) === 'editor' ? 'allowed' : 403;
};

const POLICIES = {
  /** Anyone, signed in or not. */
  public: () => 'allowed' as Outcome,
  /** Every signed-in role; commune roles only on what concerns their commune (homologation, fiche, meeting). */
  reader: signedIn(ownCommuneOnly(() => 'allowed')),
  /** The Métropole's people: every role but the commune roles. */
  staff: signedIn(only('admin', 'editor', 'viewer')),
  /** Those who edit the homologation: administrators, its editors (members, or by global role when not listed). */
  editor: signedIn(ownCommuneOnly(editsHomologation)),
  /**
   * Acknowledging a late-fiche alert: admins, the editors of the fiche's homologation (as listed there, else by global
   * role) and members of the fiche's owner teams. The fixture's alert is on A's fiche and the viewer is in no team:
   * the same actors as 'editor' on A (B's alert is the dedicated test above).
   */
  alertAck: signedIn(editsHomologation),
  /** Administrators. */
  admin: signedIn(only('admin')),
  /** Who may edit fiches by role (permission fiche:edit): administrators and the project team. */
  ficheEditors: signedIn(only('admin', 'editor')),
  /** A step's one-click change in "Mes actions": its responsible person only; the fixture's step is nobody's, so 404 for all. */
  assignee: signedIn(() => 404),
  /** A commune's own pages (:communeId): administrators, and that commune's own roles. */
  ownCommune: signedIn(ownCommuneOnly(only('admin', 'commune', 'commune_admin'))),
  /**
   * Delegated administration of a commune's agents (permission commune:users): commune administrators only,
   * on their own commune's agents. The Métropole's administrators manage accounts in /admin/utilisateurs.
   */
  communeAdmin: signedIn(ownCommuneOnly(only('commune_admin'))),
  /**
   * A commune's answer for its own instances (rollout, steps that fall to it, notes): the project team as for 'editor',
   * and the commune roles on what concerns their commune; the committee (viewer) is refused.
   */
  answer: signedIn(ownCommuneOnly((actor, c) => (COMMUNE_ROLES.includes(actor) ? 'allowed' : editsHomologation(actor, c)))),
  /** A commune's own answer (acknowledging a side effect, its page): the commune roles only, on what concerns their commune. */
  commune: signedIn(ownCommuneOnly((actor) => (COMMUNE_ROLES.includes(actor) ? 'allowed' : 403))),
  /** An address of the one-plan product: every signed-in user is sent on (301) to its place under /homologations. */
  moved: signedIn(() => 'moved'),
} satisfies Record<string, (actor: ActorName, c: CaseName) => Outcome>;
type PolicyName = keyof typeof POLICIES;

interface Entry {
  policy: PolicyName;
  /** Changes shared data when allowed (deletes, logout): each allowed actor runs in its own fresh app. */
  isolate?: boolean;
  /** Part of signing in or out: a redirect to /connexion is its normal answer, not a refusal. */
  signInFlow?: boolean;
  /** Fields sent with a POST (by default none: an empty form, which changes nothing when validation refuses it). */
  body?: Record<string, string>;
  /** Meeting routes that change an open meeting: use held meetings, which the route refuses (409) after the access check. */
  held?: boolean;
}

const MATRIX: Record<string, PolicyName | Entry> = {
  // ---- public: sign-in, the root redirect, the token-protected unsubscribe link
  'GET /': 'public',
  'GET /connexion': 'public',
  'POST /connexion': 'public',
  'POST /deconnexion': { policy: 'public', isolate: true, signInFlow: true },
  // the second-factor step: without a password just checked, back to /connexion
  'GET /connexion/code': { policy: 'public', signInFlow: true },
  'POST /connexion/code': { policy: 'public', signInFlow: true },
  // forgotten password and one-time links (a real link, of the Bron agent; an unknown one → 404)
  'GET /mot-de-passe-oublie': 'public',
  'POST /mot-de-passe-oublie': 'public',
  'GET /mot-de-passe/:token': 'public',
  // an empty password is refused (422): the link stays unused
  'POST /mot-de-passe/:token': 'public',
  // the calendar feed of an account's actions: its token is the credential
  'GET /calendrier/:file': 'public',
  // the link of a person without an account to one of their steps: its token is the credential
  'GET /action/:token': 'public',
  'POST /action/:token': 'public',
  'GET /desinscription/:token': 'public',
  'POST /desinscription/:token': 'public',
  // the organisation's accent and logo: the sign-in page wears them
  'GET /identite/theme.css': 'public',
  'GET /identite/logo': 'public',
  // the legal pages every footer links to: read before signing in
  'GET /accessibilite': 'public',
  'GET /mentions-legales': 'public',
  'GET /donnees-personnelles': 'public',

  // ---- the homologations, read by every role (a commune sees those touching its instances, its own fiches and meetings)
  'GET /homologations': 'reader',
  // creating a homologation (an empty form is refused: nothing is created)
  'GET /homologations/nouvelle': 'admin',
  'POST /homologations/nouvelle': 'admin',
  'GET /homologations/:hid': 'reader',
  'GET /homologations/:hid/tableau-de-bord': 'reader',
  'GET /homologations/:hid/fiches/:id': 'reader',
  'GET /homologations/:hid/seances': 'reader',
  'GET /homologations/:hid/seances/:id': 'reader',
  'GET /homologations/:hid/seances/:id/ordre-du-jour': 'reader',
  'GET /homologations/:hid/seances/:id/ordre-du-jour.pdf': 'reader',
  'GET /homologations/:hid/seances/:id/invitation.ics': 'reader',
  // the plan's exports (reads: a commune agent gets what it may see) and the import template; the committee's dossier, staff only
  'GET /homologations/:hid/export.xlsx': 'reader',
  'GET /homologations/:hid/export.ods': 'reader',
  'GET /homologations/:hid/export/fiches.csv': 'reader',
  'GET /homologations/:hid/export/etapes.csv': 'reader',
  'GET /homologations/:hid/export/effets-de-bord.csv': 'reader',
  'GET /homologations/:hid/export/porteurs.csv': 'reader',
  'GET /homologations/:hid/export/risques.csv': 'reader',
  'GET /homologations/:hid/export/calendrier.csv': 'reader',
  'GET /homologations/:hid/export/comites.csv': 'reader',
  'GET /homologations/:hid/export/decisions.csv': 'reader',
  'GET /homologations/:hid/import/modele.xlsx': 'reader',
  'GET /homologations/:hid/import/modele.ods': 'reader',
  // importing a spreadsheet: the homologation's editors (a pending import is the homologation's, reviewed by any of them)
  'GET /homologations/:hid/import': 'editor',
  'POST /homologations/:hid/import': 'editor',
  'GET /homologations/:hid/import/:id': 'editor',
  'POST /homologations/:hid/import/:id/colonnes': 'editor',
  'POST /homologations/:hid/import/:id/confirmer': 'editor',
  'GET /homologations/:hid/dossier.zip': 'staff',
  // evidence: read by who sees the object it is attached to (a commune, its own fiches' and risks'), added, replaced
  // and removed by the homologation's editors; the add form without an object is a 400, an empty form a 422
  'GET /homologations/:hid/pieces/nouvelle': 'editor',
  'POST /homologations/:hid/pieces': 'editor',
  'GET /homologations/:hid/pieces/:id': 'reader',
  'GET /homologations/:hid/pieces/:id/versions': 'reader',
  'GET /homologations/:hid/pieces/:id/versions/:vid': 'reader',
  'POST /homologations/:hid/pieces/:id/remplacer': 'editor',
  'POST /homologations/:hid/pieces/:id/supprimer': { policy: 'editor', isolate: true },

  // ---- the one-plan addresses, sent on to the homologation of the object
  'GET /plan': 'moved',
  'GET /seances': 'moved',
  'GET /fiches/:id': 'moved',
  'GET /fiches/:id/modifier': 'moved',
  'GET /seances/:id': 'moved',
  'GET /seances/:id/ordre-du-jour': 'moved',
  'GET /seances/:id/ordre-du-jour.pdf': 'moved',
  'GET /seances/:id/invitation.ics': 'moved',

  // ---- the organisation's dashboard: the homologations the user may see (a commune, those touching its instances)
  'GET /tableau-de-bord': 'reader',

  // ---- a homologation's life cycle: renewing it (its editors, even once expired), archiving it, deleting an empty draft
  // (administrators); an empty renewal title is refused (422); archiving really archives: each allowed actor in its own app
  'GET /homologations/:hid/renouveler': 'editor',
  'POST /homologations/:hid/renouveler': 'editor',
  'GET /homologations/:hid/archiver': 'admin',
  'POST /homologations/:hid/archiver': { policy: 'admin', isolate: true },
  'GET /homologations/:hid/supprimer': 'admin',
  // A and B hold fiches: never deleted (409), but isolated in case the guard fails
  'POST /homologations/:hid/supprimer': { policy: 'admin', isolate: true },

  // ---- a homologation's settings and members (administrators); empty forms are refused (422)
  'GET /homologations/:hid/parametres': 'admin',
  'POST /homologations/:hid/parametres': 'admin',
  'POST /homologations/:hid/parametres/pieces': 'admin',
  'GET /homologations/:hid/membres': 'admin',
  'POST /homologations/:hid/membres': 'admin',
  // a valid role, so that a user who is no member of the homologation (foreign: B's member under A) is a 404
  'POST /homologations/:hid/membres/:userId': { policy: 'admin', isolate: true, body: { role: 'viewer' } },
  'POST /homologations/:hid/membres/:userId/retirer': { policy: 'admin', isolate: true },

  // ---- expiry reminders: read by the Métropole's people, acknowledged by the homologation's editors
  // (the first acknowledgement is a 303, the next ones a 409 "already": both after the access check)
  'GET /homologations/:hid/rappels/:id': 'staff',
  'POST /homologations/:hid/rappels/:id/acquitter': 'editor',

  // ---- one's own account
  'GET /compte': 'reader',
  'GET /compte/mot-de-passe': 'reader',
  'POST /compte/mot-de-passe': 'reader',
  'GET /compte/double-authentification': 'reader',
  'POST /compte/double-authentification': 'reader',
  'POST /compte/double-authentification/codes': 'reader',
  'GET /compte/donnees': 'reader',

  // ---- editing a homologation's fiches and meetings
  'GET /homologations/:hid/fiches/nouvelle': 'editor',
  'POST /homologations/:hid/fiches': 'editor',
  'GET /homologations/:hid/fiches/:id/modifier': 'editor',
  'POST /homologations/:hid/fiches/:id': 'editor',
  'POST /homologations/:hid/fiches/:id/notes': 'editor',
  'GET /homologations/:hid/fiches/:id/supprimer': 'editor',
  'POST /homologations/:hid/fiches/:id/supprimer': { policy: 'editor', isolate: true },
  // ---- rollout per instance: the grid is read like its fiche; a change (preview, confirm) by the project team, or by a
  // commune's staff on their own fiche (the fixture's fiche is not followed per instance: 409 after the access check)
  'GET /homologations/:hid/fiches/:id/deploiement': 'reader',
  'POST /homologations/:hid/fiches/:id/deploiement/apercu': 'answer',
  'POST /homologations/:hid/fiches/:id/deploiement': 'answer',
  // ---- bulk changes (par lot): made by the project team; their review read by all, a commune seeing its own operations only
  'GET /homologations/:hid/lot': 'editor',
  'POST /homologations/:hid/lot/apercu': 'editor',
  'POST /homologations/:hid/lot': 'editor',
  'GET /homologations/:hid/lots': 'reader',
  'GET /homologations/:hid/lots/:id': 'reader',
  // ---- commune answers: a commune's staff only, on their own fiche (the steps that fall to them, their notes, their answer to
  // strong side effects) and their commune's page; the empty forms of the matrix are refused (422) after the access check
  'POST /homologations/:hid/fiches/:id/commune/actions': 'commune',
  'POST /homologations/:hid/fiches/:id/commune/note': 'commune',
  'POST /homologations/:hid/fiches/:id/commune/effets': 'commune',
  'GET /homologations/:hid/ma-commune': 'commune',
  // ---- the risk register: read like the fiches (a commune sees the risks touching its instances), written by editors
  'GET /homologations/:hid/risques': 'reader',
  'GET /homologations/:hid/risques/:id': 'reader',
  'GET /homologations/:hid/risques/nouveau': 'editor',
  'POST /homologations/:hid/risques': 'editor',
  'GET /homologations/:hid/risques/:id/modifier': 'editor',
  'POST /homologations/:hid/risques/:id': 'editor',
  'GET /homologations/:hid/risques/:id/supprimer': 'editor',
  'POST /homologations/:hid/risques/:id/supprimer': { policy: 'editor', isolate: true },
  'GET /homologations/:hid/seances/nouvelle': 'editor',
  'POST /homologations/:hid/seances': 'editor',
  'GET /homologations/:hid/seances/:id/modifier': 'editor',
  'POST /homologations/:hid/seances/:id': 'editor',
  'POST /homologations/:hid/seances/:id/ordre': 'editor',
  'GET /homologations/:hid/seances/:id/tenir': { policy: 'editor', held: true },
  'POST /homologations/:hid/seances/:id/tenir': { policy: 'editor', held: true },
  'POST /homologations/:hid/seances/:id/decisions': 'editor',
  // an empty record is valid (it clears the record): send one too long instead
  'POST /homologations/:hid/seances/:id/releve': { policy: 'editor', body: { record: 'x'.repeat(20001) } },
  'POST /homologations/:hid/seances/:id/signature': 'editor',

  // ---- late-fiche alerts: the Métropole's teams
  'GET /alertes': 'staff',
  // "Mes actions": one's own steps, digest choice and calendar link; named people without an account
  'GET /mes-actions': 'reader',
  'POST /mes-actions/etapes/:id': { policy: 'assignee', body: { status: 'fait' } },
  'POST /mes-actions/etapes/:id/retard-vu': 'assignee',
  'POST /mes-actions/resume': 'reader',
  'POST /mes-actions/calendrier': 'reader',
  'POST /mes-actions/calendrier/retirer': 'reader',
  'GET /passations': 'admin',
  'POST /passations': { policy: 'admin', body: { from: 'p1', to: '' } },
  'GET /personnes': 'ficheEditors',
  'POST /personnes': 'ficheEditors',
  'GET /personnes/:id': 'ficheEditors',
  'POST /personnes/:id': 'ficheEditors',
  'POST /personnes/:id/supprimer': { policy: 'ficheEditors', isolate: true },
  'GET /alertes/:id': 'staff',
  'POST /alertes/:id/acquitter': 'alertAck',

  // ---- a commune's contacts and digest preview
  'GET /communes/:communeId/contacts': 'ownCommune',
  'POST /communes/:communeId/contacts': 'ownCommune',
  'GET /communes/:communeId/contacts/:id/modifier': 'ownCommune',
  'POST /communes/:communeId/contacts/:id': 'ownCommune',
  'GET /communes/:communeId/contacts/:id/supprimer': 'ownCommune',
  'POST /communes/:communeId/contacts/:id/supprimer': { policy: 'ownCommune', isolate: true },
  'GET /communes/:communeId/point': 'ownCommune',
  'GET /communes/:communeId/point/courriel.html': 'ownCommune',

  // ---- a commune administrator's agents (own: the Villeurbanne agent; other: an agent of Bron)
  'GET /ma-commune/utilisateurs': 'communeAdmin',
  'POST /ma-commune/utilisateurs': 'communeAdmin',
  'POST /ma-commune/utilisateurs/:id/suspendre': { policy: 'communeAdmin', isolate: true },
  'POST /ma-commune/utilisateurs/:id/reactiver': 'communeAdmin',
  'GET /ma-commune/utilisateurs/:id/supprimer': 'communeAdmin',
  'POST /ma-commune/utilisateurs/:id/supprimer': { policy: 'communeAdmin', isolate: true },
  // an access request accepted (an account created) or refused: each allowed actor in its own app
  'POST /ma-commune/demandes/:id/accepter': { policy: 'communeAdmin', isolate: true },
  'POST /ma-commune/demandes/:id/refuser': { policy: 'communeAdmin', isolate: true },

  // ---- administration
  'GET /admin': 'admin',
  'GET /admin/journal': 'admin',
  'GET /admin/journal.csv': 'admin',
  'GET /admin/courriels': 'admin',
  'GET /admin/courriels/:id': 'admin',
  'GET /admin/courriels/:id/courriel.html': 'admin',
  'POST /admin/courriels/:id/relancer': 'admin',
  'GET /admin/points': 'admin',
  'POST /admin/points/reglages': 'admin',
  'GET /admin/points/envoyer': 'admin',
  'POST /admin/points/envoyer': 'admin',
  'GET /admin/plan': 'admin',
  'GET /admin/utilisateurs': 'admin',
  'GET /admin/utilisateurs/nouveau': 'admin',
  'POST /admin/utilisateurs': 'admin',
  'GET /admin/utilisateurs/:id/modifier': 'admin',
  'POST /admin/utilisateurs/:id': 'admin',
  // a new password link for the viewer (the link the public pages test is another user's)
  'POST /admin/utilisateurs/:id/lien': 'admin',
  // resetting the second factor ends the user's session
  'POST /admin/utilisateurs/:id/double-authentification': { policy: 'admin', isolate: true },
  'POST /admin/utilisateurs/:id/debloquer': 'admin',
  'GET /admin/utilisateurs/:id/supprimer': 'admin',
  'POST /admin/utilisateurs/:id/supprimer': { policy: 'admin', isolate: true },
  'GET /admin/supervision': 'admin',
  'POST /admin/supervision/utilisateurs/:id/suspendre': { policy: 'admin', isolate: true },
  // the viewer is not frozen: "nothing changed"
  'POST /admin/supervision/utilisateurs/:id/debloquer': 'admin',
  'GET /admin/mise-en-route': 'admin',
  'GET /admin/securite': 'admin',
  'POST /admin/securite': 'admin',
  'GET /admin/risques': 'admin',
  'POST /admin/risques': 'admin',
  'GET /admin/identite': 'admin',
  'POST /admin/identite': 'admin',
  ...referenceTable('equipes'),
  ...referenceTable('communes'),
  ...referenceTable('services'),
  ...referenceTable('instances'),
  ...referenceTable('jalons'),
  ...referenceTable('environnements'),
};

/** The generic pages of one reference table of the administration. */
function referenceTable(slug: string): Record<string, PolicyName | Entry> {
  const base = `/admin/${slug}`;
  return {
    [`GET ${base}`]: 'admin',
    [`GET ${base}/nouveau`]: 'admin',
    [`POST ${base}`]: 'admin',
    [`GET ${base}/:id/modifier`]: 'admin',
    [`POST ${base}/:id`]: 'admin',
    [`GET ${base}/:id/supprimer`]: 'admin',
    [`POST ${base}/:id/supprimer`]: { policy: 'admin', isolate: true },
  };
}

const entryOf = (route: string): Entry => {
  const e = MATRIX[route]!;
  return typeof e === 'string' ? { policy: e } : e;
};

// ---------------------------------------------------------------- routes, from the router

interface LayerLike {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
  rawPath?: unknown;
}

function joinPath(prefix: string, path: string): string {
  const joined = `${prefix}${path === '/' ? '' : path}`;
  return joined === '' ? '/' : joined;
}

function collectRoutes(stack: LayerLike[], prefix: string, out: Set<string>): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on) out.add(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${joinPath(prefix, String(path))}`);
        }
      }
    } else if (layer.handle?.stack) {
      // a nested router: its mount path, when it has one ('/' for app.use(router))
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      collectRoutes(layer.handle.stack, joinPath(prefix, mount) === '/' ? '' : joinPath(prefix, mount), out);
    }
    // other layers (static files, session, CSRF, permission checks mounted with use) are not routes
  }
}

/** 'GET /fiches/:id', … for every route of the app, mount paths included. */
function routesOf(app: Express): string[] {
  const out = new Set<string>();
  collectRoutes((app as unknown as { router: { stack: LayerLike[] } }).router.stack, '', out);
  return [...out].sort();
}

// ---------------------------------------------------------------- demo rows for the parameters

interface Fixtures {
  /** Values of a parameter, by the resource named before it in the path. */
  byResource: Record<string, Partial<Record<CaseName, number | string>>>;
  villeurbanneId: number;
  /** Homologation B and its objects (their titles are what must never leak under A's address or to a commune). */
  homB: { id: number; ficheId: number; meetingIds: number[] };
}

/** Markers in the titles of homologation B and its fiche and meetings: no refused answer may contain them. */
const SECRET_HOM = 'ZETA-7730';
const SECRET_OBJECTS = ['ZETA-7731', 'ZETA-7732', 'ZETA-7733'];
/** A homologation id that exists nowhere. */
const NO_HOMOLOGATION = 999999;

/**
 * Homologation B: Bron's instances only (so the Villeurbanne actors may not enter it), one fiche, one open and one held
 * meeting, and its two members. Written as the data functions and the settings pages would.
 */
async function createHomologationB(db: Knex, editor: Actor, members: Partial<Record<SignedIn, number>>) {
  const [row] = await db('plans').insert({
    title: `Homologation de l'extranet de Bron ${SECRET_HOM}`, organisation: 'Métropole (démonstration)', reminder: '', is_demo: false,
    description: 'Seconde homologation, pour les tests des droits.', created_at: NOW.toISOString(),
  }).returning('id');
  const id = Number(typeof row === 'object' ? row.id : row);
  const bron = Number((await db('communes').where({ name: 'Bron' }).first()).id);
  const instanceIds = (await db('instances').where('commune_id', bron).select('id')).map((r) => Number(r.id));
  if (!instanceIds.length) throw new Error('La démonstration devait avoir des instances à Bron');
  await db('plan_instances').insert(instanceIds.map((instanceId) => ({ plan_id: id, instance_id: instanceId })));
  for (const [actor, member] of Object.entries(members) as [SignedIn, number][]) {
    const role = MEMBERSHIP[actor]?.B;
    if (role) await db('plan_members').insert({ plan_id: id, user_id: member, role });
  }
  const fiche = await createFiche(db, id, {
    number: 1, title: `Fiche confidentielle ${SECRET_OBJECTS[0]}`, finding: 'Constat de B.', targetDate: '2026-06-30', status: 'en_cours',
    conclusion: '', conclusionCounts: [], costAmount: null, costSource: '', scopeAll: true, instanceIds: [], owners: [], steps: [], sideEffects: [],
  }, editor, NOW);
  if (!fiche.ok) throw new Error(`Fiche de B non créée (${fiche.reason})`);
  const meeting = (title: string) => createMeeting(db, id, {
    title, kind: 'suivi', startsAt: '2026-04-21T10:00', endsAt: '2026-04-21T11:00', place: 'Bron', visioUrl: '',
    objective: 'Point sur B.', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [],
  }, editor, NOW);
  const open = await meeting(`Séance ${SECRET_OBJECTS[1]}`);
  const held = await meeting(`Séance tenue ${SECRET_OBJECTS[2]}`);
  const reminder = await reminderOf(db, id, '2023-06-01');
  const hom = (await getHomologation(db, id))!;
  if (!(await holdMeeting(db, held, await liveAgenda(db, hom, (await getMeeting(db, held))!, NOW), editor, NOW))) throw new Error('Séance de B non tenue');
  return { id, ficheId: fiche.id, open, held, reminder };
}

/**
 * An expiry reminder of the homologation, as the scheduler's scan records them: one it already has, else the six-month
 * reminder of its latest decision, else of a decision of 36 months taken on `decidedOn` (ending within the reminder
 * months at NOW: "expire bientôt", not read-only).
 */
async function reminderOf(db: Knex, planId: number, decidedOn: string): Promise<number> {
  const existing = await db('expiry_reminders').where('plan_id', planId).orderBy('id').first();
  if (existing) return Number(existing.id);
  let signature = await db('signatures').where('plan_id', planId).orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
  if (!signature) {
    await db('signatures').insert({
      plan_id: planId, meeting_id: null, signed: true, authority: 'Directeur général des services', decided_on: decidedOn, duration_months: 36,
      conditions: '', author_id: null, created_at: NOW.toISOString(), outcome: 'homologuee', ends_on: endDateOf(decidedOn, 36), authority_email: 'dgs@metropole.example.org',
    });
    signature = await db('signatures').where('plan_id', planId).orderBy('id', 'desc').first();
  }
  const endsOn = String(signature.ends_on ?? endDateOf(String(signature.decided_on), 36));
  const reminder = await db.transaction((trx) => createReminder(trx, { planId, signatureId: Number(signature.id), monthsBefore: 6, endsOn }, NOW, false));
  if (reminder === null) throw new Error('Rappel non créé');
  return reminder;
}

const UNKNOWN_TOKEN = 'inconnu-inconnu-inconnu-0000';

/** Risks: one of A touching a Villeurbanne instance (own), one of A touching none (other), one of B (hom2). */
async function prepareRisks(db: Knex, planA: number, planB: number, villeurbanne: number, editor: Actor): Promise<Record<'own' | 'other' | 'hom2', number>> {
  const inPlan = (planId: number) => db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').where('plan_instances.plan_id', planId);
  const ownInstance = await inPlan(planA).where('instances.commune_id', villeurbanne).first('instances.id');
  const otherInstance = await inPlan(planA).whereNull('instances.commune_id').first('instances.id');
  const bInstance = await inPlan(planB).first('instances.id');
  if (!ownInstance || !otherInstance || !bInstance) throw new Error('La démonstration devait avoir des instances de Villeurbanne et de la Métropole');
  const risk = async (planId: number, title: string, instanceId: number) => {
    const input: RiskInput = {
      title, description: '', scenario: '', ownerTeamId: null, ownerName: '', likelihood: 2, severity: 3, existingMeasures: '', treatment: 'reduire',
      residualLikelihood: null, residualSeverity: null, ficheIds: [], instanceIds: [Number(instanceId)],
    };
    const r = await createRisk(db, planId, input, editor, NOW);
    if (!r.ok) throw new Error(`Risque non créé (${r.reason})`);
    return r.id;
  };
  return {
    own: await risk(planA, 'Risque de Villeurbanne (test des droits)', Number(ownInstance.id)),
    other: await risk(planA, 'Risque de la Métropole (test des droits)', Number(otherInstance.id)),
    hom2: await risk(planB, `Risque confidentiel ${SECRET_OBJECTS[0]}`, Number(bInstance.id)),
  };
}

async function prepare(t: TestApp): Promise<Fixtures> {
  const db = t.db;
  // homologation A: the demo's
  const plan = (await getHomologation(db, Number((await db('plans').orderBy('id').first()).id)))!;
  if (!plan.isDemo) throw new Error('La première homologation devait être celle de la démonstration');
  const fiche1 = await ficheIdByNumber(db, 1);
  const fiche2 = await ficheIdByNumber(db, 2);
  const communeId = async (name: string) => Number((await db('communes').where({ name }).first()).id);
  const villeurbanne = await communeId('Villeurbanne');
  const bron = await communeId('Bron');
  // a logo, so that the public logo address answers (the demo has none)
  await db('organisation_identity').where({ id: 1 }).update({ logo: Buffer.from('89504e470d0a1a0a', 'hex'), logo_type: 'image/png' });

  // the commune administrator of Villeurbanne, when the demo has none
  if (!demoAccountOf('commune_admin')) {
    testPasswordHash ??= TEST_PASSWORDS.hash(CREATED_COMMUNE_ADMIN.password);
    const r = await createUser(db, {
      email: CREATED_COMMUNE_ADMIN.email, name: 'Lina Morel (test)', role: 'commune_admin', communeId: villeurbanne, active: true, passwordHash: await testPasswordHash,
    }, { id: null, name: 'Tests' }, NOW);
    if (!r.ok) throw new Error('Création du compte administrateur de commune impossible');
  }

  // meetings: the demo's cover the whole plan (a commune sees them); one on fiche 2 only it may not see
  const editorRow = await db('users').where({ email: ACCOUNTS.editor }).first();
  const editor = (await findUser(db, Number(editorRow.id)))!;
  const demoMeetings = await db('meetings').where('plan_id', plan.id).orderBy('id');
  const openOwn = demoMeetings.find((m) => !m.held_at);
  const heldOwn = demoMeetings.find((m) => m.held_at);
  if (!openOwn || !heldOwn) throw new Error('La démonstration devait avoir une séance tenue et une à venir');
  const hiddenMeeting = (title: string) => createMeeting(db, plan.id, {
    title, kind: 'suivi', startsAt: '2026-04-20T10:00', endsAt: '2026-04-20T11:00', place: 'Salle 2', visioUrl: '',
    objective: "Point sur l'Intranet et l'Extranet.", reminder: '', questions: '', coversAll: false, ficheIds: [fiche2], attendees: [],
  }, editor, NOW);
  const openOther = await hiddenMeeting('Point Intranet (test des droits)');
  const heldOther = await hiddenMeeting('Point Intranet tenu (test des droits)');
  if (!(await holdMeeting(db, heldOther, await liveAgenda(db, plan, (await getMeeting(db, heldOther))!, NOW), editor, NOW))) throw new Error('Séance non tenue');

  // a late-fiche alert and an outbox message (the demo has sent digests; alerts need the scan)
  let alert = await db('alerts').orderBy('id').first();
  if (!alert) {
    const fiche = await db('fiches').where({ id: fiche2 }).first();
    await db('alerts').insert({ fiche_id: fiche2, target_date: fiche.target_date, created_at: NOW.toISOString(), last_sent_at: NOW.toISOString() });
    alert = await db('alerts').orderBy('id').first();
  }
  let message = await db('outbox').orderBy('id').first();
  if (!message) {
    await db('outbox').insert({
      kind: 'digest', dedup_key: 'test-droits', to_address: 'numerique@bron.example.org', subject: 'Point', text: 'Point', html: '<p>Point</p>',
      status: 'failed', next_attempt_at: NOW.toISOString(), created_at: NOW.toISOString(),
    });
    message = await db('outbox').orderBy('id').first();
  }

  // contacts: one of Villeurbanne, one of Bron; the unsubscribe link of a third commune's contact
  const [ownContact] = await listContacts(db, villeurbanne);
  const [otherContact] = await listContacts(db, bron);
  const [tokenContact] = await listContacts(db, await communeId('Vénissieux'));
  if (!ownContact || !otherContact || !tokenContact) throw new Error('La démonstration devait avoir des contacts');

  const viewer = await db('users').where({ email: ACCOUNTS.viewer }).first();
  const communeAgent = await db('users').where({ email: ACCOUNTS.commune }).first();
  // an agent of another commune, for the delegated administration's "other" case
  const bronUser = await createUser(db, {
    email: 'agent@bron.example.org', name: 'Agent de Bron (test)', role: 'commune', communeId: bron, active: true, passwordHash: await (testPasswordHash ??= TEST_PASSWORDS.hash(CREATED_COMMUNE_ADMIN.password)),
  }, { id: null, name: 'Tests' }, NOW);
  if (!bronUser.ok) throw new Error("Création de l'agent de Bron impossible");
  const bronAgent = bronUser.id;
  const passwordLink = await issueToken(db, bronAgent, 'set', NOW);
  // an access request waiting in each commune (agents signed in through an identity provider without an account)
  const request = async (commune: number, who: string) => {
    await askAccess(db, { communeId: commune, issuer: 'https://fournisseur.test', subject: who, email: `${who}@exemple.test`, name: who, siret: null }, NOW);
    return Number((await db('access_requests').where({ subject: who }).first()).id);
  };
  const demandes = { own: await request(villeurbanne, 'demande-villeurbanne'), other: await request(bron, 'demande-bron') };
  const lastId = async (table: string) => Number((await db(table).orderBy('id', 'desc').first()).id);

  // homologation B and its members
  const members: Partial<Record<SignedIn, number>> = {};
  for (const [actor, account] of Object.entries(MEMBER_ACCOUNTS) as [SignedIn, { email: string; name: string }][]) {
    const r = await createUser(db, {
      email: account.email, name: account.name, role: GLOBAL_ROLE[actor], communeId: null, active: true, passwordHash: await (testPasswordHash ??= TEST_PASSWORDS.hash(CREATED_COMMUNE_ADMIN.password)),
    }, { id: null, name: 'Tests' }, NOW);
    if (!r.ok) throw new Error(`Création du compte ${account.email} impossible`);
    members[actor] = r.id;
  }
  const homB = await createHomologationB(db, editor, members);
  const risks = await prepareRisks(db, Number(plan.id), homB.id, villeurbanne, editor);
  // a pending spreadsheet import in each homologation (one fiche row: confirming it without its preview's fingerprint is refused)
  const pendingImport = (planId: number) => saveUpload(db, planId, editor.id, {
    name: 'plan.csv', format: 'csv',
    sheets: [{ name: 'CSV', rows: [['N°', 'Titre'], ['1', 'Fiche importée']] }],
    mappings: [{ sheet: 0, kind: 'fiches', headerRow: 0, columns: ['number', 'title'] }],
  }, NOW);
  const imports = { own: await pendingImport(Number(plan.id)), hom2: await pendingImport(homB.id) };
  // a bulk operation of a Villeurbanne agent in A (its commune's staff may review it), one in B
  const bulkOperation = async (planId: number, communeId: number | null) => insertedId(await db('bulk_operations').insert({
    plan_id: planId, user_id: null, actor: 'Tests', commune_id: communeId, at: NOW.toISOString(), kind: 'deploiement', summary: 'Opération par lot (test des droits)', count: 2,
  }).returning('id'));
  const lots = { any: await bulkOperation(Number(plan.id), villeurbanne), hom2: await bulkOperation(homB.id, null) };
  // evidence: on fiche 1 (Villeurbanne's), on fiche 2 (not), on B's fiche
  const evidence = async (planId: number, ficheId: number) => {
    const id = await createDocument(db, {
      planId, ownerType: 'fiche', ownerId: ficheId, ownerLabel: 'fiche', title: 'Pièce (test des droits)',
      file: { name: 'piece.pdf', contentType: 'application/pdf', size: 9, sha256: '0'.repeat(64), async *chunks() { yield Buffer.from('%PDF-1.7\n'.slice(0, 9)); } },
    }, editor, NOW);
    return { id, version: Number((await db('document_versions').where('document_id', id).first()).id) };
  };
  const pieces = { own: await evidence(Number(plan.id), fiche1), other: await evidence(Number(plan.id), fiche2), hom2: await evidence(homB.id, homB.ficheId) };
  // the viewer's calendar feed, and a named person without an account
  const feedToken = 'f'.repeat(43);
  await setIcsTokenHash(db, Number(viewer.id), createHash('sha256').update(feedToken).digest('hex'));
  const person = insertedId(await db('people').insert({ name: 'Prestataire (test)', email: 'prestataire@exemple.fr', function: 'Infogérant', created_at: NOW.toISOString() }).returning('id'));
  // a step of A's given to that person, and the link they would receive
  const linkStep = Number((await db('steps').whereIn('fiche_id', db('fiches').where('plan_id', plan.id).select('id')).orderBy('id', 'desc').first()).id);
  await db('steps').where({ id: linkStep }).update({ assignee_person_id: person });
  const stepLinkToken = await createStepLink(db, linkStep, person, NOW);
  if (Number(plan.id) === homB.id) throw new Error('La démonstration devait être la première homologation');
  // A: a decision with its expiry reminder, and a member (the viewer, listed with the role it has anyway)
  const reminderA = await reminderOf(db, Number(plan.id), '2023-07-01');
  await db('plan_members').insert({ plan_id: plan.id, user_id: viewer.id, role: 'viewer' }).onConflict(['plan_id', 'user_id']).ignore();
  const viewerInA = await db('plan_members').where({ plan_id: plan.id, user_id: viewer.id }).first();
  if (viewerInA?.role !== 'viewer') throw new Error(`Le compte lecteur devait être lecteur de l'homologation A (${String(viewerInA?.role)})`);
  await enrolRequiredSecondFactors(db);

  return {
    villeurbanneId: villeurbanne,
    homB: { id: homB.id, ficheId: homB.ficheId, meetingIds: [homB.open, homB.held] },
    byResource: {
      homologations: { own: Number(plan.id), hom2: homB.id, nohom: NO_HOMOLOGATION },
      rappels: { any: reminderA, hom2: homB.reminder },
      membres: { any: Number(viewer.id), hom2: members.member_editor! },
      fiches: { own: fiche1, other: fiche2, hom2: homB.ficheId },
      risques: risks,
      import: imports,
      lots,
      pieces: { own: pieces.own.id, other: pieces.other.id, hom2: pieces.hom2.id },
      versions: { own: pieces.own.version, other: pieces.other.version, hom2: pieces.hom2.version },
      seances: { own: Number(openOwn.id), other: openOther, hom2: homB.open },
      'seances(tenues)': { own: Number(heldOwn.id), other: heldOther, hom2: homB.held },
      communes: { own: villeurbanne, other: bron },
      contacts: { own: ownContact.id, other: otherContact.id },
      desinscription: { any: tokenContact.unsubscribeToken, unknown: UNKNOWN_TOKEN },
      calendrier: { any: `${feedToken}.ics`, unknown: `${UNKNOWN_TOKEN}.ics` },
      action: { any: stepLinkToken, unknown: UNKNOWN_TOKEN },
      'mes-actions/etapes': { any: Number((await db('steps').orderBy('id').first()).id) },
      personnes: { any: person },
      alertes: { any: Number(alert.id) },
      courriels: { any: Number(message.id) },
      utilisateurs: { any: Number(viewer.id) },
      'mot-de-passe': { any: passwordLink, unknown: UNKNOWN_TOKEN },
      equipes: { any: await lastId('teams') },
      'admin/communes': { any: bron },
      'ma-commune/utilisateurs': { own: Number(communeAgent.id), other: bronAgent },
      'ma-commune/demandes': demandes,
      services: { any: await lastId('services') },
      instances: { any: await lastId('instances') },
      jalons: { any: await lastId('milestones') },
      environnements: { any: await lastId('environments') },
    },
  };
}

/** Under a homologation: which value each parameter takes in each case (the homologation's, then the object's). */
const HOM_KEY: Partial<Record<CaseName, CaseName>> = { hom2: 'hom2', nohom: 'nohom' };
const OBJECT_KEY: Partial<Record<CaseName, CaseName>> = { foreign: 'hom2', hom2: 'hom2', nohom: 'own' };

/** The requests of a route: one per case its parameters offer. */
function casesOf(route: string, entry: Entry, fx: Fixtures): { name: CaseName; url: string }[] {
  const [, path] = route.split(' ') as [string, string];
  const segments = path.split('/');
  const params: { hid: boolean; v: Partial<Record<CaseName, number | string>> }[] = [];
  segments.forEach((s, i) => {
    if (!s.startsWith(':')) return;
    // the most precise key first: the path before the parameter, then the resource just before it
    const prefix = segments.slice(1, i).join('/').replace(/^homologations\/:hid\//, '');
    let resource = s === ':communeId' ? 'communes' : segments[i - 1] ?? '';
    if (resource === 'seances' && entry.held) resource = 'seances(tenues)';
    const v = fx.byResource[prefix] ?? fx.byResource[resource];
    if (!v) throw new Error(`${route} : aucune donnée de démonstration pour ${s} après /${prefix}/ — ajoutez-en une dans prepare()`);
    params.push({ hid: s === ':hid', v });
  });
  const objects = params.filter((p) => !p.hid);
  const names = new Set<CaseName>(objects.flatMap((p) => Object.keys(p.v) as CaseName[]));
  names.delete('hom2');
  let caseNames: CaseName[] = objects.length === 0 ? ['any'] : names.has('own') ? ['own', 'other'] : [...names];
  const underHomologation = params.some((p) => p.hid);
  if (underHomologation) {
    if (objects.length === 0) caseNames = ['own'];
    caseNames.push('hom2', 'nohom');
    if (objects.length && objects.every((p) => p.v.hom2 !== undefined)) caseNames.push('foreign');
    else if (objects.length) throw new Error(`${route} : pas d'objet de l'homologation B dans prepare() (clé hom2)`);
  }
  return caseNames.map((name) => {
    let k = 0;
    const url = segments.map((s) => {
      if (!s.startsWith(':')) return s;
      const p = params[k++]!;
      const key = (p.hid ? HOM_KEY[name] ?? 'own' : OBJECT_KEY[name] ?? name);
      const value = p.v[key] ?? (key === 'hom2' || key === 'nohom' ? undefined : p.v.any ?? (key === 'other' ? p.v.own : undefined));
      if (value === undefined) throw new Error(`${route} : pas de valeur « ${key} » pour ${s}`);
      return encodeURIComponent(String(value));
    }).join('/');
    return { name, url: url || '/' };
  });
}

function expected(entry: Entry, actor: ActorName, c: CaseName): Outcome {
  // a homologation that does not exist: 404 for whoever is signed in, before any other check
  if (c === 'nohom') return actor === 'anonymous' ? 'login' : 404;
  // another homologation's object under this one's address: as if it did not exist
  const outcome = POLICIES[entry.policy](actor, c === 'foreign' ? 'own' : c);
  if (c === 'foreign' && outcome === 403) return 'hidden';
  // an unknown token or id: whoever may use the route gets a 404
  return (c === 'unknown' || c === 'foreign') && outcome === 'allowed' ? 404 : outcome;
}

// ---------------------------------------------------------------- requests

interface World {
  t: TestApp;
  fx: Fixtures;
  agents: Partial<Record<ActorName, Agent>>;
  tokens: Partial<Record<ActorName, string>>;
}

async function worldOf(t: TestApp, actors: readonly ActorName[]): Promise<World> {
  const fx = await prepare(t);
  const agents: Partial<Record<ActorName, Agent>> = {};
  for (const actor of actors) {
    if (actor === 'anonymous') agents.anonymous = request.agent(t.app);
    else {
      const { email, password } = credentialsOf(actor);
      agents[actor] = await signInAs(t, email, password);
    }
  }
  return { t, fx, agents, tokens: {} };
}

/** A valid CSRF token of the actor's session, from a page it can load. */
async function tokenOf(w: World, actor: ActorName, fresh = false): Promise<string> {
  if (!fresh && w.tokens[actor]) return w.tokens[actor];
  const url = actor === 'anonymous' ? '/connexion' : '/homologations';
  const page = await w.agents[actor]!.get(url);
  if (page.status !== 200) throw new Error(`${actor} : pas de page pour un jeton CSRF (${url} répond ${page.status})`);
  const token = csrfOf(page.text);
  w.tokens[actor] = token;
  return token;
}

interface Answer { status: number; location: string; text: string }

const CSRF_REFUSED = 'Le formulaire a expiré';

async function send(w: World, actor: ActorName, method: string, url: string, body: Record<string, string>): Promise<Answer> {
  const agent = w.agents[actor]!;
  const go = async (fresh: boolean) => {
    if (method === 'GET' || method === 'ALL') return agent.get(url);
    const form = formBody({ _csrf: await tokenOf(w, actor, fresh), ...body });
    const m = method.toLowerCase();
    if (m === 'post') return agent.post(url).type('form').send(form);
    if (m === 'put') return agent.put(url).type('form').send(form);
    if (m === 'patch') return agent.patch(url).type('form').send(form);
    if (m === 'delete') return agent.delete(url).type('form').send(form);
    throw new Error(`Méthode non prévue : ${method}`);
  };
  let res = await go(false);
  // a token that went stale (session regenerated): once more with a new one
  if (res.status === 403 && res.text.includes(CSRF_REFUSED)) res = await go(true);
  return { status: res.status, location: String(res.headers.location ?? ''), text: res.text };
}

function problemOf(entry: Entry, want: Outcome, got: Answer): string | null {
  // a refused CSRF token is a fault of the test, never a proof of a refusal
  if (got.status === 403 && got.text.includes(CSRF_REFUSED)) return 'CSRF token refused (test setup)';
  const toSignIn = (got.status === 302 || got.status === 303) && /^\/connexion(\?|$)/.test(got.location);
  if (want === 'login') return got.status === 302 && toSignIn ? null : 'expected a redirect to /connexion';
  if (want === 'moved') return got.status === 301 && /^\/homologations(\/|$)/.test(got.location) ? null : 'expected a 301 to /homologations…';
  if (want === 403) return got.status === 403 ? null : 'expected 403';
  if (want === 404) return got.status === 404 ? null : 'expected 404';
  if (want === 'hidden') return got.status === 403 || got.status === 404 ? null : 'expected 403 or 404';
  if ([401, 403, 404].includes(got.status)) return 'expected access';
  if (got.status >= 500) return 'expected access, got a server error';
  if (toSignIn && !entry.signInFlow) return 'expected access, was sent to sign in';
  return null;
}

const describeAnswer = (a: Answer) => `${a.status}${a.location ? ` → ${a.location}` : ''}`;

/** What a write must never change through homologation A's address: B's fiche, meetings and what hangs on them. */
async function snapshotOfB(w: World): Promise<string> {
  const db = w.t.db;
  const { id, ficheId, meetingIds } = w.fx.homB;
  const rows = await Promise.all([
    db('fiches').where('plan_id', id).orderBy('id'),
    db('meetings').where('plan_id', id).orderBy('id'),
    db('progress_notes').where('fiche_id', ficheId).orderBy('id'),
    db('meeting_decisions').whereIn('meeting_id', meetingIds).orderBy('id'),
    db('signatures').where('plan_id', id).orderBy('id'),
    db('plans').where('id', id),
    db('plan_members').where('plan_id', id).orderBy('user_id'),
    db('plan_instances').where('plan_id', id).orderBy('instance_id'),
    db('expiry_reminders').where('plan_id', id).orderBy('id'),
  ]);
  return JSON.stringify(rows);
}

/** What of homologation B a refused answer must not show. */
function leakIn(actor: ActorName, c: CaseName, got: Answer): string | null {
  const commune = COMMUNE_ROLES.includes(actor);
  let secrets: string[] = [];
  if (c === 'foreign') secrets = commune ? [SECRET_HOM, ...SECRET_OBJECTS] : SECRET_OBJECTS;
  else if (c === 'hom2' && commune) secrets = [SECRET_HOM, ...SECRET_OBJECTS];
  const found = secrets.filter((m) => got.text.includes(m));
  return found.length ? `the answer shows homologation B's content (${found.join(', ')})` : null;
}

async function check(w: World, route: string, entry: Entry, actor: ActorName, problems: string[]): Promise<number> {
  const [method] = route.split(' ') as [string];
  let count = 0;
  for (const c of casesOf(route, entry, w.fx)) {
    const want = expected(entry, actor, c.name);
    const guarded = c.name === 'foreign' && method !== 'GET';
    const before = guarded ? await snapshotOfB(w) : '';
    const got = await send(w, actor, method, c.url, entry.body ?? {});
    const problem = problemOf(entry, want, got) ?? leakIn(actor, c.name, got)
      ?? (guarded && (await snapshotOfB(w)) !== before ? "homologation B's objects changed" : null);
    if (problem) problems.push(`${route} as ${actor} (${c.name}: ${method} ${c.url}): ${problem} [${want}], got ${describeAnswer(got)}`);
    count++;
  }
  return count;
}

// ---------------------------------------------------------------- the tests

describe('authorization matrix: every route × every actor', function () {
  // a route is asked by every actor in every case: the agenda's PDF, rendered each time, takes some ten seconds in all
  // (more on a loaded machine), which the default 30 s left little margin for
  this.timeout(120_000);
  let shared: World;
  before(async () => {
    shared = await worldOf(await freshApp(), ACTORS);
  });
  after(() => shared.t.close());

  it('has an access decision for every route of the router, and none for a route that no longer exists', () => {
    const routes = routesOf(shared.t.app);
    const declared = Object.keys(MATRIX);
    // the walk itself must find the routes, or this test proves nothing
    expect(routes, 'routes found in app.router').to.include.members([
      'GET /homologations', 'GET /homologations/:hid', 'GET /homologations/:hid/fiches/:id', 'POST /homologations/:hid/seances/:id/tenir',
      'GET /plan', 'GET /admin/journal',
    ]);
    const undeclared = routes.filter((r) => !declared.includes(r));
    const stale = declared.filter((r) => !routes.includes(r));
    expect(undeclared, `Routes without an access decision in test/authorization.test.ts (MATRIX):\n  ${undeclared.join('\n  ')}\n`).to.deep.equal([]);
    expect(stale, `MATRIX entries matching no route of the app:\n  ${stale.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('fills every route parameter with a demo row', () => {
    for (const route of Object.keys(MATRIX)) expect(() => casesOf(route, entryOf(route), shared.fx), route).not.to.throw();
  });

  it('the Villeurbanne commune actors really are restricted to Villeurbanne', async () => {
    for (const actor of COMMUNE_ROLES) {
      const { email } = credentialsOf(actor as SignedIn);
      const row = await shared.t.db('users').where({ email }).first();
      expect(row.role, email).to.equal(actor);
      expect(Number(row.commune_id), email).to.equal(shared.fx.villeurbanneId);
    }
  });

  it('homologation B is what the cases assume: outside Villeurbanne, with its two members', async () => {
    const db = shared.t.db;
    const b = shared.fx.homB.id;
    const villeurbanneInB = await db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id')
      .where('plan_instances.plan_id', b).where('instances.commune_id', shared.fx.villeurbanneId).first();
    expect(villeurbanneInB, 'B covers no instance of Villeurbanne').to.equal(undefined);
    for (const [actor, account] of Object.entries(MEMBER_ACCOUNTS) as [SignedIn, { email: string }][]) {
      const user = await db('users').where({ email: account.email }).first();
      expect(user.role, account.email).to.equal(GLOBAL_ROLE[actor]);
      const member = await db('plan_members').where({ plan_id: b, user_id: user.id }).first();
      expect(member?.role, account.email).to.equal(MEMBERSHIP[actor]?.B);
    }
    // the markers the leak checks look for are really printed on B's own pages
    const fiche = await shared.agents.viewer!.get(`/homologations/${b}/fiches/${shared.fx.homB.ficheId}`).expect(200);
    expect(fiche.text).to.include(SECRET_OBJECTS[0]).and.to.include(SECRET_HOM);
    const meeting = await shared.agents.viewer!.get(`/homologations/${b}/seances/${shared.fx.homB.meetingIds[1]}`).expect(200);
    expect(meeting.text).to.include(SECRET_OBJECTS[2]);
  });

  it('the home page and the organisation dashboard show B to the Métropole and its members, never to the Villeurbanne actors', async () => {
    for (const url of ['/homologations', '/tableau-de-bord']) {
      for (const actor of ACTORS) {
        if (actor === 'anonymous') continue;
        const res = await shared.agents[actor]!.get(url).expect(200);
        expect(res.text.includes(SECRET_HOM), `${url} as ${actor}`).to.equal(!COMMUNE_ROLES.includes(actor));
        expect(res.text, `${url} as ${actor}`).to.include("Plan d'action de l'homologation RGS des téléservices".replace(/'/g, '&#39;'));
      }
    }
  });

  it("an old address goes to the object's own homologation; an unknown object is a 404", async () => {
    const { homB } = shared.fx;
    const agent = shared.agents.viewer!;
    const fiche = await agent.get(`/fiches/${homB.ficheId}?vue=1`).expect(301);
    expect(fiche.headers.location).to.equal(`/homologations/${homB.id}/fiches/${homB.ficheId}?vue=1`);
    const agenda = await agent.get(`/seances/${homB.meetingIds[0]}/ordre-du-jour.pdf`).expect(301);
    expect(agenda.headers.location).to.equal(`/homologations/${homB.id}/seances/${homB.meetingIds[0]}/ordre-du-jour.pdf`);
    await agent.get(`/fiches/${NO_HOMOLOGATION}`).expect(404);
    await agent.get(`/seances/${NO_HOMOLOGATION}/invitation.ics`).expect(404);
    // a Villeurbanne agent is not told which homologation (Bron's only) holds B's objects
    for (const actor of COMMUNE_ROLES) {
      const refused = await shared.agents[actor]!.get(`/fiches/${homB.ficheId}`).expect(403);
      expect(refused.headers.location).to.equal(undefined);
      await shared.agents[actor]!.get(`/seances/${homB.meetingIds[0]}`).expect(403);
    }
  });

  it("a late-fiche alert of B is acknowledged as B lists its people: not by a global editor listed as its viewer, but by a global viewer listed as its editor", async () => {
    const db = shared.t.db;
    const { ficheId } = shared.fx.homB;
    await db('alerts').insert({ fiche_id: ficheId, target_date: '2026-01-31', created_at: NOW.toISOString(), last_sent_at: NOW.toISOString() });
    const alert = Number((await db('alerts').where('fiche_id', ficheId).orderBy('id', 'desc').first()).id);
    const refused = await send(shared, 'member_viewer', 'POST', `/alertes/${alert}/acquitter`, {});
    expect(refused.status, describeAnswer(refused)).to.equal(403);
    expect((await db('alerts').where('id', alert).first()).acknowledged_at).to.equal(null);
    const accepted = await send(shared, 'member_editor', 'POST', `/alertes/${alert}/acquitter`, {});
    expect(accepted.status, describeAnswer(accepted)).to.equal(303);
    const row = await db('alerts').where('id', alert).first();
    expect(Number(row.acknowledged_by)).to.equal(Number((await db('users').where({ email: MEMBER_ACCOUNTS.member_editor!.email }).first()).id));
  });

  for (const route of Object.keys(MATRIX)) {
    const entry = entryOf(route);
    it(`${route} — ${entry.policy}${entry.isolate ? ' (each allowed actor in a fresh app)' : ''}`, async function () {
      const problems: string[] = [];
      let checks = 0;
      for (const actor of ACTORS) {
        const cases = casesOf(route, entry, shared.fx);
        const allowedSomewhere = cases.some((c) => expected(entry, actor, c.name) === 'allowed');
        if (entry.isolate && allowedSomewhere && actor !== 'anonymous') {
          const t = await freshApp();
          try {
            checks += await check(await worldOf(t, [actor]), route, entry, actor, problems);
          } finally {
            await t.close();
          }
        } else {
          checks += await check(shared, route, entry, actor, problems);
        }
      }
      expect(checks, route).to.be.at.least(ACTORS.length);
      expect(problems, `\n  ${problems.join('\n  ')}\n`).to.deep.equal([]);
    });
  }
});

describe('an archived homologation: every change refused (409) but its renewal, archive, deletion and reminders', function () {
  /** The writes resolveScope still lets through on a read-only homologation (each route then decides). */
  const WRITABLE = /^\/homologations\/:hid\/(renouveler|archiver|supprimer|rappels\/:id\/acquitter)$/;
  let w: World;
  before(async () => {
    w = await worldOf(await freshApp(), ['admin', 'member_editor']);
    const admin = await w.t.db('users').where({ email: ACCOUNTS.admin }).first();
    expect(await archiveHomologation(w.t.db, w.fx.homB.id, (await findUser(w.t.db, Number(admin.id)))!, NOW)).to.equal('ok');
  });
  after(() => w.t.close());

  it("refuses with 409 every form and write under B, as its administrator and as its editor, and B's objects stay as they were", async () => {
    const problems: string[] = [];
    let checks = 0;
    for (const route of Object.keys(MATRIX)) {
      const [method, path] = route.split(' ') as [string, string];
      const entry = entryOf(route);
      if (!path.startsWith('/homologations/:hid') || WRITABLE.test(path)) continue;
      if (method === 'GET' && entry.policy !== 'editor') continue;
      const url = casesOf(route, entry, w.fx).find((c) => c.name === 'hom2')!.url;
      for (const actor of ['admin', 'member_editor'] as const) {
        if (expected(entry, actor, 'hom2') !== 'allowed') continue;
        const before = await snapshotOfB(w);
        const got = await send(w, actor, method, url, entry.body ?? {});
        if (got.status !== 409) problems.push(`${route} as ${actor} (${method} ${url}): expected 409, got ${describeAnswer(got)}`);
        else if (!got.text.includes('archivée ou expirée')) problems.push(`${route} as ${actor}: a 409 that does not say the homologation is read-only`);
        if ((await snapshotOfB(w)) !== before) problems.push(`${route} as ${actor}: B's objects changed`);
        checks++;
      }
    }
    expect(checks, 'requests made').to.be.at.least(20);
    expect(problems, `\n  ${problems.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('lets the routes it spares decide: a reminder closed by the archive, the renewal form', async () => {
    const ack = await send(w, 'member_editor', 'POST', `/homologations/${w.fx.homB.id}/rappels/${String(w.fx.byResource.rappels!.hom2)}/acquitter`, {});
    expect(ack.status, describeAnswer(ack)).to.equal(409);
    expect(ack.text).to.include('Ce rappel est clos').and.not.to.include('archivée ou expirée');
    const renew = await send(w, 'member_editor', 'GET', `/homologations/${w.fx.homB.id}/renouveler`, {});
    expect(renew.status).to.equal(200);
  });
});

describe("references in a form stay within the homologation: another homologation's fiche or an instance outside the perimeter is refused", function () {
  let w: World;
  before(async () => {
    w = await worldOf(await freshApp(), ['editor']);
  });
  after(() => w.t.close());

  const a = () => Number(w.fx.byResource.homologations!.own);

  it("a decision of A's meeting on B's fiche: 422, nothing recorded (A's own fiche: recorded)", async () => {
    const db = w.t.db;
    const meeting = Number(w.fx.byResource.seances!.own);
    const url = `/homologations/${a()}/seances/${meeting}/decisions`;
    const refused = await send(w, 'editor', 'POST', url, { ficheId: String(w.fx.homB.ficheId), text: 'Décision sur la fiche de B' });
    expect(refused.status, describeAnswer(refused)).to.equal(422);
    expect(refused.text).not.to.include(SECRET_OBJECTS[0]);
    expect(await db('meeting_decisions').where('fiche_id', w.fx.homB.ficheId).first()).to.equal(undefined);
    const own = Number(w.fx.byResource.fiches!.own);
    const accepted = await send(w, 'editor', 'POST', url, { ficheId: String(own), text: 'Décision sur une fiche de A' });
    expect(accepted.status, describeAnswer(accepted)).to.equal(303);
    expect(await db('meeting_decisions').where({ meeting_id: meeting, fiche_id: own }).first()).not.to.equal(undefined);
  });

  it("a meeting of A covering B's fiche: 422, no meeting created (covering A's fiche: created)", async () => {
    const db = w.t.db;
    const form = (ficheId: number, title: string) => ({
      title, kind: 'suivi', date: '2026-05-12', startTime: '10:00', endTime: '11:00', place: 'Salle 3', visioUrl: '', objective: 'Point.',
      reminder: '', questions: '', coverage: 'part', ficheIds: [String(ficheId)],
    });
    const url = `/homologations/${a()}/seances`;
    const refused = await send(w, 'editor', 'POST', url, form(w.fx.homB.ficheId, 'Séance couvrant B') as unknown as Record<string, string>);
    expect(refused.status, describeAnswer(refused)).to.equal(422);
    expect(await db('meetings').where('title', 'Séance couvrant B').first()).to.equal(undefined);
    expect(await db('meeting_fiches').where('fiche_id', w.fx.homB.ficheId).first()).to.equal(undefined);
    const accepted = await send(w, 'editor', 'POST', url, form(Number(w.fx.byResource.fiches!.own), 'Séance couvrant A') as unknown as Record<string, string>);
    expect(accepted.status, describeAnswer(accepted)).to.equal(303);
    expect(await db('meetings').where({ title: 'Séance couvrant A', plan_id: a() }).first()).not.to.equal(undefined);
  });

  it("a fiche of B scoped to an instance outside B's perimeter: 422, nothing created (an instance of B: created)", async () => {
    const db = w.t.db;
    const b = w.fx.homB.id;
    const inB = Number((await db('plan_instances').where('plan_id', b).orderBy('instance_id').first()).instance_id);
    const outside = Number((await db('instances').whereNotIn('id', db('plan_instances').where('plan_id', b).select('instance_id')).orderBy('id').first()).id);
    const team = Number((await db('teams').orderBy('id').first()).id);
    const form = (number: string, instanceId: number) => ({
      number, title: `Fiche de contrôle ${number}`, finding: 'Constat.', targetDate: '2026-09-30', status: 'non_demarre', conclusion: '',
      costAmount: '', costSource: '', scope: 'part', instanceIds: [String(instanceId)], owners: [{ teamId: String(team), serviceId: '' }],
    });
    const url = `/homologations/${b}/fiches`;
    // the project team has no role in B beyond its global one (editor): it may edit B
    const refused = await send(w, 'editor', 'POST', url, form('41', outside) as unknown as Record<string, string>);
    expect(refused.status, describeAnswer(refused)).to.equal(422);
    expect(await db('fiches').where({ plan_id: b, number: 41 }).first()).to.equal(undefined);
    const accepted = await send(w, 'editor', 'POST', url, form('42', inB) as unknown as Record<string, string>);
    expect(accepted.status, describeAnswer(accepted)).to.equal(303);
    expect(await db('fiches').where({ plan_id: b, number: 42 }).first()).not.to.equal(undefined);
  });
});
