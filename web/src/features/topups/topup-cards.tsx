import { Alert, Button, Card, Form, Input, List, Radio, Space, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { EmptyState } from '@/components/empty-state';
import { ProblemAlert } from '@/components/problem-alert';
import { useFormat } from '@/hooks/use-format';
import { Topup, TopupProvider, useCreateTopup, useMyTopups, useRedeemCode } from './api';

export const TOPUP_STATUS_COLOR: Record<string, string> = { pending: '#ad6800', paid: '#237804', failed: '#a8071a', expired: '#595959', refunded: '#531dab' };

export function TopupStatusTag({ status }: { status: string }) {
  const { t } = useTranslation();
  return (
    <Tag color={TOPUP_STATUS_COLOR[status]} data-testid="topup-status">
      {t(`topups.statuses.${status}`)}
    </Tag>
  );
}

/** A prepaid code bought elsewhere (a shop, a reseller's card) credited to the wallet. */
export function RedeemCard() {
  const { t } = useTranslation();
  const format = useFormat();
  const redeem = useRedeemCode();
  const [form] = Form.useForm<{ code: string }>();
  return (
    <Card title={t('topups.redeemTitle')} data-testid="redeem">
      <Space direction="vertical" style={{ width: '100%' }}>
        <Form
          form={form}
          layout="vertical"
          requiredMark={false}
          onFinish={({ code }) => redeem.mutate(code.trim(), { onSuccess: () => form.resetFields() })}
        >
          <Form.Item name="code" label={t('topups.code')} rules={[{ required: true, whitespace: true, message: t('topups.codeRequired') }]} style={{ marginBottom: 12 }}>
            <Input placeholder="XXXXX-XXXXX-XXXXX-XXXXX-XXXXX" autoComplete="off" spellCheck={false} data-testid="redeem-code" />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={redeem.isPending} data-testid="redeem-submit">
            {t('topups.redeem')}
          </Button>
        </Form>
        {redeem.isSuccess && (
          <Alert
            type="success"
            showIcon
            role="status"
            data-testid="redeem-success"
            message={t('topups.redeemed', { amount: format.money(redeem.data.amount), balance: format.money(redeem.data.balance) })}
          />
        )}
        <ProblemAlert error={redeem.error} />
      </Space>
    </Card>
  );
}

/** Opens an order with Stripe or Epay and sends the browser to the provider's payment page. */
export function TopupForm() {
  const { t } = useTranslation();
  const format = useFormat();
  const create = useCreateTopup();
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Form<{ amount: string; provider: TopupProvider }>
        layout="vertical"
        requiredMark={false}
        initialValues={{ provider: 'stripe' }}
        onFinish={(v) => create.mutate({ amount: v.amount.trim(), provider: v.provider }, { onSuccess: (order) => window.location.assign(order.payUrl) })}
      >
        <Form.Item
          name="amount"
          label={t('topups.amount', { currency: format.currency })}
          rules={[
            { required: true, message: t('topups.amountRequired') },
            { pattern: /^\s*\d+(\.\d{1,2})?\s*$/, message: t('topups.amountInvalid') },
          ]}
          style={{ marginBottom: 12 }}
        >
          <Input inputMode="decimal" placeholder="50.00" autoComplete="off" data-testid="topup-amount" />
        </Form.Item>
        <Form.Item name="provider" label={t('topups.provider')} style={{ marginBottom: 12 }}>
          <Radio.Group options={[{ value: 'stripe', label: t('topups.providers.stripe') }, { value: 'epay', label: t('topups.providers.epay') }]} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={create.isPending} data-testid="topup-submit">
          {t('topups.pay')}
        </Button>
      </Form>
      <ProblemAlert error={create.error} />
    </Space>
  );
}

/** The customer's latest orders, each linking to its status page. */
export function RecentTopups() {
  const { t } = useTranslation();
  const format = useFormat();
  const topups = useMyTopups();
  return (
    <Card title={t('topups.recent')} data-testid="recent-topups">
      <ProblemAlert error={topups.error} />
      <List<Topup>
        size="small"
        loading={topups.isPending}
        dataSource={topups.data?.items ?? []}
        locale={{ emptyText: <EmptyState text={t('topups.none')} /> }}
        renderItem={(order) => (
          <List.Item extra={<TopupStatusTag status={order.status} />}>
            <Space direction="vertical" size={0}>
              <Link to={`/topups/${order.id}`}>
                <Typography.Text strong style={{ whiteSpace: 'nowrap' }}>{format.money(order.amount)}</Typography.Text>
              </Link>
              <Typography.Text type="secondary">
                {t(`topups.providers.${order.provider}`)} · {format.dateTime(order.createdAt)}
              </Typography.Text>
            </Space>
          </List.Item>
        )}
      />
    </Card>
  );
}
