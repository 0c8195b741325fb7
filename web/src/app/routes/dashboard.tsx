import { Alert, Card, Col, Row, Skeleton, Statistic, Table, Typography } from 'antd';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Link } from 'react-router-dom';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { useBalance } from '@/features/ledger/api';
import { daysBetween, useUsage, UsageGroup } from '@/features/usage/api';
import { UsageChart } from '@/features/usage/usage-chart';
import { useFormat } from '@/hooks/use-format';
import { compareDecimals } from '@/lib/money';

const DAY = 86_400_000;
const WARN_DAYS = 3;

export default function DashboardPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const balance = useBalance();
  const range = useMemo(() => {
    const to = new Date(Math.ceil(Date.now() / DAY) * DAY);
    return { from: new Date(to.getTime() - 30 * DAY), to };
  }, []);
  const days = useMemo(() => daysBetween(range.from, range.to), [range]);
  const filter = { from: range.from.toISOString(), to: range.to.toISOString() };
  const byDay = useUsage('day', filter);
  const byModel = useUsage('model', filter);

  const spendable = (balance.data?.spendable as string | null | undefined) ?? balance.data?.balance;
  const held = balance.data?.held;
  const spend30 = byDay.data?.totals.spend ?? '0';
  // The warning compares the spendable amount with three days of the 30-day average (a rough
  // forecast; the amounts shown stay exact).
  const low =
    spendable !== undefined &&
    (compareDecimals(spendable, '0') <= 0 || (Number(spend30) > 0 && (Number(spendable) / Number(spend30)) * 30 < WARN_DAYS));
  const topModels = [...(byModel.data?.groups ?? [])].sort((a, b) => compareDecimals(b.spend, a.spend)).slice(0, 5);

  return (
    <Page title={t('nav.dashboard')}>
      {low && (
        <Alert
          type={compareDecimals(spendable!, '0') <= 0 ? 'error' : 'warning'}
          showIcon
          data-testid="low-balance"
          message={compareDecimals(spendable!, '0') <= 0 ? t('dashboard.depleted') : t('dashboard.lowBalance', { days: WARN_DAYS })}
          action={<Link to="/billing">{t('dashboard.topUp')}</Link>}
        />
      )}
      <ProblemAlert error={balance.error ?? byDay.error} />
      <Row gutter={[16, 16]}>
        <Col xs={24} sm={12} lg={6}>
          <Card>
            <Statistic title={t('dashboard.spendable')} loading={balance.isPending} valueRender={() => <span data-testid="spendable">{format.money(spendable)}</span>} />
          </Card>
        </Col>
        <Col xs={24} sm={12} lg={6}>
          <Card>
            <Statistic title={t('dashboard.held')} loading={balance.isPending} valueRender={() => <span>{format.money(held)}</span>} />
          </Card>
        </Col>
        <Col xs={24} sm={12} lg={6}>
          <Card>
            <Statistic title={t('dashboard.spend30')} loading={byDay.isPending} valueRender={() => <span data-testid="spend-30">{format.money(spend30)}</span>} />
          </Card>
        </Col>
        <Col xs={24} sm={12} lg={6}>
          <Card>
            <Statistic title={t('dashboard.requests30')} loading={byDay.isPending} valueRender={() => <span data-testid="requests-30">{format.number(byDay.data?.totals.requests ?? 0)}</span>} />
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={16}>
          <Card title={t('dashboard.last30')}>
            {byDay.isPending ? <Skeleton active /> : <UsageChart days={days} groups={byDay.data?.groups ?? []} money={format.money} />}
          </Card>
        </Col>
        <Col xs={24} lg={8}>
          <Card title={t('dashboard.topModels')}>
            <Table<UsageGroup>
              size="small"
              rowKey={(g) => String(g.key)}
              loading={byModel.isPending}
              dataSource={topModels}
              pagination={false}
              locale={{ emptyText: <EmptyState text={t('dashboard.noUsage')} /> }}
              columns={[
                { title: t('usage.model'), dataIndex: 'key', render: (k) => <Typography.Text ellipsis>{String(k)}</Typography.Text> },
                { title: t('usage.spend'), dataIndex: 'spend', align: 'right', render: (s: string) => format.money(s) },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </Page>
  );
}
