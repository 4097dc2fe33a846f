import { PageContainer } from '@ant-design/pro-components';
import { Alert, Card, Col, Row, Select, Space, Table, Tabs, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useModels, useOverview } from '../../api/console';
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
  const overview = useOverview();
  const models = useModels();
  const [model, setModel] = useState<string | undefined>();
  const baseUrl = overview.data?.base_url ?? `${window.location.origin}/v1`;
  const chosen = model ?? models.data?.items[0]?.model ?? 'gpt-4o-mini';
  const input = { baseUrl, key: KEY_PLACEHOLDER, model: chosen };
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
              <CopyField value={KEY_PLACEHOLDER} testId="quickstart-key" />
              <Alert type="info" showIcon message={<span>{t('quickstart.key_hint_before')} <Link to="/console/keys">{t('quickstart.key_hint_link')}</Link> {t('quickstart.key_hint_after', { placeholder: KEY_PLACEHOLDER })}</span>} />
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
                options={(models.data?.items ?? [{ model: chosen } as ModelOffer]).map((m) => ({ value: m.model, label: m.model }))}
                aria-label={t('quickstart.model')}
                data-testid="quickstart-model"
              />
            </Space>
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
            <Table<ModelOffer>
              size="small"
              rowKey="model"
              loading={models.isPending}
              dataSource={models.data?.items ?? []}
              pagination={false}
              scroll={{ x: 'max-content' }}
              locale={{ emptyText: t('quickstart.no_models') }}
              columns={[
                { title: t('prices.fields.model'), dataIndex: 'model', render: (v: string) => <Typography.Text className="tg-mono">{v}</Typography.Text> },
                { title: t('quickstart.input_price'), dataIndex: 'input_usd_per_1m', align: 'right', render: (v: string, m) => <span className="tg-num" title={`${formatUsdText(m.input_usd_per_1k)} / 1K`}>{formatUsdText(v)}</span> },
                { title: t('quickstart.output_price'), dataIndex: 'output_usd_per_1m', align: 'right', render: (v: string, m) => <span className="tg-num" title={`${formatUsdText(m.output_usd_per_1k)} / 1K`}>{formatUsdText(v)}</span> },
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
