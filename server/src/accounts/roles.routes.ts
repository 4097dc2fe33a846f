import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { PERMISSION_GROUPS, SUPER_ADMIN_ONLY } from '../lib/permissions.js';
import { createRole, deleteRole, listRoles, RoleInputSchema, RoleNameSchema, updateRole } from './role-store.js';

const RoleViewSchema = z.object({
  name: z.string(),
  built_in: z.boolean(),
  description: z.string().nullable(),
  permissions: z.array(z.string()),
  users: z.number().describe('accounts holding the role'),
});
const NameParam = z.object({ name: z.string().max(64) });

/** /api/admin/roles: the built-in roles and custom ones composed from permissions. */
export async function rolesAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: roles'];

  r.get('/roles', {
    config: { permission: 'role:view' },
    schema: {
      tags,
      summary: 'List roles (built-in first) and the permission catalogue',
      response: {
        200: z.object({
          items: z.array(RoleViewSchema),
          permission_groups: z.array(z.object({ resource: z.string(), permissions: z.array(z.string()) })).describe('every permission, grouped by resource'),
          super_admin_only: z.array(z.string()).describe('permissions a custom role may not include'),
        }),
      },
    },
    handler: async () => ({
      items: await listRoles(ctx.db),
      permission_groups: PERMISSION_GROUPS.map((g) => ({ resource: g.resource, permissions: [...g.permissions] })),
      super_admin_only: [...SUPER_ADMIN_ONLY],
    }),
  });

  r.post('/roles', {
    config: { permission: 'role:edit' },
    schema: { tags, summary: 'Create a custom role', body: RoleInputSchema.extend({ name: RoleNameSchema }), response: { 201: RoleViewSchema } },
    handler: async (req, reply) => {
      const { name, ...input } = req.body;
      return reply.code(201).send(await createRole(ctx.db, ctx.feed, name, input, actorOf(req)));
    },
  });

  r.patch('/roles/:name', {
    config: { permission: 'role:edit' },
    schema: { tags, summary: "Change a custom role's permissions or description (live in every process)", params: NameParam, body: RoleInputSchema.partial(), response: { 200: RoleViewSchema } },
    handler: async (req) => updateRole(ctx.db, ctx.feed, req.params.name, req.body, actorOf(req)),
  });

  r.delete('/roles/:name', {
    config: { permission: 'role:edit' },
    schema: { tags, summary: 'Delete a custom role nobody holds', params: NameParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      await deleteRole(ctx.db, ctx.feed, req.params.name, actorOf(req));
      return reply.code(204).send(null);
    },
  });
}
