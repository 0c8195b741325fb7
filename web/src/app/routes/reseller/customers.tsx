import { App, Button, Flex, Form, Grid, Input, Modal, Select, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { CUSTOMERS, Customer, fetchCustomers, useBulkBind, useCreateCustomer, useCustomerBalance, useSalespeople } from '@/features/reseller/api';
import { CustomerDrawer, useMonthSpend } from '@/features/reseller/customer-drawer';
import { StatusTag, str, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';
import { salesOnly as isSalesOnly } from '../../areas/reseller';

function BalanceCell({ id }: { id: string }) {
  const fmt = useFormat();
  const balance = useCustomerBalance(id);
  return <>{balance.data ? fmt.money(balance.data.balance) : balance.error ? '—' : '…'}</>;
}

function SpendCell({ id, which }: { id: string; which: 'thisMonth' | 'lastMonth' }) {
  const fmt = useFormat();
  const spend = useMonthSpend(id);
  return <>{spend[which] ? fmt.money(spend[which]) : spend.error ? '—' : '…'}</>;
}

/**
 * Customers: the owner's and operator's whole list (create, bind, disable, credit), finance's
 * read-only one (credits), a salesperson's own ("my customers"). The rows and buttons follow the
 * viewer's abilities; the API filters the list itself.
 */
export default function CustomersPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const can = useCan();
  const [open, setOpen] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [status, setStatus] = useState<Customer['status']>();
  const [selected, setSelected] = useState<string[]>([]);
  const [bulk, setBulk] = useState(false);
  const canBind = can('assign', 'CustomerBinding');
  const salesOnly = Boolean(me && isSalesOnly(me));
  // On a phone the list is one column: who, their status and balance; the rest is in the drawer.
  const phone = !Grid.useBreakpoint().md;

  return (
    <Page
      title={salesOnly ? t('reseller.nav.myCustomers') : t('reseller.nav.customers')}
      extra={
        can('create', 'Customer') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="customer-create">
            {t('reseller.customers.create')}
          </Button>
        )
      }
    >
      <PagedTable<Customer>
        testId="customers-table"
        queryKey={[CUSTOMERS, { status }]}
        fetch={(request) => fetchCustomers({ ...request, status })}
        rowKey="id"
        searchPlaceholder={t('reseller.customers.search')}
        toolbar={
          <Flex gap={8} wrap>
            {canBind && selected.length > 0 && (
              <Button onClick={() => setBulk(true)} data-testid="bulk-bind">
                {t('reseller.customers.bulkBind', { count: selected.length })}
              </Button>
            )}
            <Select
              allowClear
              style={{ width: 160 }}
              placeholder={t('reseller.customers.anyStatus')}
              aria-label={t('reseller.customers.status')}
              value={status}
              onChange={setStatus}
              options={(['active', 'invited', 'disabled'] as const).map((s) => ({ value: s, label: t(`reseller.status.${s}`) }))}
            />
          </Flex>
        }
        rowSelection={
          canBind
            ? { selectedRowKeys: selected, onChange: (keys) => setSelected(keys as string[]), getCheckboxProps: (c) => ({ 'aria-label': t('reseller.customers.select', { email: c.email }) }) as never }
            : undefined
        }
        onRow={(row) => ({ onClick: (event) => (event.target as HTMLElement).closest('button, .ant-checkbox-wrapper, .ant-table-selection-column') || setOpen(row.id) })}
        columns={[
          {
            title: t('reseller.customers.customer'),
            // Long e-mails end in an ellipsis (the whole address is in the tooltip and the drawer)
            // rather than breaking a letter per line in a narrow column.
            render: (_, c) => (
              <Flex vertical style={{ maxWidth: phone ? 'calc(100vw - 120px)' : 280, minWidth: 0 }}>
                <Typography.Link onClick={() => setOpen(c.id)} ellipsis style={{ maxWidth: '100%' }}>
                  {str(c.displayName) ?? c.email}
                </Typography.Link>
                {str(c.displayName) && (
                  <Typography.Text type="secondary" ellipsis={{ tooltip: c.email }} style={{ fontSize: 12, maxWidth: '100%' }}>
                    {c.email}
                  </Typography.Text>
                )}
                {phone && (
                  <Flex gap={8} align="center" wrap style={{ marginTop: 4 }}>
                    <StatusTag status={c.status} />
                    <Typography.Text style={{ whiteSpace: 'nowrap' }}>
                      <BalanceCell id={c.id} />
                    </Typography.Text>
                  </Flex>
                )}
              </Flex>
            ),
          },
          ...(phone
            ? []
            : [
                { title: t('reseller.customers.status'), dataIndex: 'status', render: (s: string) => <StatusTag status={s} /> },
                ...(salesOnly
                  ? []
                  : [
                      {
                        title: t('reseller.customers.salesperson'),
                        render: (_: unknown, c: Customer) =>
                          str(c.salesperson?.email) ? (
                            <Typography.Text ellipsis={{ tooltip: str(c.salesperson?.email) }} style={{ maxWidth: 220 }}>
                              {str(c.salesperson?.email)}
                            </Typography.Text>
                          ) : (
                            <Typography.Text type="secondary">{t('reseller.customers.unbound')}</Typography.Text>
                          ),
                      },
                    ]),
                { title: t('reseller.customers.balance'), align: 'right' as const, render: (_: unknown, c: Customer) => <span style={{ whiteSpace: 'nowrap' }}><BalanceCell id={c.id} /></span> },
                { title: t('reseller.customers.thisMonth'), align: 'right' as const, render: (_: unknown, c: Customer) => <span style={{ whiteSpace: 'nowrap' }}><SpendCell id={c.id} which="thisMonth" /></span> },
                { title: t('reseller.customers.lastMonth'), align: 'right' as const, render: (_: unknown, c: Customer) => <span style={{ whiteSpace: 'nowrap' }}><SpendCell id={c.id} which="lastMonth" /></span> },
              ]),
        ]}
      />
      <CustomerDrawer id={open} onClose={() => setOpen(undefined)} />
      <CreateCustomer open={creating} onClose={() => setCreating(false)} onCreated={setOpen} canBind={canBind} tenantId={me?.tenant.id ?? ''} />
      <BulkBind ids={selected} open={bulk} onClose={() => setBulk(false)} onDone={() => setSelected([])} tenantId={me?.tenant.id ?? ''} />
    </Page>
  );
}

