import { Select } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { fetchTopups, Topup, TOPUPS, useCustomer } from '@/features/reseller/api';
import { StatusTag, str } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

function CustomerName({ id }: { id: string }) {
  const customer = useCustomer(id);
  return <>{customer.data ? (str(customer.data.displayName) ?? customer.data.email) : '…'}</>;
}

const STATUSES: Topup['status'][] = ['pending', 'paid', 'failed', 'expired', 'refunded'];

/** Top-up orders of the tenant's customers (owner, finance; a salesperson's bound customers'). */
export default function TopupsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [status, setStatus] = useState<Topup['status']>();
  return (
    <Page title={t('reseller.nav.topups')}>
      <PagedTable<Topup>
        testId="topups-table"
        queryKey={[TOPUPS, { status }]}
        fetch={(request) => fetchTopups({ ...request, status })}
        rowKey="id"
        toolbar={
          <Select
            allowClear
            style={{ width: 160 }}
            placeholder={t('reseller.customers.anyStatus')}
            aria-label={t('reseller.withdrawals.status')}
            value={status}
            onChange={setStatus}
            options={STATUSES.map((s) => ({ value: s, label: t(`reseller.status.${s}`) }))}
          />
        }
        locale={{ emptyText: <EmptyState text={t('reseller.topups.none')} /> }}
        columns={[
          { title: t('reseller.topups.created'), render: (_, o) => fmt.dateTime(o.createdAt) },
          { title: t('reseller.topups.customer'), render: (_, o) => <CustomerName id={o.customerId} /> },
          { title: t('reseller.topups.amount'), align: 'right', render: (_, o) => fmt.money(o.amount) },
          { title: t('reseller.topups.status'), render: (_, o) => <StatusTag status={o.status} /> },
          { title: t('reseller.topups.provider'), render: (_, o) => (o.method ? `${o.provider} · ${o.method}` : o.provider) },
          { title: t('reseller.topups.paidAt'), render: (_, o) => fmt.dateTime(str(o.paidAt)) },
          { title: t('reseller.topups.refunded'), align: 'right', render: (_, o) => (o.refundedAmount && !/^0(\.0+)?$/.test(o.refundedAmount) ? fmt.money(o.refundedAmount) : '—') },
        ]}
      />
    </Page>
  );
}
