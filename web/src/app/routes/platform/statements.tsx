import { DownloadOutlined } from '@ant-design/icons';
import { App, Button, Descriptions, Drawer, Flex, Form, Input, Select, Table, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { access } from '@/features/platform/access';
import { KEYS, Statement, statementsPager, useAdjustments, useCreateAdjustment, useResellerOptions, useStatement } from '@/features/platform/api';
import { periodLabel } from '@/features/platform/period';
import { useFormat } from '@/hooks/use-format';
import { api } from '@/lib/api/client';
import { saveBlob } from '@/lib/download';

/** Every tenant's closed statements (platform owner and finance), their detail, CSV and adjustments. */
export default function StatementsPage() {
  const { t, i18n } = useTranslation();
  const { money, number } = useFormat();
  const [tenantId, setTenantId] = useState<string>();
  const [open, setOpen] = useState<Statement>();
  const resellers = useResellerOptions();
  const pager = useMemo(() => statementsPager(), []);

  return (
    <Page title={t('platform.nav.statements')}>
      <PagedTable<Statement>
        testId="statements"
        queryKey={[KEYS.statements, tenantId]}
        fetch={(request) => pager({ tenantId }, request)}
        rowKey="id"
        toolbar={
          <Select
            allowClear
            showSearch
            optionFilterProp="label"
            style={{ minWidth: 240 }}
            aria-label={t('platform.common.reseller')}
            placeholder={t('platform.common.allTenants')}
            value={tenantId}
            onChange={setTenantId}
            options={resellers.data?.items.map((r) => ({ value: r.id, label: r.branding?.displayName || r.name }))}
          />
        }
        onRow={(s) => ({ onClick: () => setOpen(s), style: { cursor: 'pointer' } })}
        columns={[
          {
            title: t('platform.statements.tenant'),
            key: 'tenant',
            render: (_, s) => (
              <Flex gap={6} align="center">
                {s.tenantSlug}
                {s.tenantType === 'platform' && <Tag>{t('platform.statements.direct')}</Tag>}
              </Flex>
            ),
          },
          { title: t('platform.statements.period'), key: 'period', render: (_, s) => periodLabel(s.periodStart, s.periodEnd, i18n.language) },
          { title: t('platform.statements.requests'), key: 'requests', align: 'right', render: (_, s) => number(s.totals.requests) },
          { title: t('platform.statements.retail'), key: 'retail', align: 'right', render: (_, s) => money(s.totals.retailRevenue) },
          { title: t('platform.statements.wholesale'), key: 'wholesale', align: 'right', render: (_, s) => money(s.totals.wholesaleCost) },
          { title: t('platform.statements.upstream'), key: 'upstream', align: 'right', render: (_, s) => money(s.totals.upstreamCost) },
          { title: t('platform.statements.settledMargin'), key: 'margin', align: 'right', render: (_, s) => <Typography.Text strong>{money(s.settledMargin)}</Typography.Text> },
          {
            title: t('common.actions'),
            key: 'open',
            render: (_, s) => (
              <Button size="small" onClick={() => setOpen(s)}>
                {t('platform.statements.open')}
              </Button>
            ),
          },
        ]}
      />
      {open && <StatementDrawer statement={open} onClose={() => setOpen(undefined)} />}
    </Page>
  );
}

function StatementDrawer({ statement, onClose }: { statement: Statement; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const { money, dateTime, number } = useFormat();
  const { data: me } = useMe();
  const { message } = App.useApp();
  const confirm = useConfirm();
  const detail = useStatement(statement.id);
  const adjustments = useAdjustments(statement.id);
  const create = useCreateAdjustment();
  const [form] = Form.useForm<{ amount: string; reason: string }>();
  const s = detail.data ?? statement;
  const lines = detail.data?.lines ?? [];
  const csv = async () => {
    const { data, response } = await api.GET('/api/v1/statements/{id}.csv', { params: { path: { id: statement.id } }, parseAs: 'blob' });
    if (!response.ok || !data) return message.error(t('platform.common.failed'));
    saveBlob(`statement-${statement.tenantSlug}-${statement.periodStart.slice(0, 10)}.csv`, data as Blob);
  };
  return (
    <Drawer
      open
      onClose={onClose}
      width="min(820px, 100vw)"
      title={t('platform.statements.title', { tenant: s.tenantSlug, period: periodLabel(s.periodStart, s.periodEnd, i18n.language) })}
      extra={
        <Button icon={<DownloadOutlined />} onClick={csv}>
          CSV
        </Button>
      }
    >
      <Flex vertical gap={16}>
        <ProblemAlert error={detail.error} />
        <Descriptions bordered size="small" column={{ xs: 1, sm: 2 }}>
          <Descriptions.Item label={t('platform.statements.requests')}>{number(s.totals.requests)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.closedAt')}>{dateTime(s.closedAt)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.retail')}>{money(s.totals.retailRevenue)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.wholesale')}>{money(s.totals.wholesaleCost)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.upstream')}>{money(s.totals.upstreamCost)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.margin')}>{money(s.totals.margin)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.corrections')}>{money(s.corrections.margin)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.adjustments')}>{money(s.adjustments)}</Descriptions.Item>
          <Descriptions.Item label={t('platform.statements.settledMargin')}>
            <Typography.Text strong>{money(s.settledMargin)}</Typography.Text>
          </Descriptions.Item>
        </Descriptions>
        <Table
          size="small"
          rowKey={(l, i) => `${l.kind}-${l.model ?? l.salesUserId ?? l.correctsStatementId ?? i}`}
          pagination={false}
          scroll={{ x: 'max-content' }}
          loading={detail.isLoading}
          dataSource={lines}
          columns={[
            { title: t('platform.statements.line'), key: 'what', render: (_, l) => `${t(`platform.statements.kind.${l.kind}`)}: ${l.model ?? l.salesEmail ?? l.correctsStatementId?.slice(0, 8) ?? '—'}` },
            { title: t('platform.statements.requests'), key: 'requests', align: 'right', render: (_, l) => number(l.requests) },
            { title: t('platform.statements.retail'), key: 'retail', align: 'right', render: (_, l) => money(l.retailRevenue) },
            { title: t('platform.statements.wholesale'), key: 'wholesale', align: 'right', render: (_, l) => money(l.wholesaleCost) },
            { title: t('platform.statements.margin'), key: 'margin', align: 'right', render: (_, l) => money(l.margin) },
          ]}
        />
        <Typography.Title level={2} style={{ fontSize: 16, margin: 0 }}>
          {t('platform.statements.adjustments')}
        </Typography.Title>
        <ProblemAlert error={adjustments.error} />
        <Table
          size="small"
          rowKey="id"
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={adjustments.data?.items ?? []}
          locale={{ emptyText: t('platform.statements.noAdjustments') }}
          columns={[
            { title: t('platform.statements.when'), key: 'when', render: (_, a) => dateTime(a.createdAt) },
            { title: t('platform.statements.amount'), key: 'amount', align: 'right', render: (_, a) => money(a.amount) },
            { title: t('platform.statements.reason'), key: 'reason', dataIndex: 'reason' },
          ]}
        />
        {me && access.adjust(me) && s.tenantType === 'reseller' && (
          <Form
            form={form}
            layout="vertical"
            onFinish={async ({ amount, reason }) => {
              if (!(await confirm(t('platform.statements.adjustConfirm', { amount: money(amount.trim()) }), reason))) return;
              try {
                await create.mutateAsync({ id: statement.id, amount: amount.trim(), reason: reason.trim() });
                form.resetFields();
                message.success(t('platform.common.saved'));
              } catch {
                // shown below
              }
            }}
          >
            <Typography.Paragraph type="secondary">{t('platform.statements.adjustHint')}</Typography.Paragraph>
            <ProblemAlert error={create.error} />
            <Flex gap={12} wrap align="end">
              <Form.Item name="amount" label={t('platform.statements.amount')} rules={[{ required: true, pattern: /^-?\d+(\.\d{1,9})?$/, message: t('platform.prices.decimal') }]} style={{ flex: '1 1 140px' }}>
                <Input inputMode="decimal" placeholder="-12.50" />
              </Form.Item>
              <Form.Item name="reason" label={t('platform.statements.reason')} rules={[{ required: true, whitespace: true }]} style={{ flex: '3 1 240px' }}>
                <Input maxLength={500} />
              </Form.Item>
              <Form.Item>
                <Button htmlType="submit" loading={create.isPending}>
                  {t('platform.statements.addAdjustment')}
                </Button>
              </Form.Item>
            </Flex>
          </Form>
        )}
      </Flex>
    </Drawer>
  );
}
