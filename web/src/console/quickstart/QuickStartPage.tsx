import { PageContainer } from '@ant-design/pro-components';
import { KeyOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Descriptions, Input, Row, Select, Space, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useCreateConsoleKey, useModels, useOverview } from '../../api/console';
import { errorLine } from '../../api/errors';
import type { ModelOffer } from '../../api/types';
import { CopyButton, CopyField } from '../../components/CopyField';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatUsdText } from '../../lib/money';
import { curlSnippet, nodeSnippet, pythonSnippet } from './snippets';

const KEY_PLACEHOLDER = 'sk-your-key';
type Lang = 'curl' | 'python' | 'node';

function Code({ code, testId }: { code: string; testId: string }) {
  return (
    <pre className="tg-code" data-testid={testId}>
      {code}
    </pre>
  );
}

export default function QuickStartPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const overview = useOverview();
  const models = useModels();
  const createKey = useCreateConsoleKey();
  const [model, setModel] = useState<string | undefined>();
  // A key is shown only once, when created: one made here is kept in memory for this page only.
  const [newKey, setNewKey] = useState<string | null>(null);
  const baseUrl = overview.data?.base_url ?? `${window.location.origin}/v1`;
  // The chat snippet needs a chat model that works: the server suggests the one this user called
  // last, else one a healthy channel serves (never the alphabetically first, never an embedder).
  const chatModels = (models.data?.items ?? []).filter((m) => m.kind === 'chat');
  const chosen = model ?? models.data?.default_model ?? chatModels[0]?.model ?? 'gpt-4o-mini';
  const offer = models.data?.items.find((m) => m.model === chosen);
  const key = newKey ?? KEY_PLACEHOLDER;
  const input = { baseUrl, key, model: chosen };
  const makeKey = async () => {
    try {
      const created = await createKey.mutateAsync({ name: t('quickstart.key_name') });
      setNewKey(created.key);
    } catch (e) {
      void message.error(errorLine(e, t));
    }
  };
  const snippets: Record<Lang, string> = { curl: curlSnippet(input), python: pythonSnippet(input), node: nodeSnippet(input) };
  const [lang, setLang] = useState<Lang>('curl');

  return (
    <PageContainer title={t('quickstart.title')} content={t('quickstart.intro')}>
      {overview.isError ? <ErrorAlert error={overview.error} onRetry={() => void overview.refetch()} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={14}>
          <Card title={t('quickstart.step1')} size="small" style={{ marginBottom: 16 }}>
            <Space direction="vertical" style={{ width: '100%' }}>
              <Typography.Text type="secondary">{t('quickstart.base_url')}</Typography.Text>
              <CopyField value={baseUrl} testId="quickstart-base-url" />
              <Typography.Text type="secondary">{t('quickstart.api_key')}</Typography.Text>
              {newKey ? (
                <>
                  <CopyField value={newKey} testId="quickstart-key" />
                  <Alert type="warning" showIcon message={t('quickstart.key_created')} />
                </>
              ) : (
                <>
                  <Space.Compact style={{ width: '100%' }}>
                    <Input readOnly value={KEY_PLACEHOLDER} data-testid="quickstart-key" className="tg-mono" />
                    <Tooltip title={t('quickstart.copy_key_unavailable')}>
                      <Button disabled data-testid="quickstart-key-copy">
                        {t('common.copy')}
                      </Button>
                    </Tooltip>
                  </Space.Compact>
                  <Alert
                    type="info"
                    showIcon
                    message={<span>{t('quickstart.key_hint_before')} <Link to="/console/keys">{t('quickstart.key_hint_link')}</Link> {t('quickstart.key_hint_after', { placeholder: KEY_PLACEHOLDER })}</span>}
                    action={
                      <Button size="small" type="primary" icon={<KeyOutlined />} loading={createKey.isPending} onClick={() => void makeKey()} data-testid="quickstart-create-key">
                        {t('quickstart.create_key')}
                      </Button>
                    }
                  />
                </>
              )}
            </Space>
          </Card>
          <Card title={t('quickstart.step2')} size="small">
            <Space wrap style={{ marginBottom: 4 }}>
              <Typography.Text type="secondary">{t('quickstart.model')}</Typography.Text>
              <Select
                size="small"
                style={{ minWidth: 200 }}
                value={chosen}
                onChange={setModel}
                options={(chatModels.length ? chatModels : [{ model: chosen } as ModelOffer]).map((m) => ({
                  value: m.model,
                  label: m.available === false ? `${m.model} (${t('quickstart.unavailable')})` : m.model,
                }))}
                aria-label={t('quickstart.model')}
                data-testid="quickstart-model"
              />
            </Space>
            {offer ? (
              <Descriptions size="small" column={{ xs: 1, sm: 2 }} style={{ margin: '8px 0' }} data-testid="quickstart-price">
                <Descriptions.Item label={t('quickstart.input_price')}>{formatUsdText(offer.input_usd_per_1m)}</Descriptions.Item>
                <Descriptions.Item label={t('quickstart.output_price')}>{formatUsdText(offer.output_usd_per_1m)}</Descriptions.Item>
                {offer.cached_input_usd_per_1m !== offer.input_usd_per_1m ? (
                  <Descriptions.Item label={t('quickstart.cached_price')}>{formatUsdText(offer.cached_input_usd_per_1m)}</Descriptions.Item>
                ) : null}
                {Number(offer.per_request_usd) > 0 ? <Descriptions.Item label={t('quickstart.per_call_price')}>{formatUsdText(offer.per_request_usd)}</Descriptions.Item> : null}
                {!offer.available ? (
                  <Descriptions.Item label={t('quickstart.status')}>
                    <Tag color="warning">{t('quickstart.unavailable')}</Tag>
                  </Descriptions.Item>
                ) : null}
              </Descriptions>
            ) : null}
            <Tabs
              activeKey={lang}
              onChange={(k) => setLang(k as Lang)}
              tabBarExtraContent={<CopyButton text={snippets[lang]} size="small" testId={`snippet-${lang}-copy`} />}
              items={[
                { key: 'curl', label: 'curl', children: <Code code={snippets.curl} testId="snippet-curl" /> },
                { key: 'python', label: 'Python', children: <Code code={snippets.python} testId="snippet-python" /> },
                { key: 'node', label: 'Node.js', children: <Code code={snippets.node} testId="snippet-node" /> },
              ]}
            />
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Card title={t('quickstart.models_title')} size="small">
            {models.isError ? <ErrorAlert error={models.error} onRetry={() => void models.refetch()} compact /> : null}
            {/* Two columns that fit the card at any width (1280 beside the code, 390 on a phone): the
                model, and its prices one per line; nothing is cut off or needs sideways scrolling. */}
            <Table<ModelOffer>
              size="small"
              rowKey="model"
              loading={models.isPending}
              dataSource={models.data?.items ?? []}
              pagination={false}
              tableLayout="fixed"
              locale={{ emptyText: t('quickstart.no_models') }}
              data-testid="quickstart-models"
              columns={[
                {
                  title: t('prices.fields.model'),
                  dataIndex: 'model',
                  render: (v: string, m) => (
                    <Space size={4} wrap>
                      <Typography.Text className="tg-mono tg-model-name">{v}</Typography.Text>
                      {m.kind === 'embedding' ? <Tag>{t('quickstart.embedding')}</Tag> : null}
                      {!m.available ? <Tag color="warning">{t('quickstart.unavailable')}</Tag> : null}
                    </Space>
                  ),
                },
                {
                  title: t('quickstart.prices_per_1m'),
                  key: 'prices',
                  width: '48%',
                  render: (_: unknown, m) => (
                    <div className="tg-num" style={{ fontSize: 13, lineHeight: 1.6 }}>
                      <PriceLine label={t('quickstart.input_price_short')} value={formatUsdText(m.input_usd_per_1m)} hint={`${formatUsdText(m.input_usd_per_1k)} / 1K`} />
                      <PriceLine label={t('quickstart.output_price_short')} value={formatUsdText(m.output_usd_per_1m)} hint={`${formatUsdText(m.output_usd_per_1k)} / 1K`} />
                      {m.cached_input_usd_per_1m !== m.input_usd_per_1m ? <PriceLine label={t('quickstart.cached_price_short')} value={formatUsdText(m.cached_input_usd_per_1m)} /> : null}
                      {Number(m.per_request_usd) > 0 ? <PriceLine label={t('quickstart.per_call_price')} value={formatUsdText(m.per_request_usd)} /> : null}
                    </div>
                  ),
                },
              ]}
            />
            <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
              {t('quickstart.prices_note')}
            </Typography.Paragraph>
          </Card>
        </Col>
      </Row>
    </PageContainer>
  );
}

/** One price in the models card: what it is on the left, the amount on the right. */
function PriceLine({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div style={{ display: 'flex', justifyContent: 'space-between', gap: 8, flexWrap: 'wrap' }} title={hint}>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {label}
      </Typography.Text>
      <span>{value}</span>
    </div>
  );
}
