/**
 * TanStack Query hooks for the back office (`/api/admin/*`). Query keys start with
 * ['admin', <resource>]; a mutation invalidates its resource so every list showing it refreshes.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TableState } from '../components/useServerTable';
import { tzOffsetMinutes } from '../lib/format';
import { api, call, csvFormat, urlWithQuery } from './client';
import type {
  AdminKeyCreate,
  AuditQuery,
  AdminKeyPatch,
  AdminKeyQuery,
  AdminUserQuery,
  BalanceAdjustment,
  ChannelInput,
  ChannelPatch,
  DashboardPeriod,
  PriceInput,
  RoleCreate,
  UsageQuery,
  UserCreate,
  UserPatch,
} from './types';

export const adminKeys = {
  dashboard: (period: DashboardPeriod) => ['admin', 'dashboard', period] as const,
  channels: ['admin', 'channels'] as const,
  prices: ['admin', 'prices'] as const,
  groups: ['admin', 'groups'] as const,
  users: ['admin', 'users'] as const,
  user: (id: number) => ['admin', 'users', 'detail', id] as const,
  ledger: (id: number, page: number, types: readonly string[] = []) => ['admin', 'users', 'ledger', id, page, types.join(',')] as const,
  keys: ['admin', 'keys'] as const,
  roles: ['admin', 'roles'] as const,
  staff: ['admin', 'users', 'staff'] as const,
  usage: ['admin', 'usage'] as const,
  usageTotals: ['admin', 'usage', 'totals'] as const,
  audit: ['admin', 'audit'] as const,
};

// --- dashboard -----------------------------------------------------------------------------

export function useDashboard(period: DashboardPeriod) {
  return useQuery({
    queryKey: adminKeys.dashboard(period),
    queryFn: () => call(api.GET('/api/admin/dashboard', { params: { query: { period, tz_offset_minutes: tzOffsetMinutes() } } })),
    refetchInterval: 60_000,
  });
}

// --- channels ------------------------------------------------------------------------------

export interface ChannelFilters {
  q?: string;
  status?: 'enabled' | 'disabled' | 'auto_disabled';
  group?: string;
}

export function useChannels(filters: ChannelFilters) {
  return useQuery({
    queryKey: [...adminKeys.channels, filters],
    queryFn: () => call(api.GET('/api/admin/channels', { params: { query: filters } })),
  });
}

export function useSaveChannel() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id?: number; body: ChannelInput | ChannelPatch }) =>
      v.id === undefined
        ? call(api.POST('/api/admin/channels', { body: v.body as ChannelInput }))
        : call(api.PATCH('/api/admin/channels/{id}', { params: { path: { id: v.id } }, body: v.body as ChannelPatch })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.channels }),
  });
}

export function useDeleteChannel() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(api.DELETE('/api/admin/channels/{id}', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.channels }),
  });
}

export function useTestChannel() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(api.POST('/api/admin/channels/{id}/test', { params: { path: { id } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: adminKeys.channels }),
  });
}

export function useTestAllChannels() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => call(api.POST('/api/admin/channels/test-all')),
    onSettled: () => qc.invalidateQueries({ queryKey: adminKeys.channels }),
  });
}

// --- prices and groups ---------------------------------------------------------------------

export function usePrices(q?: string) {
  return useQuery({
    queryKey: [...adminKeys.prices, q ?? ''],
    queryFn: () => call(api.GET('/api/admin/prices', { params: { query: q ? { q } : {} } })),
  });
}

export function useSetPrice() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { model: string; body: PriceInput }) => call(api.PUT('/api/admin/prices/{model}', { params: { path: { model: v.model } }, body: v.body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.prices }),
  });
}

export function useDeletePrice() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (model: string) => call(api.DELETE('/api/admin/prices/{model}', { params: { path: { model } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.prices }),
  });
}

export function useGroups() {
  return useQuery({ queryKey: adminKeys.groups, queryFn: () => call(api.GET('/api/admin/groups')), staleTime: 60_000 });
}

// --- users ---------------------------------------------------------------------------------

export type UserFilters = Pick<AdminUserQuery, 'q' | 'status' | 'role' | 'group'>;

export function fetchUsers(s: TableState<UserFilters>) {
  return call(
    api.GET('/api/admin/users', {
      params: { query: { ...s.filters, page: s.page, page_size: s.pageSize, sort: s.sort as AdminUserQuery['sort'], order: s.order } },
    }),
  );
}

export function useUser(id: number | null) {
  return useQuery({
    queryKey: adminKeys.user(id ?? 0),
    queryFn: () => call(api.GET('/api/admin/users/{id}', { params: { path: { id: id! } } })),
    enabled: id !== null,
  });
}

/** A user's ledger, newest first; `types` filters on the server (none = every entry). */
export function useLedger(id: number | null, page: number, types: readonly string[] = []) {
  return useQuery({
    queryKey: adminKeys.ledger(id ?? 0, page, types),
    queryFn: () =>
      call(api.GET('/api/admin/users/{id}/ledger', { params: { path: { id: id! }, query: { page, page_size: 10, ...(types.length ? { type: types.join(',') } : {}) } } })),
    enabled: id !== null,
  });
}

export function useCreateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: UserCreate) => call(api.POST('/api/admin/users', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.users }),
  });
}

