import { WalletOutlined } from '@ant-design/icons';
import { App, Button, Descriptions, Drawer, Form, Input, Select, Space, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useGroups, useLedger, useRoles, useSetPassword, useUpdateUser, useUser } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { BUILT_IN_ROLES, can, roleLabel, useMe } from '../../api/session';
import type { AdminUserDetail, LedgerEntry, UserPatch } from '../../api/types';
import { Money } from '../../components/Money';
import { QueryState } from '../../components/QueryState';
import { StatusTag } from '../../components/StatusTag';
import { formatDateTime, formatTimeCompact } from '../../lib/format';
import { TopUpForm } from './TopUpForm';
import { FreezeModal, type FreezeTarget } from './FreezeModal';

/** Entry types in the ledger's filter, money in and out by hand first. */
const LEDGER_FILTER_TYPES = ['charge', 'topup', 'deduction', 'compensation', 'correction', 'adjustment', 'refund', 'voucher', 'arrears', 'arrears_repayment', 'reversal'] as const;

function Overview({ u }: { u: AdminUserDetail }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Descriptions column={1} size="small" bordered labelStyle={{ width: 140 }}>
        <Descriptions.Item label="ID">{u.id}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.email')}>
          <Typography.Text copyable>{u.email}</Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label={t('users.fields.name')}>{u.name || '—'}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.role')}>{roleLabel(t, u.role)}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.status')}>
          <Space direction="vertical" size={0}>
            <StatusTag status={u.status} />
            {u.status === 'frozen' && u.frozen_reason ? (
              <>
                <Typography.Text type="danger" data-testid="user-frozen-reason">
                  {t('freeze.frozen_because', { reason: u.frozen_reason })}
                </Typography.Text>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {t('freeze.frozen_by', { by: u.frozen_by ?? '—', time: formatDateTime(u.frozen_at) })}
                </Typography.Text>
              </>
            ) : null}
          </Space>
        </Descriptions.Item>
        <Descriptions.Item label={t('users.fields.group')}>{u.group}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.keys')}>{u.key_count}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.created_at')}>{formatDateTime(u.created_at)}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.last_login_at')}>{formatDateTime(u.last_login_at)}</Descriptions.Item>
        <Descriptions.Item label={t('users.fields.remark')}>{u.remark || '—'}</Descriptions.Item>
      </Descriptions>
      <Descriptions title={t('users.wallet')} column={{ xs: 1, sm: 2 }} size="small" bordered>
        <Descriptions.Item label={t('wallet.balance')}>
          <Money micros={u.balance_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.available')}>
          <Money micros={u.available_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.pending')}>
          <Money micros={u.pending_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.cash')}>
          <Money micros={u.cash_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.gift')}>
          <Money micros={u.gift_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.plan')}>
          <Money micros={u.plan_micros} />
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.arrears')}>
          <Typography.Text type={u.arrears_micros > 0 ? 'danger' : undefined}>
            <Money micros={u.arrears_micros} />
          </Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label={t('wallet.credit')}>
          <Money micros={u.credit_used_micros} /> / <Money micros={u.credit_limit_micros} />
        </Descriptions.Item>
      </Descriptions>
    </Space>
  );
}

function EditForm({ u }: { u: AdminUserDetail }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<UserPatch>();
  const update = useUpdateUser();
  const groups = useGroups();
  const me = useMe();
  // Custom roles too, for whoever may see them; built-in names otherwise.
  const roles = useRoles(can(me.data, 'role:view'));
  const roleNames = roles.data?.items.map((r) => r.name) ?? [...BUILT_IN_ROLES];
  return (
    <Form<UserPatch>
      form={form}
      layout="vertical"
      initialValues={{ name: u.name, status: u.status as UserPatch['status'], role: u.role as UserPatch['role'], group: u.group, remark: u.remark ?? '' }}
      onFinish={async (v) => {
        // Send only what changed: a role change needs super-admin, and should not ride along unasked.
        const body: UserPatch = {};
        if (v.name !== u.name) body.name = v.name;
        if (v.status !== u.status) body.status = v.status;
        if (v.role !== u.role) body.role = v.role;
        if (v.group !== u.group) body.group = v.group;
        if ((v.remark ?? '') !== (u.remark ?? '')) body.remark = v.remark || null;
        if (Object.keys(body).length === 0) return void message.info(t('common.no_changes'));
        try {
          await update.mutateAsync({ id: u.id, body });
          void message.success(t('users.saved'));
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
        }
      }}
    >
      <Form.Item name="name" label={t('users.fields.name')}>
        <Input maxLength={100} />
      </Form.Item>
      <Form.Item
        name="status"
        label={t('users.fields.status')}
        extra={u.id === me.data?.id ? t('users.cannot_disable_self') : u.status === 'frozen' ? t('freeze.status_hint') : t('users.hints.status')}
      >
        <Select
          disabled={u.id === me.data?.id || u.status === 'frozen'}
          options={(u.status === 'frozen' ? (['frozen'] as const) : (['active', 'disabled'] as const)).map((s) => ({ value: s, label: t(`status.${s}`) }))}
        />
      </Form.Item>
      <Form.Item name="role" label={t('users.fields.role')} extra={!can(me.data, 'staff:edit') ? t('users.hints.role') : undefined}>
        <Select disabled={!can(me.data, 'staff:edit')} options={roleNames.map((r) => ({ value: r, label: roleLabel(t, r) }))} />
      </Form.Item>
      <Form.Item name="group" label={t('users.fields.group')}>
        <Select options={(groups.data?.items ?? []).map((g) => ({ value: g.name, label: `${g.name} ×${g.multiplier}` }))} />
      </Form.Item>
      <Form.Item name="remark" label={t('users.fields.remark')}>
        <Input.TextArea autoSize={{ minRows: 2, maxRows: 4 }} maxLength={500} />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={update.isPending}>
        {t('common.save')}
      </Button>
    </Form>
  );
}

function Ledger({ id }: { id: number }) {
  const { t, i18n } = useTranslation();
  const [page, setPage] = useState(1);
  const [types, setTypes] = useState<string[]>([]);
  const q = useLedger(id, page, types);
  const typeLabel = (v: string) => (i18n.exists(`ledger.types.${v}`) ? t(`ledger.types.${v}` as 'ledger.types.charge') : v);
  return (
    <Space direction="vertical" size={8} style={{ width: '100%' }}>
      <Select
        mode="multiple"
        allowClear
        value={types}
        onChange={(v: string[]) => {
          setTypes(v);
          setPage(1);
        }}
        placeholder={t('ledger.filter_types')}
        optionFilterProp="label"
        options={LEDGER_FILTER_TYPES.map((v) => ({ value: v, label: typeLabel(v) }))}
        style={{ width: '100%', maxWidth: 420 }}
        maxTagCount="responsive"
        data-testid="ledger-type-filter"
      />
      <QueryState query={q}>
        {(data) => (
          <Table<LedgerEntry>
            size="small"
            rowKey="id"
            dataSource={data.items}
            scroll={{ x: 'max-content' }}
            data-testid="ledger-table"
            pagination={{ current: page, pageSize: 10, total: data.total, onChange: setPage, size: 'small', showSizeChanger: false }}
            columns={[
              { title: t('ledger.time'), dataIndex: 'created_at', render: (v: string) => <span title={formatDateTime(v)} style={{ whiteSpace: 'nowrap' }}>{formatTimeCompact(v)}</span> },
              {
                title: t('ledger.type'),
                dataIndex: 'type',
                render: (v: string, r) => (
                  <Space size={4}>
                    <Tag color={TYPE_COLORS[v]}>{typeLabel(v)}</Tag>
                    <Typography.Text type="secondary">{i18n.exists(`ledger.buckets.${r.bucket}`) ? t(`ledger.buckets.${r.bucket}` as 'ledger.buckets.cash') : r.bucket}</Typography.Text>
                  </Space>
                ),
              },
              { title: t('ledger.amount'), dataIndex: 'amount_micros', align: 'right', render: (v: number) => <Money micros={v} kind="call" signed colored /> },
              { title: t('ledger.balance_after'), dataIndex: 'balance_after_micros', align: 'right', render: (v: number) => <Money micros={v} /> },
              {
                title: t('ledger.payment'),
                key: 'payment',
                render: (_: unknown, r) =>
                  r.payment_method || r.reference ? (
                    <Space direction="vertical" size={0}>
                      {r.payment_method ? <span>{t(`topup.methods.${r.payment_method}`)}</span> : null}
                      {r.reference ? (
                        <Typography.Text type="secondary" copyable className="tg-mono" style={{ fontSize: 12 }}>
                          {r.reference}
                        </Typography.Text>
                      ) : null}
                    </Space>
                  ) : (
                    '—'
                  ),
              },
              {
                title: t('ledger.reason'),
                dataIndex: 'reason',
                render: (v: string | null, r) =>
                  r.ref_type === 'request' && r.ref_id ? (
                    <Space direction="vertical" size={0}>
                      {v ? <span>{v}</span> : null}
                      <Tooltip title={t('ledger.open_request')}>
                        <Link to={`/admin/usage/records?request_id=${encodeURIComponent(r.ref_id)}`} className="tg-mono" style={{ fontSize: 12 }} data-testid="ledger-request-link">
                          {r.ref_id}
                        </Link>
                      </Tooltip>
                    </Space>
                  ) : (
                    (v ?? (r.ref_type ? `${r.ref_type} ${r.ref_id ?? ''}` : '—'))
                  ),
              },
            ]}
          />
        )}
      </QueryState>
    </Space>
  );
}

const TYPE_COLORS: Record<string, string | undefined> = { topup: 'green', compensation: 'cyan', deduction: 'orange', correction: 'purple', refund: 'gold', arrears: 'red' };

function PasswordForm({ id }: { id: number }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ password: string }>();
  const set = useSetPassword();
  return (
    <Form
      form={form}
      layout="vertical"
      onFinish={async (v: { password: string }) => {
        try {
          await set.mutateAsync({ id, password: v.password });
          void message.success(t('users.password_set'));
          form.resetFields();
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
        }
      }}
    >
      <Typography.Paragraph type="secondary">{t('users.password_intro')}</Typography.Paragraph>
      <Form.Item name="password" label={t('users.fields.new_password')} rules={[{ required: true, message: t('form.required') }, { min: 8, message: t('users.password_short') }]}>
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Button htmlType="submit" loading={set.isPending}>
        {t('users.set_password')}
      </Button>
    </Form>
  );
}

/** One user: profile and wallet, edit, balance (adjust + ledger), password. */
export function UserDetailDrawer({ id, onClose, tab: initialTab }: { id: number | null; onClose: () => void; tab?: 'overview' | 'balance' }) {
  const { t } = useTranslation();
  const q = useUser(id);
  const me = useMe();
  const canAdjust = can(me.data, 'user:edit', 'balance:adjust');
  const [tab, setTab] = useState<string>(initialTab ?? 'overview');
  const [freezing, setFreezing] = useState<FreezeTarget | null>(null);
  return (
    <Drawer
      open={id !== null}
      onClose={onClose}
      width="min(720px, 100vw)"
      title={q.data ? q.data.email : t('users.detail')}
      destroyOnHidden
      data-testid="user-drawer"
      extra={
        <Space wrap>
          {q.data && can(me.data, 'user:disable') && q.data.id !== me.data?.id && (q.data.status === 'active' || q.data.status === 'frozen') ? (
            <Button danger={q.data.status === 'active'} onClick={() => setFreezing(q.data)} data-testid="user-drawer-freeze">
              {t(q.data.status === 'frozen' ? 'freeze.unfreeze' : 'freeze.freeze')}
            </Button>
          ) : null}
          {canAdjust && tab !== 'balance' ? (
            <Button type="primary" icon={<WalletOutlined />} onClick={() => setTab('balance')} data-testid="user-drawer-topup">
              {t('topup.action')}
            </Button>
          ) : null}
        </Space>
      }
    >
      {id !== null ? (
        <QueryState query={q} rows={10}>
          {(u) => (
            <Tabs
              activeKey={tab}
              onChange={setTab}
              items={[
                { key: 'overview', label: t('users.tabs.overview'), children: <Overview u={u} /> },
                { key: 'edit', label: t('users.tabs.edit'), children: <EditForm key={u.id} u={u} /> },
                {
                  key: 'balance',
                  label: t('users.tabs.balance'),
                  children: (
                    <Space direction="vertical" size={24} style={{ width: '100%' }}>
                      <Descriptions size="small" column={{ xs: 1, sm: 3 }}>
                        <Descriptions.Item label={t('wallet.balance')}>
                          <Money micros={u.balance_micros} />
                        </Descriptions.Item>
                        <Descriptions.Item label={t('wallet.pending')}>
                          <Money micros={u.pending_micros} />
                        </Descriptions.Item>
                        <Descriptions.Item label={t('wallet.available')}>
                          <Money micros={u.available_micros} />
                        </Descriptions.Item>
                      </Descriptions>
                      <TopUpForm user={u} canAdjust={canAdjust} />
                      <div>
                        <Typography.Title level={5}>{t('users.ledger')}</Typography.Title>
                        <Ledger id={u.id} />
                      </div>
                    </Space>
                  ),
                },
                { key: 'password', label: t('users.tabs.password'), children: <PasswordForm id={u.id} /> },
              ]}
            />
          )}
        </QueryState>
      ) : null}
      <FreezeModal target={freezing} onClose={() => setFreezing(null)} />
    </Drawer>
  );
}
