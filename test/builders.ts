/**
 * Test data builders: each names only what a test cares about and fills the rest with valid defaults, then writes
 * through the app's own data functions (the same checks, the same audit rows), on SQLite and PostgreSQL alike.
 *
 *   const team = await aTeam().insert(t.db);
 *   const hom = await aHomologation().named('Portail').withInstances(i1, i2).insert(t.db);
 *   const fiche = await aFiche().inHomologation(hom).withSteps(3).late().ownedBy(team).insert(t.db);
 *   const agent = await signedIn(t, 'editor');
 *
 * Names and e-mail addresses are made unique per process, so builders add to the demo database without clashing.
 */
import { format } from 'date-fns';
import type { Express } from 'express';
import type { Knex } from 'knex';
import type { AuditActor } from '../src/data/audit';
import { createFiche, type FicheInput } from '../src/data/fiches';
import { addMember, createHomologation } from '../src/data/homologations';
import { communes, instances, services, teams } from '../src/data/referentials';
import { createUser } from '../src/data/users';
import type { MemberRole } from '../src/domain/homologation';
import type { Actor, Role } from '../src/domain/roles';
import type { Environment, SideEffectLevel, Status } from '../src/domain/statuses';
import { type Agent, NOW, signIn, TEST_PASSWORDS } from './helpers';

/** Who the builders' writes are audited as: no account, like the demo loader. */
export const BUILDER: AuditActor = { id: null, name: 'Jeu de données de test' };
/** The password of every account a builder creates. */
export const BUILT_PASSWORD = 'phrase-de-passe-des-tests-0123';

let sequence = 0;
/** A name no other builder of this process (nor the demo) uses: the tables' unique constraints stay satisfied. */
const unique = (prefix: string) => `${prefix} ${process.pid}-${++sequence}`;

const dayOf = (date: Date) => format(date, 'yyyy-MM-dd');
const DAY_MS = 86_400_000;

function created<T extends { ok: boolean }>(result: T, what: string): T & { ok: true } {
  if (!result.ok) throw new Error(`Builder: ${what} refused: ${JSON.stringify(result)}`);
  return result as T & { ok: true };
}

// ---------------------------------------------------------------------------------------------------------------
// Reference tables

class TeamBuilder {
  private name = unique('Équipe');
  named(name: string) { this.name = name; return this; }
  async insert(db: Knex): Promise<number> {
    return created(await teams.create(db, { name: this.name, description: '' }, BUILDER, NOW), 'team').id;
  }
}
export const aTeam = () => new TeamBuilder();

class CommuneBuilder {
  private name = unique('Commune');
  named(name: string) { this.name = name; return this; }
  async insert(db: Knex): Promise<number> {
    return created(await communes.create(db, { name: this.name, inseeCode: null }, BUILDER, NOW), 'commune').id;
  }
}
export const aCommune = () => new CommuneBuilder();

class ServiceBuilder {
  private name = unique('Service');
  named(name: string) { this.name = name; return this; }
  async insert(db: Knex): Promise<number> {
    return created(await services.create(db, { name: this.name, description: '', position: 99 }, BUILDER, NOW), 'service').id;
  }
}
export const aService = () => new ServiceBuilder();

/** An instance; its service and managing team are created when not given. */
class InstanceBuilder {
  private name = unique('Instance');
  private environment: Environment = 'prod';
  private serviceId: number | null = null;
  private teamId: number | null = null;
  private communeId: number | null = null;
  named(name: string) { this.name = name; return this; }
  inEnvironment(environment: Environment) { this.environment = environment; return this; }
  ofService(serviceId: number) { this.serviceId = serviceId; return this; }
  managedBy(teamId: number) { this.teamId = teamId; return this; }
  inCommune(communeId: number) { this.communeId = communeId; return this; }
  async insert(db: Knex): Promise<number> {
    const serviceId = this.serviceId ?? await aService().insert(db);
    const teamId = this.teamId ?? await aTeam().insert(db);
    return created(await instances.create(db, {
      serviceId, environment: this.environment, name: this.name, teamId, communeId: this.communeId,
    }, BUILDER, NOW), 'instance').id;
  }
}
export const anInstance = () => new InstanceBuilder();

// ---------------------------------------------------------------------------------------------------------------
// Accounts

/** An account a builder created: the actor the app sees, with the password to sign in. */
export interface BuiltUser extends Actor { password: string }

// One hash per process: every built account shares the password, and argon2id, even cheap, is not free.
let passwordHash: Promise<string> | undefined;