export function useUpdateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; body: UserPatch }) => call(api.PATCH('/api/admin/users/{id}', { params: { path: { id: v.id } }, body: v.body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.users }),
  });
}

/** Freeze or unfreeze an account (reason required): its keys are refused everywhere within seconds. */
export function useFreezeUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; freeze: boolean; reason: string }) =>
      call(
        v.freeze
          ? api.POST('/api/admin/users/{id}/freeze', { params: { path: { id: v.id } }, body: { reason: v.reason } })
          : api.POST('/api/admin/users/{id}/unfreeze', { params: { path: { id: v.id } }, body: { reason: v.reason } }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.users }),
  });
}

export function useSetPassword() {
  return useMutation({
    mutationFn: (v: { id: number; password: string }) => call(api.POST('/api/admin/users/{id}/password', { params: { path: { id: v.id } }, body: { password: v.password } })),
  });
}

export function useAdjustBalance() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; body: BalanceAdjustment }) =>
      call(api.POST('/api/admin/users/{id}/balance-adjustments', { params: { path: { id: v.id } }, body: v.body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.users }),
  });
}

// --- keys ----------------------------------------------------------------------------------

export type KeyFilters = Pick<AdminKeyQuery, 'q' | 'status' | 'user_id'>;

export function fetchKeys(s: TableState<KeyFilters>) {
  return call(api.GET('/api/admin/keys', { params: { query: { ...s.filters, page: s.page, page_size: s.pageSize } } }));
}

export function useUpdateKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; body: AdminKeyPatch }) => call(api.PATCH('/api/admin/keys/{id}', { params: { path: { id: v.id } }, body: v.body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.keys }),
  });
}

export function useCreateKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: AdminKeyCreate) => call(api.POST('/api/admin/keys', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.keys }),
  });
}

/** Revoke for good, keeping the key listed (as `tollgate keys revoke` does): its calls stay attributable. */
export function useRevokeKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(api.POST('/api/admin/keys/{id}/revoke', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.keys }),
  });
}

/** A new secret for the key (shown once); the previous one works for `grace_seconds`. */
export function useRotateKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; grace_seconds: number }) =>
      call(api.POST('/api/admin/keys/{id}/rotate', { params: { path: { id: v.id } }, body: { grace_seconds: v.grace_seconds } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.keys }),
  });
}

/** Leak lock: refused at once everywhere with 401 key_locked; the owner sees the reason. */
export function useLockKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; reason: string }) => call(api.POST('/api/admin/keys/{id}/lock', { params: { path: { id: v.id } }, body: { reason: v.reason } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.keys }),
  });
}

// --- usage ---------------------------------------------------------------------------------

export type UsageFilters = Omit<UsageQuery, 'page' | 'page_size' | 'sort' | 'order'>;

export function fetchUsage(s: TableState<UsageFilters>) {
  return call(
    api.GET('/api/admin/usage', {
      params: { query: { ...s.filters, page: s.page, page_size: s.pageSize, sort: s.sort as UsageQuery['sort'], order: s.order } },
    }),
  );
}

export function useUsageTotals(filters: UsageFilters) {
  return useQuery({
    queryKey: [...adminKeys.usageTotals, filters],
    queryFn: () => call(api.GET('/api/admin/usage/totals', { params: { query: filters } })),
  });
}

/** The CSV of the filtered set, streamed by the server straight to the browser's download. */
export function usageExportUrl(filters: UsageFilters, lang: string): string {
  return urlWithQuery('/api/admin/usage/export.csv', { ...(filters as Record<string, string | number | undefined>), ...csvFormat(lang) });
}

// --- audit log -----------------------------------------------------------------------------

export type AuditFilters = Omit<AuditQuery, 'page' | 'page_size'>;

export function fetchAuditLog(s: TableState<AuditFilters>) {
  return call(api.GET('/api/admin/audit-logs', { params: { query: { ...s.filters, page: s.page, page_size: s.pageSize } } }));
}

/** The CSV of the filtered entries; the server records the export itself as an entry. */
export function auditExportUrl(filters: AuditFilters, lang: string): string {
  return urlWithQuery('/api/admin/audit-logs/export.csv', { ...(filters as Record<string, string | number | undefined>), ...csvFormat(lang) });
}

// --- staff and roles -----------------------------------------------------------------------

/** Every staff account (any role but user), oldest first. */
export function useStaff() {
  return useQuery({
    queryKey: adminKeys.staff,
    queryFn: () => call(api.GET('/api/admin/users', { params: { query: { staff: 'true', page: 1, page_size: 500, sort: 'id', order: 'asc' } } })),
  });
}

export function useRoles(enabled = true) {
  return useQuery({ queryKey: adminKeys.roles, queryFn: () => call(api.GET('/api/admin/roles')), enabled });
}

export function useSaveRole() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { create: boolean; body: RoleCreate }) =>
      v.create
        ? call(api.POST('/api/admin/roles', { body: v.body }))
        : call(api.PATCH('/api/admin/roles/{name}', { params: { path: { name: v.body.name } }, body: { permissions: v.body.permissions, description: v.body.description ?? null } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.roles }),
  });
}

export function useDeleteRole() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => call(api.DELETE('/api/admin/roles/{name}', { params: { path: { name } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: adminKeys.roles }),
  });
}
