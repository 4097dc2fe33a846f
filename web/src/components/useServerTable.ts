import { keepPreviousData, useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { TablePaginationConfig } from 'antd';
import type { SorterResult } from 'antd/es/table/interface';
import { useCallback, useMemo, useState } from 'react';
import type { Page } from '../api/types';

export type SortOrder = 'asc' | 'desc';

/** What a server-side list is asked for: the query form's filters, a page, a sort. */
export interface TableState<F> {
  filters: F;
  page: number;
  pageSize: number;
  sort?: string;
  order?: SortOrder;
}

export interface ServerTableOptions<Row, F> {
  /** Prefix of the TanStack Query key; mutations invalidate it to refresh the table. */
  queryKey: readonly unknown[];
  fetch: (s: TableState<F>) => Promise<Page<Row>>;
  /** Turn the query form's values (dates as dayjs, strings, …) into the filters the API takes. */
  toFilters: (values: Record<string, unknown>) => F;
  initialFilters: F;
  pageSize?: number;
  sort?: string;
  order?: SortOrder;
}

export interface ServerTable<Row, F> {
  query: UseQueryResult<Page<Row>>;
  state: TableState<F>;
  setFilters(values: Record<string, unknown>): void;
  resetFilters(): void;
  onTableChange(p: TablePaginationConfig, s: SorterResult<Row> | SorterResult<Row>[]): void;
  pagination: TablePaginationConfig;
}

/**
 * Server-side pagination, sorting and filtering for a ProTable, with TanStack Query underneath
 * (so a mutation that invalidates `queryKey` refreshes the list, and the previous page stays on
 * screen while the next loads). Render it with `<ServerTable table={…} />`.
 */
export function useServerTable<Row, F>(o: ServerTableOptions<Row, F>): ServerTable<Row, F> {
  const [state, setState] = useState<TableState<F>>({ filters: o.initialFilters, page: 1, pageSize: o.pageSize ?? 20, sort: o.sort, order: o.order });
  const { fetch, toFilters, initialFilters } = o;
  const query = useQuery({
    queryKey: [...o.queryKey, state],
    queryFn: () => fetch(state),
    placeholderData: keepPreviousData,
  });

  const setFilters = useCallback((values: Record<string, unknown>) => setState((s) => ({ ...s, page: 1, filters: toFilters(values) })), [toFilters]);
  const resetFilters = useCallback(() => setState((s) => ({ ...s, page: 1, filters: initialFilters })), [initialFilters]);

  const onTableChange = useCallback((p: TablePaginationConfig, sorter: SorterResult<Row> | SorterResult<Row>[]) => {
    const one = Array.isArray(sorter) ? sorter[0] : sorter;
    setState((s) => {
      const field = one?.order ? String(one.columnKey ?? one.field) : undefined;
      const order: SortOrder | undefined = one?.order === 'ascend' ? 'asc' : one?.order === 'descend' ? 'desc' : undefined;
      const sortChanged = field !== s.sort || order !== s.order;
      const pageSize = p.pageSize ?? s.pageSize;
      return {
        ...s,
        sort: field ?? o.sort,
        order: order ?? o.order,
        pageSize,
        page: sortChanged || pageSize !== s.pageSize ? 1 : (p.current ?? s.page),
      };
    });
  }, [o.sort, o.order]);

  const pagination = useMemo<TablePaginationConfig>(
    () => ({ current: state.page, pageSize: state.pageSize, total: query.data?.total ?? 0, showSizeChanger: true, pageSizeOptions: [10, 20, 50, 100] }),
    [state.page, state.pageSize, query.data?.total],
  );

  return { query, state, setFilters, resetFilters, onTableChange, pagination };
}
