import { Alert, App, Button, Card, Descriptions, Drawer, Flex, Skeleton, Statistic, Table, Tabs, Typography } from 'antd';
import { DownloadOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { fetchStatements, Statement, StatementLine, statementCsv, STATEMENTS, useOpenPeriod, useStatement } from '@/features/reseller/api';
import { billedQuantity, unitQuantity } from '@/features/pricing/units';
import { useFormat } from '@/hooks/use-format';
import { saveBlob } from '@/lib/download';
import { ScrollRegion } from '@/components/scroll-region';

/** Lines of one kind (by model, by salesperson) as a table. */
function Lines({ lines, kind }: { lines: StatementLine[]; kind: 'model' | 'sales' }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  return (
    <ScrollRegion label={kind === 'model' ? t('reseller.statements.byModel') : t('reseller.statements.bySales')}>
    <Table<StatementLine>
      size="small"
      rowKey={(l) => `${l.kind}:${l.model ?? l.salesUserId ?? 'none'}`}
      pagination={false}
      dataSource={lines.filter((l) => l.kind === kind)}
      locale={{ emptyText: <EmptyState text={t('reseller.statements.noUsage')} /> }}
      columns={[
        {
          title: kind === 'model' ? t('reseller.statements.model') : t('reseller.statements.salesperson'),
          render: (_, l) => (kind === 'model' ? l.model : (l.salesEmail ?? (l.salesUserId ? l.salesUserId : t('reseller.statements.unassigned')))),
        },
        { title: t('reseller.statements.requests'), align: 'right', render: (_, l) => fmt.number(l.requests) },
        { title: t('reseller.statements.tokens'), align: 'right', render: (_, l) => fmt.number(l.inputTokens + l.outputTokens) },
        ...(kind === 'model'
          ? [{ title: t('units.billed'), align: 'right' as const, render: (_: unknown, l: StatementLine) => (l.quantity == null ? '—' : unitQuantity(t, l.unit, billedQuantity(l), fmt.number)) }]
          : []),
        { title: t('reseller.statements.retail'), align: 'right', render: (_, l) => fmt.money(l.retailRevenue) },
        { title: t('reseller.statements.wholesale'), align: 'right', render: (_, l) => fmt.money(l.wholesaleCost) },
        { title: t('reseller.statements.margin'), align: 'right', render: (_, l) => fmt.money(l.margin) },
      ]}
    />
    </ScrollRegion>
  );
}

function Figures({ retail, wholesale, margin, requests }: { retail: string; wholesale: string; margin: string; requests: number }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  return (
    <Flex wrap gap={12}>
      {[
        [t('reseller.statements.requests'), fmt.number(requests)],
        [t('reseller.statements.retail'), fmt.money(retail)],
        [t('reseller.statements.wholesale'), fmt.money(wholesale)],
        [t('reseller.statements.margin'), fmt.money(margin)],
      ].map(([title, value]) => (
        <Card size="small" key={title} style={{ flex: '1 1 140px' }}>
          <Statistic title={title} value={value} />
        </Card>
      ))}
    </Flex>
  );
}

/** What the next statement will contain so far (GET /api/v1/statements/open). */
function OpenPeriodCard() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const open = useOpenPeriod(true);
  const o = open.data;
  return (
    <Card
      title={t('reseller.statements.openTitle')}
      data-testid="open-period"
      extra={o && <Typography.Text type="secondary">{t('reseller.statements.asOf', { time: fmt.dateTime(o.asOf) })}</Typography.Text>}
    >
      {open.error && <ProblemAlert error={open.error} />}
      {!o ? (
        open.isLoading && <Skeleton active />
      ) : (
        <Flex vertical gap={12}>
          <Typography.Text>{t('reseller.statements.openPeriod', { from: fmt.dateTime(o.periodStart), to: fmt.dateTime(o.periodEnd) })}</Typography.Text>
          {o.includesLaterPeriods && <Alert type="info" showIcon message={t('reseller.statements.closingSoon')} />}
          <Figures requests={o.totals.requests} retail={o.totals.retailRevenue} wholesale={o.totals.wholesaleCost} margin={o.totals.margin} />
          {o.corrections.requests > 0 && (
            <Typography.Text type="secondary">
              {t('reseller.statements.lateUsage', { count: o.corrections.requests, margin: fmt.money(o.corrections.margin) })}
            </Typography.Text>
          )}
          <Typography.Text strong>{t('reseller.statements.wouldSettle', { margin: fmt.money(o.settledMargin) })}</Typography.Text>
          <Tabs
            items={[
              { key: 'model', label: t('reseller.statements.byModel'), children: <Lines lines={o.lines} kind="model" /> },
              { key: 'sales', label: t('reseller.statements.bySales'), children: <Lines lines={o.lines} kind="sales" /> },
            ]}
          />
        </Flex>
      )}
    </Card>
  );
}

function StatementDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const statement = useStatement(id);
  const s = statement.data;
  return (
    <Drawer open={Boolean(id)} onClose={onClose} width={720} destroyOnClose title={s ? t('reseller.statements.of', { from: fmt.date(s.periodStart) }) : t('reseller.statements.statement')} extra={id && <CsvButton id={id} />}>
      {statement.error && <ProblemAlert error={statement.error} />}
      {!s ? (
        <Skeleton active />
      ) : (
        <Flex vertical gap={16} data-testid="statement-detail">
          <Descriptions size="small" column={1} bordered>
            <Descriptions.Item label={t('reseller.statements.period')}>{`${fmt.dateTime(s.periodStart)} – ${fmt.dateTime(s.periodEnd)}`}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.statements.closed')}>{fmt.dateTime(s.closedAt)}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.statements.corrections')}>{fmt.money(s.corrections.margin)}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.statements.adjustments')}>{fmt.money(s.adjustments)}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.statements.settled')}>{fmt.money(s.settledMargin)}</Descriptions.Item>
          </Descriptions>
          <Figures requests={s.totals.requests} retail={s.totals.retailRevenue} wholesale={s.totals.wholesaleCost} margin={s.totals.margin} />
          <Tabs
            items={[
              { key: 'model', label: t('reseller.statements.byModel'), children: <Lines lines={s.lines} kind="model" /> },
              { key: 'sales', label: t('reseller.statements.bySales'), children: <Lines lines={s.lines} kind="sales" /> },
            ]}
          />
        </Flex>
      )}
    </Drawer>
  );
}

function CsvButton({ id, size }: { id: string; size?: 'small' }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [busy, setBusy] = useState(false);
  return (
    <Button
      size={size}
      icon={<DownloadOutlined />}
      loading={busy}
      data-testid="statement-csv"
      onClick={async (event) => {
        event.stopPropagation();
        setBusy(true);
        try {
          const { blob, filename } = await statementCsv(id);
          saveBlob(filename, blob);
        } catch (error) {
          message.error((error as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      CSV
    </Button>
  );
}

/** Statements: the open period so far, then every closed statement with its detail and CSV. */
export default function StatementsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [open, setOpen] = useState<string>();
  const [fetch] = useState(fetchStatements);
  return (
    <Page title={t('reseller.nav.statements')}>
      <OpenPeriodCard />
      <Typography.Title level={2} style={{ fontSize: 18, margin: 0 }}>
        {t('reseller.statements.closedTitle')}
      </Typography.Title>
      <PagedTable<Statement>
        testId="statements-table"
        queryKey={[STATEMENTS, 'list']}
        fetch={fetch}
        rowKey="id"
        onRow={(s) => ({ onClick: () => setOpen(s.id), style: { cursor: 'pointer' } })}
        locale={{ emptyText: <EmptyState text={t('reseller.statements.none')} /> }}
        columns={[
          { title: t('reseller.statements.period'), render: (_, s) => <Typography.Link onClick={() => setOpen(s.id)}>{`${fmt.date(s.periodStart)} – ${fmt.date(s.periodEnd)}`}</Typography.Link> },
          { title: t('reseller.statements.requests'), align: 'right', render: (_, s) => fmt.number(s.totals.requests) },
          { title: t('reseller.statements.retail'), align: 'right', render: (_, s) => fmt.money(s.totals.retailRevenue) },
          { title: t('reseller.statements.wholesale'), align: 'right', render: (_, s) => fmt.money(s.totals.wholesaleCost) },
          { title: t('reseller.statements.settled'), align: 'right', render: (_, s) => fmt.money(s.settledMargin) },
          { title: 'CSV', render: (_, s) => <CsvButton id={s.id} size="small" /> },
        ]}
      />
      <StatementDrawer id={open} onClose={() => setOpen(undefined)} />
    </Page>
  );
}