function SalesSelect({ tenantId, value, onChange }: { tenantId: string; value?: string; onChange?: (v: string) => void }) {
  const { t } = useTranslation();
  const salespeople = useSalespeople(tenantId, true);
  return (
    <Select
      allowClear
      value={value}
      onChange={onChange}
      placeholder={t('reseller.customers.chooseSales')}
      loading={salespeople.isLoading}
      options={(salespeople.data ?? []).map((m) => ({ value: m.id, label: m.email }))}
    />
  );
}

function CreateCustomer({ open, onClose, onCreated, canBind, tenantId }: { open: boolean; onClose: () => void; onCreated: (id: string) => void; canBind: boolean; tenantId: string }) {
  const { t } = useTranslation();
  const create = useCreateCustomer();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <Modal
      open={open}
      title={t('reseller.customers.create')}
      okText={t('reseller.customers.invite')}
      cancelText={t('common.cancel')}
      onCancel={onClose}
      confirmLoading={create.isPending}
      onOk={() => form.submit()}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        onFinish={async (v: { email: string; displayName?: string; salesUserId?: string }) => {
          const created = await create.mutateAsync({ email: v.email, displayName: v.displayName || undefined, salesUserId: v.salesUserId || undefined });
          message.success(t('reseller.customers.invited', { email: created.email }));
          onClose();
          onCreated(created.id);
        }}
        data-testid="customer-form"
      >
        {create.error && <ProblemAlert error={create.error} />}
        <Typography.Paragraph type="secondary">{t('reseller.customers.inviteHint')}</Typography.Paragraph>
        <Form.Item name="email" label={t('reseller.customers.email')} rules={[{ required: true, type: 'email', message: t('reseller.emailRule') }]}>
          <Input type="email" autoComplete="off" />
        </Form.Item>
        <Form.Item name="displayName" label={t('reseller.customers.name')}>
          <Input maxLength={200} />
        </Form.Item>
        {canBind && (
          <Form.Item name="salesUserId" label={t('reseller.customers.salesperson')}>
            <SalesSelect tenantId={tenantId} />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}

function BulkBind({ ids, open, onClose, onDone, tenantId }: { ids: string[]; open: boolean; onClose: () => void; onDone: () => void; tenantId: string }) {
  const { t } = useTranslation();
  const bulk = useBulkBind();
  const { message } = App.useApp();
  const [sales, setSales] = useState<string>();
  return (
    <Modal
      open={open}
      title={t('reseller.customers.bulkBind', { count: ids.length })}
      okText={t('reseller.customers.bind')}
      cancelText={t('common.cancel')}
      okButtonProps={{ disabled: !sales }}
      confirmLoading={bulk.isPending}
      onCancel={onClose}
      onOk={async () => {
        const result = await bulk.mutateAsync(ids.map((customerId) => ({ customerId, salesUserId: sales! })));
        message.info(t('reseller.customers.bulkResult', { ok: result.ok, failed: result.failed }));
        onDone();
        onClose();
      }}
    >
      {bulk.error && <ProblemAlert error={bulk.error} />}
      <SalesSelect tenantId={tenantId} value={sales} onChange={setSales} />
    </Modal>
  );
}
