import { BUILT_IN_PERMISSIONS, isBuiltInRole, type Permission } from '../lib/permissions.js';

const NONE: ReadonlySet<Permission> = new Set();

/**
 * The permissions of each role, in memory: asked on every /api/admin request. A role nobody
 * defined (a custom role deleted while someone still held it) has no permissions.
 */
export class RoleStore {
  #byName = new Map<string, ReadonlySet<Permission>>(Object.entries(BUILT_IN_PERMISSIONS).map(([r, ps]) => [r, new Set(ps)]));

  permissionsOf(role: string): ReadonlySet<Permission> {
    return this.#byName.get(role) ?? NONE;
  }

  has(role: string): boolean {
    return isBuiltInRole(role) || this.#byName.has(role);
  }
}
