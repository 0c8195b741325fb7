import { Button, Card, Descriptions, Drawer, Flex, Form, Input, Radio, Select, Skeleton, Space, Statistic, Table, Typography, App } from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { useConfirm } from '@/components/paged-table';
import { useMe } from '@/features/auth/api';
import { UsageChart } from '@/features/usage/usage-chart';
import { useFormat } from '@/hooks/use-format';
import { addDecimals } from '@/lib/money';
import {
  monthStarts,
  newReference,
  useBindCustomer,
  useBindingHistory,
  useCredit,
  useCustomer,
  useCustomerBalance,
  useCustomerStatus,
  useCustomerThreshold,
  useCustomerUsage,
  useSalespeople,
  useSetCustomerThreshold,
} from './api';
import { CustomerKeys } from './customer-keys';
import { POSITIVE_AMOUNT, StatusTag, str, useCan } from './ui';
import { CustomerLimitsForm } from '@/features/limits/customer-limits';

/** Spend this month and last, from the usage by day since the start of last month. */
export function useMonthSpend(id?: string) {
  const usage = useCustomerUsage(id);
  return useMemo(() => {
    if (!usage.data) return { ...usage, thisMonth: undefined, lastMonth: undefined };
    const { thisMonth } = monthStarts();
    let current = '0';
    let previous = '0';
    for (const group of usage.data.groups ?? []) {
      if (new Date(String(group.key)) >= thisMonth) current = addDecimals(current, group.spend);
      else previous = addDecimals(previous, group.spend);
    }
    return { ...usage, thisMonth: current, lastMonth: previous };
  }, [usage]);
}

/** One customer: balance, spend, usage chart, binding history, and what the viewer may do to them. */
export function CustomerDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const { data: me } = useMe();
  const customer = useCustomer(id);
  const balance = useCustomerBalance(id);
  const spend = useMonthSpend(id);
  const history = useBindingHistory(id, can('read', 'CustomerBinding'));
  const canBind = can('assign', 'CustomerBinding');
  const salespeople = useSalespeople(me?.tenant.id ?? '', canBind && Boolean(id));
  const bind = useBindCustomer();
  const status = useCustomerStatus();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const [sales, setSales] = useState<string>();
  useEffect(() => setSales(customer.data?.salesperson?.id ?? undefined), [customer.data?.salesperson?.id]);

  const days = useMemo(() => {
    const { lastMonth } = monthStarts();
    const out: string[] = [];
    for (let d = new Date(lastMonth); d <= new Date(); d = new Date(d.getTime() + 86_400_000)) out.push(d.toISOString().slice(0, 10));
    return out;
  }, []);
  const c = customer.data;
  const name = c ? str(c.displayName) || c.email : '';

  const rebind = async () => {
    if (!id) return;
    if (c?.salesperson && !(await confirm(t('reseller.customers.rebindConfirm', { name, from: str(c.salesperson.email) ?? '' })))) return;
    await bind.mutateAsync({ id, salesUserId: sales ?? null });
    message.success(t('common.saved'));
  };
  const unbind = async () => {
    if (!id || !(await confirm(t('reseller.customers.unbindConfirm', { name })))) return;
    await bind.mutateAsync({ id, salesUserId: null });
  };
  const toggle = async () => {
    if (!id || !c) return;
    const enable = c.status === 'disabled';
    if (!enable && !(await confirm(t('reseller.customers.disableConfirm', { name }), t('reseller.customers.disableHint')))) return;
    await status.mutateAsync({ id, enable });
  };

  return (
    <Drawer open={Boolean(id)} onClose={onClose} width={Math.min(640, window.innerWidth)} title={name || t('reseller.customers.customer')} destroyOnClose data-testid="customer-drawer">
      {customer.error && <ProblemAlert error={customer.error} />}
      {!c ? (
        <Skeleton active />
      ) : (
        <Flex vertical gap={16}>
          <Flex wrap gap={16}>
            <Card size="small" style={{ flex: '1 1 160px' }}>
              <Statistic title={t('reseller.customers.balance')} value={balance.data ? fmt.money(balance.data.balance) : '…'} data-testid="customer-balance" />
            </Card>
            <Card size="small" style={{ flex: '1 1 160px' }}>
              <Statistic title={t('reseller.customers.thisMonth')} value={spend.thisMonth ? fmt.money(spend.thisMonth) : '…'} />
            </Card>
            <Card size="small" style={{ flex: '1 1 160px' }}>
              <Statistic title={t('reseller.customers.lastMonth')} value={spend.lastMonth ? fmt.money(spend.lastMonth) : '…'} />
            </Card>
          </Flex>
          <Descriptions size="small" column={1} bordered>
            <Descriptions.Item label={t('reseller.customers.email')}>{c.email}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.customers.status')}>
              <StatusTag status={c.status} />
            </Descriptions.Item>
            <Descriptions.Item label={t('reseller.customers.salesperson')}>{str(c.salesperson?.email) ?? t('reseller.customers.unbound')}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.customers.created')}>{fmt.dateTime(c.createdAt)}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.customers.lastActive')}>{fmt.dateTime(c.lastActiveAt as string | null)}</Descriptions.Item>
          </Descriptions>

          {spend.data && (
            <section aria-label={t('reseller.customers.usage')}>
              <Typography.Title level={2} style={{ fontSize: 16 }}>
                {t('reseller.customers.usage')}
              </Typography.Title>
              <UsageChart days={days} groups={spend.data.groups ?? []} money={fmt.money} />
            </section>
          )}

          {(canBind || can('disable', 'Customer')) && (
            <Card size="small" title={t('reseller.customers.manage')}>
              <Flex vertical gap={12}>
                {bind.error && <ProblemAlert error={bind.error} />}
                {status.error && <ProblemAlert error={status.error} />}
                {canBind && (
                  <Flex gap={8} wrap>
                    <Select
                      style={{ minWidth: 240, flex: 1 }}
                      placeholder={t('reseller.customers.chooseSales')}
                      aria-label={t('reseller.customers.salesperson')}
                      value={sales}
                      onChange={setSales}
                      loading={salespeople.isLoading}
                      options={(salespeople.data ?? []).map((m) => ({ value: m.id, label: m.displayName ? `${str(m.displayName)} (${m.email})` : m.email }))}
                      data-testid="bind-select"
                    />
                    <Button type="primary" onClick={rebind} loading={bind.isPending} disabled={!sales || sales === c.salesperson?.id} data-testid="bind-save">
                      {c.salesperson ? t('reseller.customers.rebind') : t('reseller.customers.bind')}
                    </Button>
                    {c.salesperson && (
                      <Button danger onClick={unbind}>
                        {t('reseller.customers.unbind')}
                      </Button>
                    )}
                  </Flex>
                )}
                {can('disable', 'Customer') && (
                  <Space>
                    <Button danger={c.status !== 'disabled'} onClick={toggle} loading={status.isPending} data-testid="customer-toggle">
                      {c.status === 'disabled' ? t('reseller.customers.enable') : t('reseller.customers.disable')}
                    </Button>
                  </Space>
                )}
              </Flex>
            </Card>
          )}

          {can('read', 'ApiKey') && <CustomerKeys customerId={c.id} name={name} />}
          {can('create', 'Credit') && <CreditForm id={c.id} name={name} />}
          {can('update', 'Customer') && <ThresholdForm id={c.id} />}
          {can('update', 'CustomerLimits') && <CustomerLimitsForm id={c.id} />}

          {history.data && (
            <section>
              <Typography.Title level={2} style={{ fontSize: 16 }}>
                {t('reseller.customers.history')}
              </Typography.Title>
              <Table
                size="small"
                rowKey="id"
                pagination={false}
                scroll={{ x: 'max-content' }}
                dataSource={history.data}
                data-testid="binding-history"
                locale={{ emptyText: t('reseller.customers.noHistory') }}
                columns={[
                  { title: t('reseller.customers.salesperson'), render: (_, p) => str(p.salesperson.email) ?? p.salesperson.id },
                  { title: t('reseller.customers.boundAt'), render: (_, p) => fmt.dateTime(p.boundAt) },
                  { title: t('reseller.customers.unboundAt'), render: (_, p) => (p.unboundAt ? fmt.dateTime(p.unboundAt as string) : t('reseller.customers.current')) },
                ]}
              />
            </section>
          )}
        </Flex>
      )}
    </Drawer>
  );
}

