export const ROLES = ['admin', 'editor', 'viewer', 'commune', 'commune_admin'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = {
  admin: 'Administrateur',
  editor: 'Équipe projet (édition)',
  viewer: 'Comité de pilotage (lecture)',
  commune: 'Agent de commune',
  commune_admin: 'Administrateur de commune',
};

export interface Actor {
  id: number;
  name: string;
  email: string;
  role: Role;
  communeId: number | null;
}

/** 'commune:users': manage the accounts of one's own commune, within the commune role (delegation). */
export type Permission = 'plan:read' | 'fiche:edit' | 'admin' | 'commune:users';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['plan:read', 'fiche:edit', 'admin'],
  editor: ['plan:read', 'fiche:edit'],
  viewer: ['plan:read'],
  commune: ['plan:read'],
  commune_admin: ['plan:read', 'commune:users'],
};

export function can(actor: Pick<Actor, 'role'>, permission: Permission): boolean {
  return GRANTS[actor.role].includes(permission);
}

/** The commune a user is restricted to, or null when the user sees the whole plan. */
export function communeRestriction(actor: Pick<Actor, 'role' | 'communeId'>): number | null {
  if (!isCommuneRole(actor.role)) return null;
  // A commune account without a commune sees nothing rather than everything.
  return actor.communeId ?? -1;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** The roles of a commune's own staff: they see their commune only. */
export function isCommuneRole(role: Role): boolean {
  return role === 'commune' || role === 'commune_admin';
}