class UserBuilder {
  private role: Role = 'editor';
  private communeId: number | null = null;
  private name = unique('Agent');
  private email: string | null = null;
  private active = true;
  private teamId: number | null = null;
  withRole(role: Role) { this.role = role; return this; }
  inCommune(communeId: number) { this.communeId = communeId; return this; }
  named(name: string) { this.name = name; return this; }
  withEmail(email: string) { this.email = email; return this; }
  inTeam(teamId: number) { this.teamId = teamId; return this; }
  suspended() { this.active = false; return this; }
  async insert(db: Knex): Promise<BuiltUser> {
    const email = this.email ?? `agent-${process.pid}-${++sequence}@test.example.org`;
    passwordHash ??= TEST_PASSWORDS.hash(BUILT_PASSWORD);
    const r = created(await createUser(db, {
      email, name: this.name, role: this.role, communeId: this.communeId, active: this.active, teamId: this.teamId,
      passwordHash: await passwordHash,
    }, BUILDER, NOW), 'user');
    return { id: r.id, email, name: this.name, role: this.role, communeId: this.communeId, password: BUILT_PASSWORD };
  }
}
export const aUser = () => new UserBuilder();

/**
 * A supertest agent signed in as a new account of this role (or as an account built beforehand). A commune role
 * without a commune gets a new, empty commune. Works where sign-in needs no second factor for the role (the demo
 * database; a fresh installation asks it of admins and editors).
 */
export async function signedIn(
  t: { app: Express; db: Knex }, who: Role | BuiltUser, options: { communeId?: number } = {},
): Promise<Agent> {
  let user: BuiltUser;
  if (typeof who === 'string') {
    const builder = aUser().withRole(who);
    const communeId = options.communeId ?? (who === 'commune' || who === 'commune_admin' ? await aCommune().insert(t.db) : undefined);
    if (communeId !== undefined) builder.inCommune(communeId);
    user = await builder.insert(t.db);
  } else {
    user = who;
  }
  return signIn(t.app, user.email, user.password);
}

// ---------------------------------------------------------------------------------------------------------------
// Homologations and fiches

class HomologationBuilder {
  private title = unique('Homologation');
  private instanceIds: number[] = [];
  private members: [number, MemberRole][] = [];
  named(title: string) { this.title = title; return this; }
  withInstances(...instanceIds: number[]) { this.instanceIds.push(...instanceIds); return this; }
  withMember(userId: number, role: MemberRole) { this.members.push([userId, role]); return this; }
  async insert(db: Knex): Promise<number> {
    const { id } = created(await createHomologation(db, {
      title: this.title, organisation: 'Organisation de test', description: '', instanceIds: this.instanceIds,
    }, BUILDER, NOW), 'homologation');
    for (const [userId, role] of this.members) created(await addMember(db, id, userId, role, BUILDER, NOW), 'member');
    return id;
  }
}
export const aHomologation = () => new HomologationBuilder();

class FicheBuilder {
  private planId: number | null = null;
  private input: FicheInput = {
    number: 0, title: unique('Fiche'), finding: '', targetDate: null, status: 'non_demarre', conclusion: '',
    conclusionCounts: [], costAmount: null, costSource: '', scopeAll: true, instanceIds: [], owners: [], steps: [], sideEffects: [],
  };
  private actor: Actor | null = null;
  inHomologation(planId: number) { this.planId = planId; return this; }
  numbered(number: number) { this.input.number = number; return this; }
  titled(title: string) { this.input.title = title; return this; }
  withStatus(status: Status) { this.input.status = status; return this; }
  due(targetDate: string) { this.input.targetDate = targetDate; return this; }
  /** Its target date passed a week before the tests' clock (late unless done). */
  late() { this.input.targetDate = dayOf(new Date(NOW.getTime() - 7 * DAY_MS)); return this; }
  /** Steps "Action 1…n", not started unless a status is given. */
  withSteps(count: number, status: Status = 'non_demarre') {
    const first = this.input.steps.length;
    for (let i = 1; i <= count; i++) this.input.steps.push({ id: null, position: first + i, label: `Action ${first + i}`, status });
    return this;
  }
  withSideEffect(level: SideEffectLevel, description: string) { this.input.sideEffects.push({ level, description }); return this; }
  /** Owned by a team, for the whole scope or for one service. */
  ownedBy(teamId: number, serviceId: number | null = null) { this.input.owners.push({ teamId, serviceId }); return this; }
  /** A scope of these instances (of the homologation's perimeter) instead of the whole perimeter. */
  onInstances(...instanceIds: number[]) { this.input.scopeAll = false; this.input.instanceIds.push(...instanceIds); return this; }
  /** Followed instance by instance (its rollout). */
  followedPerInstance() { this.input.rollout = true; return this; }
  /** Audited as written by this account (else by the builder, no account). */
  by(actor: Actor) { this.actor = actor; return this; }
  async insert(db: Knex): Promise<number> {
    const planId = this.planId ?? await aHomologation().insert(db);
    const number = this.input.number || await nextNumber(db, planId);
    // createFiche reads its actor only for the audit row, where an actor without account is the builder's
    const actor = this.actor ?? (BUILDER as unknown as Actor);
    return created(await createFiche(db, planId, { ...this.input, number }, actor, NOW), 'fiche').id;
  }
}
export const aFiche = () => new FicheBuilder();

async function nextNumber(db: Knex, planId: number): Promise<number> {
  const row = await db('fiches').where({ plan_id: planId }).max({ n: 'number' }).first();
  return Number(row?.n ?? 0) + 1;
}
