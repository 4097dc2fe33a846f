import { DownloadOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { Button, Descriptions, Drawer, Grid, Table, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { adminKeys, auditExportUrl, fetchAuditLog, type AuditFilters } from '../../api/admin';
import { can, useMe } from '../../api/session';
import type { AuditEntry } from '../../api/types';
import { Clip } from '../../components/Clip';
import { ServerTable } from '../../components/ServerTable';
import { rangeToMs, str, timePresets } from '../../components/usage/filters';
import { PhoneRange } from '../../components/usage/PhoneRange';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTime, formatTimeCompact } from '../../lib/format';
import { usePhone } from '../../lib/usePhone';
import { protectedDownload } from '../../api/reauth';

const toFilters = (v: Record<string, unknown>): AuditFilters => ({
  ...rangeToMs(v.created_at),
  actor: str(v.actor_email),
  action: str(v.action),
  target_type: str(v.target_type),
  target_id: str(v.target_id),
});

const TARGET_TYPES = ['user', 'key', 'channel', 'model', 'group', 'setting', 'usage', 'audit_log'];

const show = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 1));

/** Old and new values side by side, one row per field; changed fields stand out. */
function Diff({ before, after }: { before: unknown; after: unknown }) {
  const { t } = useTranslation();
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const b = isObj(before) ? before : before === null ? {} : { value: before };
  const a = isObj(after) ? after : after === null ? {} : { value: after };
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  if (fields.length === 0) return <Typography.Text type="secondary">{t('audit.no_values')}</Typography.Text>;
  const rows = fields.map((f) => ({ f, b: show(b[f]), a: show(a[f]), changed: show(b[f]) !== show(a[f]) }));
  return (
    <Table
      size="small"
      pagination={false}
      rowKey="f"
      data-testid="audit-diff"
      dataSource={rows}
      scroll={{ x: true }}
      columns={[
        { title: t('audit.field'), dataIndex: 'f', onCell: () => ({ style: { whiteSpace: 'nowrap' } }), render: (f: string, r) => (r.changed ? <Typography.Text strong>{f}</Typography.Text> : f) },
        {
          title: t('audit.before'),
          dataIndex: 'b',
          render: (v: string, r) => <code style={{ wordBreak: 'break-all', ...(r.changed ? { background: '#fff1f0' } : {}) }}>{v || '—'}</code>,
        },
        {
          title: t('audit.after'),
          dataIndex: 'a',
          render: (v: string, r) => <code style={{ wordBreak: 'break-all', ...(r.changed ? { background: '#f6ffed' } : {}) }}>{v || '—'}</code>,
        },
      ]}
    />
  );
}

function actorLabel(e: AuditEntry): string {
  if (e.actor_kind === 'cli') return e.os_user ? `cli (${e.os_user})` : 'cli';
  return e.actor_email ?? (e.actor_id !== null ? `#${e.actor_id}` : e.actor_kind);
}

