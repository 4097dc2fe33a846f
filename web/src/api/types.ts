/**
 * Names for the shapes the pages use, all derived from the generated `paths` (never written by
 * hand), so a change on the server shows up here as a type error.
 */
import type { paths } from './schema';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The JSON body of a path's successful answer. */
export type ResponseOf<P extends keyof paths, M extends Method, S extends number = 200> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer T } } };
}
  ? T
  : never;

/** The JSON body a path takes. */
export type BodyOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;

/** The query parameters a path takes. */
export type QueryOf<P extends keyof paths, M extends Method = 'get'> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type Me = ResponseOf<'/api/me', 'get'>;

export type Channel = ResponseOf<'/api/admin/channels/{id}', 'get'>;
export type ChannelInput = BodyOf<'/api/admin/channels', 'post'>;
export type ChannelPatch = BodyOf<'/api/admin/channels/{id}', 'patch'>;
export type ChannelTestResult = ResponseOf<'/api/admin/channels/{id}/test', 'post'>;
/** A channel as listed: with its last hour of upstream attempts and its last error. */
export type ChannelListItem = ResponseOf<'/api/admin/channels', 'get'>['items'][number];
export type ChannelTestAll = ResponseOf<'/api/admin/channels/test-all', 'post'>;

export type Price = ResponseOf<'/api/admin/prices', 'get'>['items'][number];
export type PriceInput = BodyOf<'/api/admin/prices/{model}', 'put'>;
export type Group = ResponseOf<'/api/admin/groups', 'get'>['items'][number];

export type AdminUser = ResponseOf<'/api/admin/users', 'get'>['items'][number];
export type AdminUserDetail = ResponseOf<'/api/admin/users/{id}', 'get'>;
export type AdminUserQuery = QueryOf<'/api/admin/users'>;
export type UserCreate = BodyOf<'/api/admin/users', 'post'>;
export type UserPatch = BodyOf<'/api/admin/users/{id}', 'patch'>;
export type LedgerEntry = ResponseOf<'/api/admin/users/{id}/ledger', 'get'>['items'][number];
export type BalanceAdjustment = BodyOf<'/api/admin/users/{id}/balance-adjustments', 'post'>;

export type AdminKey = ResponseOf<'/api/admin/keys', 'get'>['items'][number];
export type AdminKeyQuery = QueryOf<'/api/admin/keys'>;
export type AdminKeyPatch = BodyOf<'/api/admin/keys/{id}', 'patch'>;
export type AdminKeyCreate = BodyOf<'/api/admin/keys', 'post'>;

export type RolesList = ResponseOf<'/api/admin/roles', 'get'>;
export type AdminRole = RolesList['items'][number];
export type RoleCreate = BodyOf<'/api/admin/roles', 'post'>;

export type UsageRecord = ResponseOf<'/api/admin/usage', 'get'>['items'][number];
export type UsageQuery = QueryOf<'/api/admin/usage'>;
export type UsageTotals = ResponseOf<'/api/admin/usage/totals', 'get'>;

export type AuditEntry = ResponseOf<'/api/admin/audit-logs', 'get'>['items'][number];
export type AuditQuery = QueryOf<'/api/admin/audit-logs'>;

export type Dashboard = ResponseOf<'/api/admin/dashboard', 'get'>;
export type DashboardPeriod = Dashboard['period'];

export type Overview = ResponseOf<'/api/console/overview', 'get'>;
export type ConsoleKey = ResponseOf<'/api/console/keys', 'get'>['items'][number];
export type ConsoleKeyCreate = BodyOf<'/api/console/keys', 'post'>;
export type ConsoleKeyCreated = ResponseOf<'/api/console/keys', 'post', 201>;
export type ConsoleKeyPatch = BodyOf<'/api/console/keys/{id}', 'patch'>;
export type ConsoleUsageRecord = ResponseOf<'/api/console/usage', 'get'>['items'][number];
export type ConsoleUsageQuery = QueryOf<'/api/console/usage'>;
export type ConsoleUsageTotals = ResponseOf<'/api/console/usage/totals', 'get'>;
export type ModelOffer = ResponseOf<'/api/console/models', 'get'>['items'][number];

/** Every paged list answers this way. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}
