/**
 * Who may do what in the back office: permissions are `resource:action`, roles are sets of them.
 * Pure data (no app imports) so routes, services, the CLI and the console's generated types can all
 * use the same vocabulary. docs/ACCESS.md explains the choices.
 */

/** The base actions every resource has. */
const BASE = ['view', 'create', 'edit', 'export', 'disable'] as const;

/** Resources and their actions: the base five, plus reveal / approve / impersonate where they apply. */
const RESOURCES = {
  user: [...BASE, 'impersonate'],
  org: BASE,
  key: [...BASE, 'reveal'],
  channel: [...BASE, 'reveal'],
  model: BASE,
  price: BASE,
  recharge: [...BASE, 'approve'],
  refund: [...BASE, 'approve'],
  bill: BASE,
  invoice: [...BASE, 'approve'],
  voucher: BASE,
  notification: BASE,
  ticket: BASE,
  // `edit`: the retention setting, which can shorten the trail: the super-admin's alone.
  audit: ['view', 'export', 'edit'],
  setting: ['view', 'edit'],
  report: ['view', 'export'],
  // Adding or deducting cash by hand; a route needs it together with user:edit.
  balance: ['adjust'],
  // Staff accounts: who has which role. `staff:edit` (add staff, change roles, act on another staff
  // account) and `role:edit` (compose custom roles) are held by the super-admin only: anyone holding
  // them could give themselves every other permission.
  staff: ['view', 'edit'],
  role: ['view', 'edit'],
} as const satisfies Record<string, readonly string[]>;

export type Resource = keyof typeof RESOURCES;
export type Permission = { [R in Resource]: `${R}:${(typeof RESOURCES)[R][number]}` }[Resource];

export const PERMISSIONS: readonly Permission[] = Object.entries(RESOURCES).flatMap(([r, actions]) => actions.map((a) => `${r}:${a}` as Permission));
const KNOWN = new Set<string>(PERMISSIONS);

export const isPermission = (p: string): p is Permission => KNOWN.has(p);

/** The permissions grouped by resource, in a stable order (the console's role editor shows them so). */
export const PERMISSION_GROUPS: readonly { resource: Resource; permissions: readonly Permission[] }[] = Object.entries(RESOURCES).map(([r, actions]) => ({
  resource: r as Resource,
  permissions: actions.map((a) => `${r}:${a}` as Permission),
}));

/** Permissions only the super-admin holds; a custom role may not include them. */
export const SUPER_ADMIN_ONLY: readonly Permission[] = ['staff:edit', 'role:edit', 'audit:edit'];

const all = (filter: (p: Permission) => boolean = () => true) => PERMISSIONS.filter(filter);
const of = (resource: Resource, ...actions: string[]) => {
  const mine = PERMISSIONS.filter((p) => p.startsWith(`${resource}:`));
  return actions.length === 0 ? mine : mine.filter((p) => actions.includes(p.slice(resource.length + 1)));
};
const views = (p: Permission) => p.endsWith(':view');

/** The account roles shipped with Tollgate; `user` is a customer, every other role is staff. */
export const BUILT_IN_ROLES = ['user', 'super_admin', 'admin', 'operator', 'finance', 'auditor', 'support', 'readonly'] as const;
export type BuiltInRole = (typeof BUILT_IN_ROLES)[number];

export const BUILT_IN_PERMISSIONS: Readonly<Record<BuiltInRole, readonly Permission[]>> = {
  user: [],
  super_admin: all(),
  // The everyday administrator of the old two-role model: everything except managing staff and
  // roles, and moving cash by hand (a finance decision, DESIGN.md "Where the specs disagree").
  admin: all((p) => !SUPER_ADMIN_ONLY.includes(p) && p !== 'balance:adjust'),
  // 运营: runs customers and their keys, issues vouchers; never moves cash, never edits channels or prices.
  operator: [
    ...of('user', 'view', 'create', 'edit', 'export', 'disable'),
    ...of('org'),
    ...of('key', 'view', 'create', 'edit', 'export', 'disable'),
    ...of('channel', 'view'),
    ...of('model', 'view'),
    ...of('price', 'view'),
    ...of('recharge', 'view'),
    ...of('refund', 'view'),
    ...of('bill', 'view', 'export'),
    ...of('invoice', 'view'),
    ...of('voucher'),
    ...of('notification'),
    ...of('ticket'),
    ...of('report'),
  ],
  // Money: recharges, refunds, bills, invoices, vouchers and the cash adjustment (which also needs user:edit).
  finance: [
    ...of('user', 'view', 'edit', 'export'),
    ...of('org', 'view'),
    ...of('key', 'view'),
    ...of('model', 'view'),
    ...of('price', 'view'),
    ...of('recharge'),
    ...of('refund'),
    ...of('bill'),
    ...of('invoice'),
    ...of('voucher'),
    ...of('report'),
    'balance:adjust',
  ],
  // Read-only over everything, plus the audit log and its export.
  auditor: [...all(views), 'audit:export'],
  // Answers customers: sees their account, keys and calls, works tickets, can switch off a leaked key.
  support: [
    ...of('user', 'view'),
    ...of('org', 'view'),
    ...of('key', 'view', 'disable'),
    ...of('model', 'view'),
    ...of('price', 'view'),
    ...of('bill', 'view'),
    ...of('notification', 'view', 'create'),
    ...of('ticket'),
  ],
  // Sees every page except the audit log; changes nothing.
  readonly: all((p) => views(p) && p !== 'audit:view'),
};

export const isBuiltInRole = (r: string): r is BuiltInRole => (BUILT_IN_ROLES as readonly string[]).includes(r);

/** Staff are every account whose role is not `user` (a custom role included). */
export const isStaffRole = (role: string) => role !== 'user';

/** The first of `needed` that `held` lacks, or null when all are held. */
export function missingPermission(held: ReadonlySet<string> | readonly string[], needed: Permission | readonly Permission[]): Permission | null {
  const has = Array.isArray(held) ? (p: string) => held.includes(p) : (p: string) => (held as ReadonlySet<string>).has(p);
  for (const p of typeof needed === 'string' ? [needed] : needed) if (!has(p)) return p;
  return null;
}

/** True when `held` includes every permission in `needed`. */
export const hasPermission = (held: ReadonlySet<string> | readonly string[], needed: Permission | readonly Permission[]) => missingPermission(held, needed) === null;
