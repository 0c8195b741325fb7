import { App, Button, Card, Flex, Form, Input, Modal, Statistic, Typography } from 'antd';
import { BankOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { fetchWithdrawals, newReference, useRequestWithdrawal, useWithdrawalSummary, Withdrawal, WITHDRAWALS } from '@/features/reseller/api';
import { POSITIVE_AMOUNT, StatusTag, str, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';
import { compareDecimals } from '@/lib/money';

/** Withdrawals of settled margin: what is available, the requests and their decisions. */
export default function WithdrawalsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const summary = useWithdrawalSummary();
  const [requesting, setRequesting] = useState(false);
  const s = summary.data;
  return (
    <Page
      title={t('reseller.nav.withdrawals')}
      extra={
        can('create', 'Withdrawal') && (
          <Button type="primary" icon={<BankOutlined />} onClick={() => setRequesting(true)} data-testid="withdrawal-request">
            {t('reseller.withdrawals.request')}
          </Button>
        )
      }
    >
      {summary.error && <ProblemAlert error={summary.error} />}
      <Flex wrap gap={12} data-testid="withdrawal-summary">
        {(
          [
            ['available', s?.available],
            ['pending', s?.pending],
            ['approved', s?.approved],
            ['paid', s?.paid],
          ] as const
        ).map(([key, value]) => (
          <Card size="small" key={key} style={{ flex: '1 1 150px' }}>
            <Statistic title={t(`reseller.withdrawals.${key}`)} value={value ? fmt.money(value) : '…'} />
          </Card>
        ))}
      </Flex>
      <PagedTable<Withdrawal>
        testId="withdrawals-table"
        queryKey={[WITHDRAWALS, 'list']}
        fetch={fetchWithdrawals}
        rowKey="id"
        locale={{ emptyText: <EmptyState text={t('reseller.withdrawals.none')} /> }}
        columns={[
          { title: t('reseller.withdrawals.requestedAt'), render: (_, w) => fmt.dateTime(w.requestedAt) },
          { title: t('reseller.withdrawals.amount'), align: 'right', render: (_, w) => fmt.money(w.amount) },
          { title: t('reseller.withdrawals.status'), render: (_, w) => <StatusTag status={w.status} /> },
          { title: t('reseller.withdrawals.destination'), render: (_, w) => str(w.destination) ?? '—' },
          {
            title: t('reseller.withdrawals.decision'),
            render: (_, w) =>
              w.status === 'rejected'
                ? str(w.rejectReason)
                : w.status === 'paid'
                  ? t('reseller.withdrawals.paidRef', { time: fmt.dateTime(str(w.paidAt)), reference: str(w.paymentReference) ?? '—' })
                  : w.decidedAt
                    ? fmt.dateTime(str(w.decidedAt))
                    : '—',
          },
        ]}
      />
      <RequestWithdrawal open={requesting} onClose={() => setRequesting(false)} available={s?.available} />
    </Page>
  );
}

function RequestWithdrawal({ open, onClose, available }: { open: boolean; onClose: () => void; available?: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const request = useRequestWithdrawal();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [reference, setReference] = useState(newReference);
  return (
    <Modal
      open={open}
      title={t('reseller.withdrawals.request')}
      okText={t('reseller.withdrawals.submit')}
      cancelText={t('common.cancel')}
      onCancel={onClose}
      onOk={() => form.submit()}
      confirmLoading={request.isPending}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        data-testid="withdrawal-form"
        onFinish={async (v: { amount: string; destination?: string; note?: string }) => {
          await request.mutateAsync({ amount: v.amount.trim(), destination: v.destination || undefined, note: v.note || undefined, reference });
          message.success(t('reseller.withdrawals.requested'));
          setReference(newReference());
          onClose();
        }}
      >
        {request.error && <ProblemAlert error={request.error} />}
        <Typography.Paragraph type="secondary">{t('reseller.withdrawals.availableHint', { amount: available ? fmt.money(available) : '—' })}</Typography.Paragraph>
        <Form.Item
          name="amount"
          label={t('reseller.withdrawals.amount')}
          rules={[
            { required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') },
            {
              validator: async (_, value: string) => {
                if (available && value && POSITIVE_AMOUNT.test(value) && compareDecimals(value, available) > 0) throw new Error(t('reseller.withdrawals.tooMuch'));
              },
            },
          ]}
        >
          <Input inputMode="decimal" />
        </Form.Item>
        <Form.Item name="destination" label={t('reseller.withdrawals.destination')}>
          <Input maxLength={200} placeholder={t('reseller.withdrawals.destinationHint')} />
        </Form.Item>
        <Form.Item name="note" label={t('reseller.withdrawals.note')}>
          <Input maxLength={500} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
