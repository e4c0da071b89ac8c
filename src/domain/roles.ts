export const ROLES = ['admin', 'editor', 'viewer', 'commune'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = {
  admin: 'Administrateur',
  editor: 'Équipe projet (édition)',
  viewer: 'Comité de pilotage (lecture)',
  commune: 'Agent de commune',
};

export interface Actor {
  id: number;
  name: string;
  email: string;
  role: Role;
  communeId: number | null;
}

export type Permission = 'plan:read' | 'fiche:edit' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['plan:read', 'fiche:edit', 'admin'],
  editor: ['plan:read', 'fiche:edit'],
  viewer: ['plan:read'],
  commune: ['plan:read'],
};

export function can(actor: Pick<Actor, 'role'>, permission: Permission): boolean {
  return GRANTS[actor.role].includes(permission);
}

/** The commune a user is restricted to, or null when the user sees the whole plan. */
export function communeRestriction(actor: Pick<Actor, 'role' | 'communeId'>): number | null {
  if (actor.role !== 'commune') return null;
  // A commune account without a commune sees nothing rather than everything.
  return actor.communeId ?? -1;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
