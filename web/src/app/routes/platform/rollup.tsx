import { Alert, Card, Col, Flex, Row, Segmented, Select, Statistic, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { KEYS, OpenRollup, periodEnd, PeriodKind, periodStarts, Statement, statementsPager, useOpenRollup, useRollup } from '@/features/platform/api';
import { periodLabel } from '@/features/platform/period';
import { useFormat } from '@/hooks/use-format';

type Tenant = OpenRollup['byTenant'][number];

/**
 * The platform's business across resellers for one period: the open one so far (from the usage
 * recorded until now) or a closed one (from its statements).
 */
export default function RollupPage() {
  const { t, i18n } = useTranslation();
  const { money, number, dateTime } = useFormat();
  const [kind, setKind] = useState<PeriodKind>('month');
  const starts = useMemo(() => periodStarts(kind, 12), [kind]);
  const [index, setIndex] = useState(0);
  const start = starts[Math.min(index, starts.length - 1)];
  const open = index === 0;
  const live = useOpenRollup(kind, open);
  const closed = useRollup(open ? undefined : start.toISOString());
  const pager = useMemo(() => statementsPager(), []);
  const end = periodEnd(kind, start);
  const label = (s: Date) => periodLabel(s.toISOString(), periodEnd(kind, s).toISOString(), i18n.language);

  const figures = open ? live.data : closed.data;
  const cards: Array<[string, string | number | undefined, boolean?]> = [
    ['requests', figures?.requests],
    ['resellerRetail', figures?.resellerRetail],
    ['resellerWholesale', figures?.resellerWholesale],
    ['platformDirectRetail', figures?.platformDirectRetail],
    ['upstreamCost', figures?.upstreamCost],
    ['platformMargin', figures?.platformMargin, true],
  ];

  return (
    <Page title={t('platform.nav.rollup')}>
      <Flex gap={8} wrap align="center">
        <Segmented<PeriodKind>
          value={kind}
          onChange={(value) => {
            setKind(value);
            setIndex(0);
          }}
          options={(['day', 'week', 'month'] as const).map((value) => ({ value, label: t(`platform.rollup.kind.${value}`) }))}
        />
        <Select
          style={{ minWidth: 260 }}
          aria-label={t('platform.rollup.period')}
          value={index}
          onChange={setIndex}
          data-testid="rollup-period"
          options={starts.map((s, i) => ({ value: i, label: i === 0 ? `${label(s)} (${t('platform.rollup.open')})` : label(s) }))}
        />
      </Flex>
      {open ? (
        <Alert type="info" showIcon message={t('platform.rollup.openHint', { asOf: dateTime(live.data?.asOf ?? new Date().toISOString()) })} />
      ) : (
        closed.data?.tenants === 0 && <Alert type="warning" showIcon message={t('platform.rollup.notClosed')} />
      )}
      <ProblemAlert error={open ? live.error : closed.error} />
      <Row gutter={[12, 12]} data-testid="rollup-figures">
        {cards.map(([key, value, strong]) => (
          <Col key={key} xs={12} md={8} xl={4}>
            <Card size="small" style={{ height: '100%' }}>
              <Statistic
                title={t(`platform.rollup.${key}`)}
                value={value === undefined ? '—' : typeof value === 'number' ? number(value) : money(value)}
                valueStyle={{ fontSize: 20, fontWeight: strong ? 600 : undefined }}
                loading={figures === undefined && (open ? live.isLoading : closed.isLoading)}
              />
            </Card>
          </Col>
        ))}
      </Row>
      {!open && closed.data && closed.data.corrections.platformMargin !== undefined && (
        <Typography.Text type="secondary">
          {t('platform.rollup.corrections', { margin: money(closed.data.corrections.platformMargin) })}
        </Typography.Text>
      )}
      <Typography.Title level={2} style={{ fontSize: 16, margin: 0 }}>
        {t('platform.rollup.byTenant')}
      </Typography.Title>
      {open ? (
        <PagedTable<Tenant>
          testId="rollup-tenants"
          queryKey={[KEYS.rollup, 'open', kind, 'tenants', live.data?.asOf]}
          fetch={async ({ page, pageSize, search }) => {
            const all = (live.data?.byTenant ?? []).filter((r) => !search || r.tenantSlug.includes(search.toLowerCase()));
            return { items: all.slice((page - 1) * pageSize, page * pageSize), meta: { page, pageSize, total: all.length } };
          }}
          rowKey="tenantId"
          searchPlaceholder={t('platform.rollup.search')}
          columns={[
            {
              title: t('platform.statements.tenant'),
              key: 'tenant',
              render: (_, r) => (
                <Flex gap={6} align="center">
                  {r.tenantSlug}
                  {r.tenantType === 'platform' && <Tag>{t('platform.statements.direct')}</Tag>}
                </Flex>
              ),
            },
            { title: t('platform.statements.requests'), key: 'requests', align: 'right', render: (_, r) => number(r.requests) },
            { title: t('platform.statements.retail'), key: 'retail', align: 'right', render: (_, r) => money(r.retail) },
            { title: t('platform.statements.wholesale'), key: 'wholesale', align: 'right', render: (_, r) => money(r.wholesale) },
            { title: t('platform.statements.upstream'), key: 'upstream', align: 'right', render: (_, r) => money(r.upstreamCost) },
            { title: t('platform.statements.margin'), key: 'margin', align: 'right', render: (_, r) => money(r.margin) },
          ]}
        />
      ) : (
        <PagedTable<Statement>
          testId="rollup-statements"
          queryKey={[KEYS.statements, 'period', start.toISOString()]}
          fetch={(request) => pager({ from: start.toISOString(), to: end.toISOString() }, request)}
          rowKey="id"
          columns={[
            { title: t('platform.statements.tenant'), key: 'tenant', dataIndex: 'tenantSlug' },
            { title: t('platform.statements.requests'), key: 'requests', align: 'right', render: (_, s) => number(s.totals.requests) },
            { title: t('platform.statements.retail'), key: 'retail', align: 'right', render: (_, s) => money(s.totals.retailRevenue) },
            { title: t('platform.statements.wholesale'), key: 'wholesale', align: 'right', render: (_, s) => money(s.totals.wholesaleCost) },
            { title: t('platform.statements.upstream'), key: 'upstream', align: 'right', render: (_, s) => money(s.totals.upstreamCost) },
            { title: t('platform.statements.settledMargin'), key: 'margin', align: 'right', render: (_, s) => money(s.settledMargin) },
          ]}
        />
      )}
    </Page>
  );
}
