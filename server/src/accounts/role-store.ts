import { z } from 'zod';
import { inTransaction, type Db, type Executor } from '../db/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChangeFeed } from '../live/changes.js';
import { audit, type Actor } from '../audit/index.js';
import { BUILT_IN_PERMISSIONS, BUILT_IN_ROLES, isBuiltInRole, isPermission, PERMISSIONS, SUPER_ADMIN_ONLY, type Permission } from '../lib/permissions.js';

const NONE: ReadonlySet<Permission> = new Set();

/**
 * The permissions of each role, in memory: asked on every /api/admin request. Built-in roles come
 * from code; custom roles from the `roles` table, reloaded in every process when the change feed
 * reports a `role` change. A role nobody defined (deleted while someone still held it) has none.
 */
export class RoleStore {
  #byName = new Map<string, ReadonlySet<Permission>>(builtIns());

  constructor(
    private readonly db: Db,
    private readonly log?: Logger,
  ) {}

  permissionsOf(role: string): ReadonlySet<Permission> {
    return this.#byName.get(role) ?? NONE;
  }

  async load(): Promise<void> {
    const rows = await this.db.kysely.selectFrom('roles').select(['name', 'permissions']).where('built_in', '=', 0).execute();
    const next = new Map(builtIns());
    for (const r of rows) if (!isBuiltInRole(r.name)) next.set(r.name, new Set(parsePermissions(r.permissions)));
    this.#byName = next;
  }

  subscribe(feed: ChangeFeed): void {
    feed.on('role', () => this.load().catch((err) => this.log?.warn({ err }, 'could not reload roles')));
  }
}

function builtIns(): [string, ReadonlySet<Permission>][] {
  return Object.entries(BUILT_IN_PERMISSIONS).map(([r, ps]) => [r, new Set(ps)]);
}

/** A stored permission list, keeping only what is (still) a grantable permission. */
function parsePermissions(json: string): Permission[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((p): p is Permission => typeof p === 'string' && isPermission(p) && !SUPER_ADMIN_ONLY.includes(p)) : [];
  } catch {
    return [];
  }
}

export const RoleNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{1,31}$/, 'role names use lowercase letters, digits, _ and - (2–32 characters, starting with a letter)');

export const RoleInputSchema = z.object({
  permissions: z.array(z.string()).max(PERMISSIONS.length * 2),
  description: z.string().trim().max(500).nullable().optional(),
});

export interface RoleView {
  name: string;
  built_in: boolean;
  description: string | null;
  permissions: Permission[];
  /** How many accounts hold the role. */
  users: number;
}

/** Check a custom role's permissions: known, grantable, each once (in the catalogue's order). */
function checkPermissions(list: readonly string[]): Permission[] {
  list.forEach((p, i) => {
    if (!isPermission(p)) throw new AppError('validation_failed', `permissions.${i}: unknown permission '${p}'`, { path: `permissions.${i}` });
    if (SUPER_ADMIN_ONLY.includes(p)) {
      throw new AppError('validation_failed', `permissions.${i}: ${p} is held by the super-admin only and cannot be part of a custom role`, { path: `permissions.${i}` });
    }
  });
  return PERMISSIONS.filter((p) => list.includes(p));
}

/** Does a role of this name exist (built-in or custom)? Read from the database: another process may have just created it. */
export async function roleExists(ex: Executor, name: string): Promise<boolean> {
  if (isBuiltInRole(name)) return true;
  return !!(await ex.selectFrom('roles').select('name').where('name', '=', name).executeTakeFirst());
}

export async function listRoles(db: Db): Promise<RoleView[]> {
  const [rows, counts] = await Promise.all([
    db.kysely.selectFrom('roles').selectAll().execute(),
    db.kysely.selectFrom('users').select((eb) => ['role', eb.fn.countAll().as('n')]).groupBy('role').execute(),
  ]);
  const n = new Map(counts.map((c) => [c.role, Number(c.n)]));
  const view = (name: string, builtIn: boolean, description: string | null, permissions: Permission[]): RoleView => ({
    name, built_in: builtIn, description, permissions, users: n.get(name) ?? 0,
  });
  const builtIn = BUILT_IN_ROLES.map((r) => view(r, true, null, [...BUILT_IN_PERMISSIONS[r]]));
  const custom = rows
    .filter((r) => !isBuiltInRole(r.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => view(r.name, false, r.description, parsePermissions(r.permissions)));
  return [...builtIn, ...custom];
}

async function viewOf(db: Db, name: string): Promise<RoleView> {
  const v = (await listRoles(db)).find((r) => r.name === name);
  if (!v) throw new AppError('not_found', `no role '${name}'`);
  return v;
}

export async function createRole(db: Db, feed: ChangeFeed, name: string, input: z.infer<typeof RoleInputSchema>, actor: Actor): Promise<RoleView> {
  const permissions = checkPermissions(input.permissions);
  const now = Date.now();
  await inTransaction(db, async (trx) => {
    if (await roleExists(trx, name)) throw new AppError('already_exists', `a role named '${name}' already exists`, { path: 'name' });
    await trx.insertInto('roles').values({ name, description: input.description ?? null, permissions: JSON.stringify(permissions), built_in: 0, created_at: now, updated_at: now }).execute();
    await audit(trx, actor, 'role.create', { type: 'role', id: name }, null, { permissions, description: input.description ?? null });
    await feed.record(trx, 'role', name);
  });
  await feed.publish();
  return viewOf(db, name);
}

export async function updateRole(db: Db, feed: ChangeFeed, name: string, input: Partial<z.infer<typeof RoleInputSchema>>, actor: Actor): Promise<RoleView> {
  if (isBuiltInRole(name)) throw new AppError('conflict', `'${name}' is a built-in role; its permissions are fixed (create a custom role instead)`);
  const permissions = input.permissions === undefined ? undefined : checkPermissions(input.permissions);
  await inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst();
    if (!before) throw new AppError('not_found', `no role '${name}'`);
    await trx
      .updateTable('roles')
      .set({
        ...(permissions !== undefined ? { permissions: JSON.stringify(permissions) } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        updated_at: Date.now(),
      })
      .where('name', '=', name)
      .execute();
    await audit(trx, actor, 'role.update', { type: 'role', id: name },
      { permissions: parsePermissions(before.permissions), description: before.description },
      { permissions: permissions ?? parsePermissions(before.permissions), description: input.description !== undefined ? input.description : before.description });
    await feed.record(trx, 'role', name);
  });
  await feed.publish();
  return viewOf(db, name);
}

export async function deleteRole(db: Db, feed: ChangeFeed, name: string, actor: Actor): Promise<void> {
  if (isBuiltInRole(name)) throw new AppError('conflict', `'${name}' is a built-in role and cannot be deleted`);
  await inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst();
    if (!before) throw new AppError('not_found', `no role '${name}'`);
    const held = Number((await trx.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).where('role', '=', name).executeTakeFirst())?.n ?? 0);
    if (held > 0) throw new AppError('conflict', `${held} account(s) hold the role '${name}'; give them another role first`);
    await trx.deleteFrom('roles').where('name', '=', name).execute();
    await audit(trx, actor, 'role.delete', { type: 'role', id: name }, { permissions: parsePermissions(before.permissions), description: before.description }, null);
    await feed.record(trx, 'role', name);
  });
  await feed.publish();
}
