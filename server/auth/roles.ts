// Roles are nested: admin can do everything an editor can, an editor everything a viewer can.
import type { Access } from '../web/route.js';

export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Does `role` satisfy a route's access rule? 'public' needs no role at all. */
export function allows(role: Role | undefined, access: Access): boolean {
  if (access === 'public') return true;
  if (!role) return false;
  return RANK[role] >= RANK[access];
}
