/**
 * TanStack Query hooks for the user portal (`/api/console/*`): everything here is the signed-in
 * user's own. Query keys start with ['console', <resource>].
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TableState } from '../components/useServerTable';
import { tzOffsetMinutes } from '../lib/format';
import { api, call, csvFormat, urlWithQuery } from './client';
import type { ConsoleKeyCreate, ConsoleKeyPatch, ConsoleUsageQuery } from './types';

export const consoleKeys = {
  overview: ['console', 'overview'] as const,
  keys: ['console', 'keys'] as const,
  usage: ['console', 'usage'] as const,
  usageTotals: ['console', 'usage', 'totals'] as const,
  models: ['console', 'models'] as const,
};

export function useOverview() {
  return useQuery({
    queryKey: consoleKeys.overview,
    queryFn: () => call(api.GET('/api/console/overview', { params: { query: { tz_offset_minutes: tzOffsetMinutes() } } })),
    refetchInterval: 60_000,
  });
}

export function useModels() {
  return useQuery({ queryKey: consoleKeys.models, queryFn: () => call(api.GET('/api/console/models')), staleTime: 60_000 });
}

export interface ConsoleKeyFilters {
  q?: string;
  status?: 'active' | 'disabled' | 'locked' | 'revoked';
}

export function fetchConsoleKeys(s: TableState<ConsoleKeyFilters>) {
  return call(api.GET('/api/console/keys', { params: { query: { ...s.filters, page: s.page, page_size: s.pageSize } } }));
}

/** The first page of my keys (for pickers: the usage filter, the quick start). */
export function useMyKeys() {
  return useQuery({
    queryKey: [...consoleKeys.keys, 'all'],
    queryFn: () => call(api.GET('/api/console/keys', { params: { query: { page: 1, page_size: 100 } } })),
  });
}

export function useCreateConsoleKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: ConsoleKeyCreate) => call(api.POST('/api/console/keys', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: consoleKeys.keys }),
  });
}

export function useUpdateConsoleKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; body: ConsoleKeyPatch }) => call(api.PATCH('/api/console/keys/{id}', { params: { path: { id: v.id } }, body: v.body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: consoleKeys.keys }),
  });
}

/** A new secret for one of my keys (shown once); the previous one works for `grace_seconds` (none when locked). */
export function useRotateConsoleKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; grace_seconds: number }) =>
      call(api.POST('/api/console/keys/{id}/rotate', { params: { path: { id: v.id } }, body: { grace_seconds: v.grace_seconds } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: consoleKeys.keys }),
  });
}

export function useDeleteConsoleKey() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(api.DELETE('/api/console/keys/{id}', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: consoleKeys.keys }),
  });
}

export type ConsoleUsageFilters = Omit<ConsoleUsageQuery, 'page' | 'page_size' | 'sort' | 'order'>;

export function fetchConsoleUsage(s: TableState<ConsoleUsageFilters>) {
  return call(
    api.GET('/api/console/usage', {
      params: { query: { ...s.filters, page: s.page, page_size: s.pageSize, sort: s.sort as ConsoleUsageQuery['sort'], order: s.order } },
    }),
  );
}

export function useConsoleUsageTotals(filters: ConsoleUsageFilters) {
  return useQuery({
    queryKey: [...consoleKeys.usageTotals, filters],
    queryFn: () => call(api.GET('/api/console/usage/totals', { params: { query: filters } })),
  });
}

export function consoleUsageExportUrl(filters: ConsoleUsageFilters, lang: string): string {
  return urlWithQuery('/api/console/usage/export.csv', { ...(filters as Record<string, string | number | undefined>), ...csvFormat(lang) });
}
