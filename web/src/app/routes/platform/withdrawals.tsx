import { App, Button, Flex, Form, Input, Modal, Segmented, Select, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { fetchWithdrawals, KEYS, useDecideWithdrawal, useResellerOptions, Withdrawal } from '@/features/platform/api';
import { Tone, ToneTag } from '@/features/platform/tone-tag';
import { useFormat } from '@/hooks/use-format';

type Status = Withdrawal['status'];
const COLOURS: Record<Status, Tone> = { requested: 'gold', approved: 'blue', rejected: 'red', paid: 'green' };

/** Resellers' withdrawals of settled margin: approve, reject, mark paid (platform owner and finance). */
export default function WithdrawalsPage() {
  const { t } = useTranslation();
  const { money, dateTime } = useFormat();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const [status, setStatus] = useState<Status | 'all'>('requested');
  const [tenantId, setTenantId] = useState<string>();
  const [dialog, setDialog] = useState<{ action: 'reject' | 'pay'; withdrawal: Withdrawal }>();
  const resellers = useResellerOptions();
  const decide = useDecideWithdrawal();
  const names = new Map(resellers.data?.items.map((r) => [r.id, r.branding?.displayName || r.name]));

  return (
    <Page title={t('platform.nav.withdrawals')}>
      <PagedTable<Withdrawal>
        testId="withdrawals"
        queryKey={[KEYS.withdrawals, status, tenantId]}
        fetch={(request) => fetchWithdrawals(request, { status: status === 'all' ? undefined : status, tenantId })}
        rowKey="id"
        toolbar={
          <Flex gap={8} wrap style={{ width: '100%' }} justify="space-between">
            <Segmented
              value={status}
              onChange={(value) => setStatus(value as Status | 'all')}
              options={(['requested', 'approved', 'paid', 'rejected', 'all'] as const).map((value) => ({ value, label: t(`platform.withdrawals.filter.${value}`) }))}
            />
            <Select
              allowClear
              showSearch
              optionFilterProp="label"
              style={{ minWidth: 220 }}
              aria-label={t('platform.common.reseller')}
              placeholder={t('platform.common.allResellers')}
              value={tenantId}
              onChange={setTenantId}
              options={resellers.data?.items.map((r) => ({ value: r.id, label: r.branding?.displayName || r.name }))}
            />
          </Flex>
        }
        columns={[
          { title: t('platform.common.reseller'), key: 'tenant', render: (_, w) => names.get(w.tenantId) ?? w.tenantId.slice(0, 8) },
          { title: t('platform.withdrawals.amount'), key: 'amount', align: 'right', render: (_, w) => <Typography.Text strong data-testid="withdrawal-amount">{money(w.amount)}</Typography.Text> },
          {
            title: t('platform.withdrawals.status'),
            key: 'status',
            render: (_, w) => (
              <Flex vertical gap={2}>
                <span>
                  <ToneTag tone={COLOURS[w.status]} testId="withdrawal-status">
                    {t(`platform.withdrawals.filter.${w.status}`)}
                  </ToneTag>
                </span>
                {w.rejectReason && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{w.rejectReason}</Typography.Text>}
                {w.paymentReference && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('platform.withdrawals.reference')}: {w.paymentReference}</Typography.Text>}
              </Flex>
            ),
          },
          { title: t('platform.withdrawals.destination'), key: 'destination', render: (_, w) => w.destination || '—' },
          { title: t('platform.withdrawals.requestedAt'), key: 'requested', render: (_, w) => dateTime(w.requestedAt) },
          {
            title: t('common.actions'),
            key: 'actions',
            render: (_, w) => (
              <Space size={4} wrap>
                {w.status === 'requested' && (
                  <>
                    <Button
                      size="small"
                      type="primary"
                      data-testid="approve-withdrawal"
                      onClick={async () => {
                        if (!(await confirm(t('platform.withdrawals.approveConfirm', { amount: money(w.amount), name: names.get(w.tenantId) ?? '' })))) return;
                        await decide.mutateAsync({ id: w.id, action: 'approve' }).then(() => message.success(t('platform.withdrawals.approved')), (e: Error) => message.error(e.message));
                      }}
                    >
                      {t('platform.withdrawals.approve')}
                    </Button>
                    <Button size="small" danger onClick={() => setDialog({ action: 'reject', withdrawal: w })} data-testid="reject-withdrawal">
                      {t('platform.withdrawals.reject')}
                    </Button>
                  </>
                )}
                {w.status === 'approved' && (
                  <Button size="small" type="primary" onClick={() => setDialog({ action: 'pay', withdrawal: w })} data-testid="pay-withdrawal">
                    {t('platform.withdrawals.markPaid')}
                  </Button>
                )}
              </Space>
            ),
          },
        ]}
      />
      {dialog && <DecisionDialog {...dialog} onClose={() => setDialog(undefined)} />}
    </Page>
  );
}

function DecisionDialog({ action, withdrawal, onClose }: { action: 'reject' | 'pay'; withdrawal: Withdrawal; onClose: () => void }) {
  const { t } = useTranslation();
  const { money } = useFormat();
  const { message } = App.useApp();
  const decide = useDecideWithdrawal();
  const [form] = Form.useForm<{ text: string }>();
  return (
    <Modal
      open
      title={t(action === 'pay' ? 'platform.withdrawals.payTitle' : 'platform.withdrawals.rejectTitle', { amount: money(withdrawal.amount) })}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t(action === 'pay' ? 'platform.withdrawals.markPaid' : 'platform.withdrawals.reject')}
      okButtonProps={{ danger: action === 'reject', 'data-testid': 'decide-submit' } as never}
      cancelText={t('common.cancel')}
      confirmLoading={decide.isPending}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        onFinish={async ({ text }) => {
          try {
            if (action === 'pay') await decide.mutateAsync({ id: withdrawal.id, action, paymentReference: text.trim() });
            else await decide.mutateAsync({ id: withdrawal.id, action, reason: text.trim() });
            message.success(t(action === 'pay' ? 'platform.withdrawals.paid' : 'platform.withdrawals.rejected'));
            onClose();
          } catch {
            // shown below
          }
        }}
      >
        <Typography.Paragraph type="secondary">{t(action === 'pay' ? 'platform.withdrawals.payHint' : 'platform.withdrawals.rejectHint')}</Typography.Paragraph>
        <ProblemAlert error={decide.error} />
        <Form.Item name="text" label={t(action === 'pay' ? 'platform.withdrawals.paymentReference' : 'platform.withdrawals.reason')} rules={[{ required: true, whitespace: true }]}>
          <Input autoComplete="off" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
