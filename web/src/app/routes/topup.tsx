import { Button, Card, Result, Spin } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { useMyTopup } from '@/features/topups/api';
import { TopupStatusTag } from '@/features/topups/topup-cards';
import { useFormat } from '@/hooks/use-format';

const RESULT_STATUS = { pending: 'info', paid: 'success', failed: 'error', expired: 'warning', refunded: 'info' } as const;

/** Where Stripe and Epay send the customer back: the order's state, asked again until it settles. */
export default function TopupPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { id = '' } = useParams();
  const order = useMyTopup(id);
  const status = order.data?.status;
  return (
    <Page title={t('topups.orderTitle')}>
      <ProblemAlert error={order.error} />
      <Card data-testid="topup-order">
        {order.isPending ? (
          <Spin />
        ) : (
          order.data && (
            <Result
              status={RESULT_STATUS[order.data.status as keyof typeof RESULT_STATUS] ?? 'info'}
              icon={status === 'pending' ? <Spin size="large" /> : undefined}
              title={
                <>
                  {format.money(order.data.amount)} <TopupStatusTag status={order.data.status} />
                </>
              }
              subTitle={t(`topups.outcome.${order.data.status}`)}
              extra={
                <Link to="/billing">
                  <Button type="primary">{t('topups.backToBilling')}</Button>
                </Link>
              }
            />
          )
        )}
        {order.isError && (
          <Link to="/billing">
            <Button>{t('topups.backToBilling')}</Button>
          </Link>
        )}
      </Card>
    </Page>
  );
}