function EntryDrawer({ entry, onClose }: { entry: AuditEntry | null; onClose: () => void }) {
  const { t } = useTranslation();
  const screens = Grid.useBreakpoint();
  return (
    <Drawer open={entry !== null} onClose={onClose} width={screens.md ? 720 : '100%'} title={entry ? `${entry.action} · #${entry.id}` : ''} destroyOnHidden>
      {entry ? (
        <>
          <Descriptions size="small" column={1} bordered style={{ marginBottom: 16 }}>
            <Descriptions.Item label={t('audit.fields.time')}>{formatDateTime(entry.created_at)}</Descriptions.Item>
            <Descriptions.Item label={t('audit.fields.actor')}>
              {actorLabel(entry)} <Tag>{t(`audit.kinds.${entry.actor_kind}` as 'audit.kinds.staff')}</Tag>
              {entry.actor_role ? <Tag>{entry.actor_role}</Tag> : null}
              {entry.actor_id !== null ? <Typography.Text type="secondary">ID {entry.actor_id}</Typography.Text> : null}
            </Descriptions.Item>
            {entry.impersonator_id !== null ? <Descriptions.Item label={t('audit.fields.impersonator')}>#{entry.impersonator_id}</Descriptions.Item> : null}
            <Descriptions.Item label={t('audit.fields.object')}>
              {entry.target_type} {entry.target_id ?? ''}
            </Descriptions.Item>
            {entry.reason ? <Descriptions.Item label={t('audit.fields.reason')}>{entry.reason}</Descriptions.Item> : null}
            <Descriptions.Item label={t('audit.fields.ip')}>{entry.ip ?? '—'}</Descriptions.Item>
            <Descriptions.Item label={t('audit.fields.user_agent')}>{entry.user_agent ?? '—'}</Descriptions.Item>
            <Descriptions.Item label={t('audit.fields.request_id')}>
              {entry.request_id ? (
                <Typography.Text copyable className="tg-mono">
                  {entry.request_id}
                </Typography.Text>
              ) : (
                '—'
              )}
            </Descriptions.Item>
          </Descriptions>
          <Typography.Title level={5}>{t('audit.changes')}</Typography.Title>
          <Diff before={entry.before} after={entry.after} />
        </>
      ) : null}
    </Drawer>
  );
}

export default function AuditPage() {
  const { t, i18n } = useTranslation();
  const phone = usePhone();
  const me = useMe();
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const table = useServerTable<AuditEntry, AuditFilters>({
    queryKey: adminKeys.audit,
    fetch: fetchAuditLog,
    toFilters: useCallback(toFilters, []),
    initialFilters: {},
    sort: 'created_at',
    order: 'desc',
  });

  const columns: ProColumns<AuditEntry>[] = [
    {
      title: t('audit.fields.time'),
      dataIndex: 'created_at',
      key: 'created_at',
      valueType: 'dateTimeRange',
      fieldProps: { presets: timePresets(t), placeholder: [t('usage.from'), t('usage.to')], style: { width: '100%' } },
      ...(phone ? { renderFormItem: () => <PhoneRange /> } : {}),
      formItemProps: { label: t('usage.fields.time_range') },
      colSize: 2,
      render: (_, e) => (
        <Tooltip title={formatDateTime(e.created_at)}>
          <span style={{ whiteSpace: 'nowrap' }}>{formatTimeCompact(e.created_at)}</span>
        </Tooltip>
      ),
    },
    {
      title: t('audit.fields.actor'),
      dataIndex: 'actor_email',
      fieldProps: { placeholder: t('audit.actor_placeholder') },
      render: (_, e) => (
        <Tooltip title={e.actor_id !== null ? `ID ${e.actor_id}` : t(`audit.kinds.${e.actor_kind}` as 'audit.kinds.staff')}>
          <span>
            <Clip max={180}>{actorLabel(e)}</Clip>
          </span>
        </Tooltip>
      ),
    },
    {
      title: t('audit.fields.action'),
      dataIndex: 'action',
      fieldProps: { placeholder: t('audit.action_placeholder') },
      render: (_, e) => <Tag color={e.action.endsWith('_failed') ? 'red' : undefined}>{e.action}</Tag>,
    },
    {
      title: t('audit.fields.target_type'),
      dataIndex: 'target_type',
      valueType: 'select',
      valueEnum: Object.fromEntries(TARGET_TYPES.map((x) => [x, { text: x }])),
      fieldProps: { placeholder: t('audit.any_type') },
    },
    { title: t('audit.fields.target_id'), dataIndex: 'target_id', render: (_, e) => e.target_id ?? '—' },
    { title: t('audit.fields.reason'), dataIndex: 'reason', search: false, render: (_, e) => (e.reason ? <Clip max={200}>{e.reason}</Clip> : '—') },
    { title: t('audit.fields.ip'), dataIndex: 'ip', search: false, render: (_, e) => e.ip ?? '—' },
    {
      title: '',
      key: 'option',
      valueType: 'option',
      render: (_, e) => [
        <Button key="view" type="link" size="small" onClick={() => setOpen(e)} data-testid={`audit-view-${e.id}`}>
          {t('audit.view')}
        </Button>,
      ],
    },
  ];

  return (
    <PageContainer title={t('audit.title')} content={t('audit.intro')}>
      <ServerTable<AuditEntry, AuditFilters>
        table={table}
        columns={columns}
        settingsKey="admin.audit"
        hiddenColumns={['reason']}
        phoneColumns={['created_at', 'action', 'option']}
        rowKey="id"
        size="small"
        search={{ defaultCollapsed: true }}
        headerTitle={t('audit.entries')}
        toolBarRender={() => [
          can(me.data, 'audit:export') ? (
            <Button key="csv" icon={<DownloadOutlined />} href={auditExportUrl(table.state.filters, i18n.language)} download onClick={protectedDownload} data-testid="audit-export">
              {t('audit.export_csv')}
            </Button>
          ) : null,
        ]}
      />
      <EntryDrawer entry={open} onClose={() => setOpen(null)} />
    </PageContainer>
  );
}