function CreditForm({ id, name }: { id: string; name: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const credit = useCredit();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ direction: 'credit' | 'debit'; amount: string; note: string }>();
  const [reference, setReference] = useState(newReference);
  const submit = async (values: { direction: 'credit' | 'debit'; amount: string; note: string }) => {
    const amount = values.direction === 'debit' ? `-${values.amount}` : values.amount;
    if (values.direction === 'debit' && !(await confirm(t('reseller.credit.debitConfirm', { amount: fmt.money(values.amount), name })))) return;
    const result = await credit.mutateAsync({ id, amount, note: values.note, reference });
    message.success(t('reseller.credit.done', { balance: fmt.money(result.balance) }));
    form.resetFields();
    setReference(newReference());
  };
  return (
    <Card size="small" title={t('reseller.credit.title')}>
      <Form form={form} layout="vertical" onFinish={submit} initialValues={{ direction: 'credit' }} data-testid="credit-form">
        {credit.error && <ProblemAlert error={credit.error} />}
        <Form.Item name="direction" label={t('reseller.credit.direction')}>
          <Radio.Group
            optionType="button"
            options={[
              { value: 'credit', label: t('reseller.credit.credit') },
              { value: 'debit', label: t('reseller.credit.debit') },
            ]}
          />
        </Form.Item>
        <Form.Item
          name="amount"
          label={t('reseller.credit.amount', { currency: fmt.currency })}
          rules={[{ required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}
        >
          <Input inputMode="decimal" placeholder="10.00" />
        </Form.Item>
        <Form.Item name="note" label={t('reseller.credit.note')} rules={[{ required: true, whitespace: true, message: t('reseller.credit.noteRule') }]}>
          <Input maxLength={500} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={credit.isPending}>
          {t('reseller.credit.submit')}
        </Button>
      </Form>
    </Card>
  );
}

function ThresholdForm({ id }: { id: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const threshold = useCustomerThreshold(id);
  const set = useSetCustomerThreshold();
  const { message } = App.useApp();
  const data = threshold.data;
  return (
    <Card size="small" title={t('reseller.threshold.customerTitle')}>
      {set.error && <ProblemAlert error={set.error} />}
      <Typography.Paragraph type="secondary">
        {t('reseller.threshold.inForce', { amount: data ? fmt.money(data.effectiveThreshold) : '—' })}
      </Typography.Paragraph>
      <Form
        layout="inline"
        key={String(data?.threshold)}
        initialValues={{ threshold: data?.threshold ?? '' }}
        onFinish={async (v: { threshold: string }) => {
          await set.mutateAsync({ id, threshold: v.threshold.trim() === '' ? null : v.threshold.trim() });
          message.success(t('common.saved'));
        }}
      >
        <Form.Item name="threshold" label={t('reseller.threshold.own')} rules={[{ pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
          <Input inputMode="decimal" placeholder={t('reseller.threshold.default')} style={{ width: 160 }} />
        </Form.Item>
        <Button htmlType="submit" loading={set.isPending}>
          {t('common.save')}
        </Button>
      </Form>
    </Card>
  );
}
