import { Alert, Button, Card, Col, Row, Statistic, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { ScrollRegion } from '@/components/scroll-region';
import { Transaction, useBalance, useTransactions } from '@/features/ledger/api';
import { RecentTopups, RedeemCard, TopupForm } from '@/features/topups/topup-cards';
import { useFormat } from '@/hooks/use-format';
import { useSite } from '@/hooks/use-site';

// Solid, dark tag colours: white text on them keeps AA contrast.
const KIND_COLOR: Record<string, string> = { usage: '#0050b3', credit: '#237804', payment: '#237804', debit: '#ad4e00', correction: '#531dab' };

export default function BillingPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { data: site } = useSite();
  const balance = useBalance();
  const transactions = useTransactions();
  return (
    <Page title={t('nav.billing')}>
      <ProblemAlert error={balance.error ?? transactions.error} />
      <Row gutter={[16, 16]}>
        <Col xs={24} md={10}>
          <Card>
            <Statistic title={t('billing.balance')} loading={balance.isPending} valueRender={() => <span data-testid="ledger-balance">{format.money(balance.data?.balance)}</span>} />
          </Card>
        </Col>
        <Col xs={24} md={14}>
          <RedeemCard />
        </Col>
        <Col xs={24} md={10}>
          <Card title={t('billing.addFunds')} data-testid="add-funds">
            <TopupForm />
            <Typography.Paragraph type="secondary" style={{ marginTop: 16 }}>
              {t('billing.addFundsContact')}
            </Typography.Paragraph>
            {site?.support.email || site?.support.url ? (
              <div data-testid="support-contact">
                {site.support.email && (
                  <Typography.Paragraph strong copyable>
                    <a href={`mailto:${site.support.email}`}>{site.support.email}</a>
                  </Typography.Paragraph>
                )}
                {site.support.url && (
                  <Typography.Paragraph>
                    <a href={site.support.url} target="_blank" rel="noreferrer noopener">
                      {site.support.url}
                    </a>
                  </Typography.Paragraph>
                )}
              </div>
            ) : (
              <Alert type="info" message={t('billing.noSupportContact')} />
            )}
          </Card>
        </Col>
        <Col xs={24} md={14}>
          <RecentTopups />
        </Col>
      </Row>
      <Card title={t('billing.transactions')}>
        <ScrollRegion label={t('billing.transactions')}>
          <Table<Transaction>
            data-testid="transactions"
          size="small"
            rowKey="id"
            loading={transactions.isPending}
            dataSource={transactions.rows}
            pagination={false}
            
            locale={{ emptyText: <EmptyState text={t('billing.empty')} /> }}
            columns={[
              { title: t('billing.time'), dataIndex: 'occurredAt', render: (at: string) => format.dateTime(at) },
              { title: t('billing.kind'), dataIndex: 'kind', render: (kind: string) => <Tag color={KIND_COLOR[kind]}>{t(`billing.kinds.${kind}`)}</Tag> },
              { title: t('billing.reference'), dataIndex: 'reference', responsive: ['md'], render: (ref: string, row) => <Typography.Text type="secondary" ellipsis style={{ maxWidth: 220 }}>{row.note || ref}</Typography.Text> },
              {
                title: t('billing.amount'),
                dataIndex: 'amount',
                align: 'right',
                render: (amount: string) => (
                  <Typography.Text type={amount.startsWith('-') ? undefined : 'success'} data-testid="tx-amount" style={{ whiteSpace: 'nowrap' }}>
                    {format.money(amount)}
                  </Typography.Text>
                ),
              },
              { title: t('billing.balanceAfter'), dataIndex: 'balanceAfter', align: 'right', responsive: ['sm'], render: (b: string | undefined) => format.money(b) },
            ]}
          />
        </ScrollRegion>
        {transactions.hasNextPage && (
          <Button block style={{ marginTop: 12 }} onClick={() => void transactions.fetchNextPage()} loading={transactions.isFetchingNextPage}>
            {t('billing.more')}
          </Button>
        )}
      </Card>
    </Page>
  );
}
