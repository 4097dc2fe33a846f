import { ProTable, type ProColumns, type ProTableProps } from '@ant-design/pro-components';
import { Empty, Grid } from 'antd';
import { useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from './ErrorAlert';
import type { ServerTable as Handle } from './useServerTable';

type Props<Row extends Record<string, any>, F> = {
  table: Handle<Row, F>;
  columns: ProColumns<Row>[];
  /** Persist column visibility/order under this name (localStorage). */
  settingsKey: string;
  /**
   * Columns (key or dataIndex) hidden until the person shows them in the column settings: what is
   * left must fit 1280 px beside the menu, so that a fixed actions column covers nothing.
   */
  hiddenColumns?: string[];
  /** The only columns (key or dataIndex) on a phone, besides the actions; all of them when not given. */
  phoneColumns?: string[];
  /** What an empty list says (and offers) when no filter is set; "Nothing here yet" by default. */
  empty?: ReactNode;
} & Omit<ProTableProps<Row, Record<string, unknown>>, 'columns' | 'dataSource' | 'request' | 'pagination' | 'onChange' | 'onSubmit' | 'onReset'>;

/**
 * The list convention: the query form (from the columns' search fields) above a ProTable whose
 * pagination, sorting and filtering happen on the server; loading, error and empty states; column
 * settings and density in the toolbar.
 */
export function ServerTable<Row extends Record<string, any>, F>({ table, columns, settingsKey, hiddenColumns, phoneColumns, empty, options, search, ...rest }: Props<Row, F>) {
  const { t } = useTranslation();
  const { query, state } = table;
  const unfiltered = Object.values(state.filters as Record<string, unknown>).every((v) => v === undefined || v === null || v === '');
  // On a phone a fixed actions column would cover the whole table: let everything scroll.
  const wide = Grid.useBreakpoint().md ?? true;
  const cols = useMemo(
    () =>
      columns.map((col) => {
        let c = wide || !col.fixed ? col : { ...col, fixed: undefined };
        // On a phone only the columns that identify a row stay; the rest is in the row's details.
        if (!wide && phoneColumns && c.valueType !== 'option' && !phoneColumns.includes(String(c.key ?? c.dataIndex))) c = { ...c, hideInTable: true };
        if (!c.sorter) return c;
        const key = String(c.key ?? c.dataIndex);
        return { ...c, key, sortOrder: state.sort === key ? (state.order === 'asc' ? 'ascend' : 'descend') : null } as ProColumns<Row>;
      }),
    [columns, state.sort, state.order, wide, phoneColumns],
  );
  return (
    <>
      {query.isError ? <ErrorAlert error={query.error} onRetry={() => void query.refetch()} /> : null}
      <ProTable<Row, Record<string, unknown>>
        columns={cols}
        dataSource={query.data?.items ?? []}
        loading={query.isFetching}
        pagination={{
          ...table.pagination,
          showTotal: (total) => ((query.data as { total_exact?: boolean } | undefined)?.total_exact === false ? t('common.total_capped', { count: total }) : t('common.total', { count: total })),
        }}
        onChange={(p, _f, s) => table.onTableChange(p, s)}
        onSubmit={(v) => table.setFilters(v as Record<string, unknown>)}
        onReset={() => table.resetFilters()}
        search={search === false ? false : { labelWidth: 'auto', span: { xs: 24, sm: 12, md: 12, lg: 8, xl: 8, xxl: 6 }, ...(search ?? {}) }}
        options={{ reload: () => void query.refetch(), density: true, setting: { listsHeight: 360 }, fullScreen: false, ...(options ?? {}) }}
        columnsState={{
          persistenceKey: `tollgate.cols.v2.${settingsKey}`,
          persistenceType: 'localStorage',
          defaultValue: Object.fromEntries((hiddenColumns ?? []).map((k) => [k, { show: false }])),
        }}
        scroll={{ x: 'max-content' }}
        size="middle"
        locale={{ emptyText: query.isError ? ' ' : unfiltered && empty ? empty : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t(unfiltered ? 'common.empty' : 'common.no_match')} /> }}
        cardBordered
        {...rest}
      />
    </>
  );
}
