import { PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, ColorPicker, Flex, Form, Input, Modal, Segmented, Select, Space, Tag, Timeline, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { TenantLimitsForm } from '@/features/limits/customer-limits';
import { access } from '@/features/platform/access';
import {
  fetchResellers,
  KEYS,
  NewReseller,
  Tenant,
  useCreateReseller,
  useDiscount,
  useInviteOwner,
  usePlatformSales,
  useSetDiscount,
  useSetTenantSales,
  useTenantSales,
  useTenantStatus,
  useUpdateTenant,
} from '@/features/platform/api';
import { ToneTag } from '@/features/platform/tone-tag';
import { useFormat } from '@/hooks/use-format';
import type { Schemas } from '@/lib/api/client';

type Dialog = { kind: 'create' } | { kind: 'branding' | 'discount' | 'limits' | 'sales' | 'owner'; tenant: Tenant };

export default function ResellersPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const [status, setStatus] = useState<'all' | 'active' | 'disabled'>('all');
  const [dialog, setDialog] = useState<Dialog>();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const setStatusOf = useTenantStatus();
  const { date } = useFormat();
  if (!me) return null;
  const can = {
    create: access.createReseller(me),
    suspend: access.suspendReseller(me),
    edit: access.editReseller(me),
    discount: access.discount(me),
    limits: access.tenantLimits(me),
    sales: access.salesBinding(me),
  };

  return (
    <Page
      title={t('platform.nav.resellers')}
      extra={
        can.create && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setDialog({ kind: 'create' })} data-testid="create-reseller">
            {t('platform.resellers.create')}
          </Button>
        )
      }
    >
      <PagedTable<Tenant>
        testId="resellers"
        queryKey={[KEYS.tenants, status]}
        fetch={(request) => fetchResellers(request, status === 'all' ? undefined : status)}
        rowKey="id"
        searchPlaceholder={t('platform.resellers.search')}
        toolbar={
          <Segmented
            value={status}
            onChange={(value) => setStatus(value as typeof status)}
            options={(['all', 'active', 'disabled'] as const).map((value) => ({ value, label: t(`platform.resellers.filter.${value}`) }))}
          />
        }
        columns={[
          {
            title: t('platform.resellers.name'),
            key: 'name',
            render: (_, r) => (
              <Flex vertical gap={2}>
                <Typography.Text strong>{r.branding?.displayName || r.name}</Typography.Text>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {r.slug}
                </Typography.Text>
              </Flex>
            ),
          },
          {
            title: t('platform.resellers.domains'),
            key: 'domains',
            render: (_, r) => (
              <Flex vertical gap={2}>
                {r.domains.map((d) => (
                  <Typography.Text key={d.id} style={{ fontSize: 13 }}>
                    {d.domain}
                    {d.isPrimary && r.domains.length > 1 && <Tag style={{ marginInlineStart: 6 }}>{t('platform.resellers.primary')}</Tag>}
                  </Typography.Text>
                ))}
              </Flex>
            ),
          },
          {
            title: t('platform.resellers.status'),
            key: 'status',
            render: (_, r) => (
              <ToneTag tone={r.status === 'active' ? 'green' : 'red'} testId="reseller-status">
                {t(`platform.resellers.statusValue.${r.status}`)}
              </ToneTag>
            ),
          },
          { title: t('platform.resellers.createdAt'), key: 'created', render: (_, r) => date(r.createdAt) },
          {
            title: t('common.actions'),
            key: 'actions',
            render: (_, r) => (
              <Space wrap size={4} style={{ maxWidth: 320 }}>
                {can.edit && (
                  <Button size="small" onClick={() => setDialog({ kind: 'branding', tenant: r })}>
                    {t('platform.resellers.branding')}
                  </Button>
                )}
                {can.discount && (
                  <Button size="small" onClick={() => setDialog({ kind: 'discount', tenant: r })} data-testid="reseller-discount">
                    {t('platform.resellers.discount')}
                  </Button>
                )}
                {can.limits && (
                  <Button size="small" onClick={() => setDialog({ kind: 'limits', tenant: r })} data-testid="reseller-limits">
                    {t('limits.button')}
                  </Button>
                )}
                {can.sales && (
                  <Button size="small" onClick={() => setDialog({ kind: 'sales', tenant: r })}>
                    {t('platform.resellers.salesperson')}
                  </Button>
                )}
                {can.create && (
                  <Button size="small" onClick={() => setDialog({ kind: 'owner', tenant: r })}>
                    {t('platform.resellers.inviteOwner')}
                  </Button>
                )}
                {can.suspend &&
                  (r.status === 'active' ? (
                    <Button
                      size="small"
                      danger
                      onClick={async () => {
                        if (!(await confirm(t('platform.resellers.suspendConfirm', { name: r.name }), t('platform.resellers.suspendHint')))) return;
                        await setStatusOf.mutateAsync({ id: r.id, enable: false }).then(
                          () => message.success(t('platform.resellers.suspended')),
                          (error: Error) => message.error(error.message),
                        );
                      }}
                    >
                      {t('platform.resellers.suspend')}
                    </Button>
                  ) : (
                    <Button
                      size="small"
                      onClick={() =>
                        setStatusOf.mutateAsync({ id: r.id, enable: true }).then(
                          () => message.success(t('platform.resellers.reactivated')),
                          (error: Error) => message.error(error.message),
                        )
                      }
                    >
                      {t('platform.resellers.reactivate')}
                    </Button>
                  ))}
              </Space>
            ),
          },
        ]}
      />
      {dialog?.kind === 'create' && <CreateDialog onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'branding' && <BrandingDialog tenant={dialog.tenant} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'discount' && <DiscountDialog tenant={dialog.tenant} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'limits' && (
        <Modal open title={t('limits.dialogTitle', { name: dialog.tenant.name })} onCancel={() => setDialog(undefined)} footer={null} destroyOnClose>
          <Typography.Paragraph type="secondary">{t('limits.tenantHint')}</Typography.Paragraph>
          <TenantLimitsForm id={dialog.tenant.id} />
        </Modal>
      )}
      {dialog?.kind === 'sales' && <SalesDialog tenant={dialog.tenant} platformId={me.tenant.id} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'owner' && <OwnerDialog tenant={dialog.tenant} onClose={() => setDialog(undefined)} />}
    </Page>
  );
}

function CreateDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<NewReseller>();
  const create = useCreateReseller();
  return (
    <Modal
      open
      title={t('platform.resellers.create')}
      onCancel={onClose}
      okText={t('platform.resellers.createSubmit')}
      cancelText={t('common.cancel')}
      confirmLoading={create.isPending}
      onOk={() => form.submit()}
      okButtonProps={{ 'data-testid': 'create-reseller-submit' } as never}
      destroyOnClose
    >
      <Form<NewReseller>
        form={form}
        layout="vertical"
        requiredMark="optional"
        onFinish={async (values) => {
          try {
            await create.mutateAsync(values);
            message.success(t('platform.resellers.created', { email: values.ownerEmail }));
            onClose();
          } catch {
            // shown below
          }
        }}
      >
        <Typography.Paragraph type="secondary">{t('platform.resellers.createHint')}</Typography.Paragraph>
        {create.error && (
          <div style={{ marginBottom: 16 }}>
            <ProblemAlert error={create.error} />
          </div>
        )}
        <Form.Item name="name" label={t('platform.resellers.name')} rules={[{ required: true }]}>
          <Input />
        </Form.Item>
        <Form.Item name="slug" label={t('platform.resellers.slug')} extra={t('platform.resellers.slugHint')} rules={[{ required: true, pattern: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, message: t('platform.resellers.slugHint') }]}>
          <Input autoComplete="off" />
        </Form.Item>
        <Form.Item name="domain" label={t('platform.resellers.domain')} extra={t('platform.resellers.domainHint')} rules={[{ required: true }]}>
          <Input placeholder="api.example.com" autoComplete="off" />
        </Form.Item>
        <Flex gap={12} wrap>
          <Form.Item name="ownerEmail" label={t('platform.resellers.ownerEmail')} rules={[{ required: true, type: 'email' }]} style={{ flex: '1 1 220px' }}>
            <Input type="email" autoComplete="off" />
          </Form.Item>
          <Form.Item name="ownerName" label={t('platform.resellers.ownerName')} style={{ flex: '1 1 160px' }}>
            <Input autoComplete="off" />
          </Form.Item>
        </Flex>
      </Form>
    </Modal>
  );
}

/** Invites another owner (also the way to finish a reseller whose owner invitation failed). */
function OwnerDialog({ tenant, onClose }: { tenant: Tenant; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const invite = useInviteOwner();
  const [form] = Form.useForm<{ email: string; displayName?: string }>();
  return (
    <Modal open title={t('platform.resellers.inviteOwnerTitle', { name: tenant.name })} onCancel={onClose} onOk={() => form.submit()} confirmLoading={invite.isPending} okText={t('platform.resellers.invite')} cancelText={t('common.cancel')} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        onFinish={async (values) => {
          try {
            await invite.mutateAsync({ tenantId: tenant.id, ...values });
            message.success(t('platform.resellers.invited', { email: values.email }));
            onClose();
          } catch {
            // shown below
          }
        }}
      >
        {invite.error && (
          <div style={{ marginBottom: 16 }}>
            <ProblemAlert error={invite.error} />
          </div>
        )}
        <Form.Item name="email" label={t('platform.resellers.ownerEmail')} rules={[{ required: true, type: 'email' }]}>
          <Input type="email" />
        </Form.Item>
        <Form.Item name="displayName" label={t('platform.resellers.ownerName')}>
          <Input />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function BrandingDialog({ tenant, onClose }: { tenant: Tenant; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const update = useUpdateTenant();
  const [form] = Form.useForm<{ name: string } & Schemas['BrandingDto']>();
  return (
    <Modal open title={t('platform.resellers.brandingTitle', { name: tenant.name })} onCancel={onClose} onOk={() => form.submit()} confirmLoading={update.isPending} okText={t('common.save')} cancelText={t('common.cancel')} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        initialValues={{ name: tenant.name, ...tenant.branding }}
        onFinish={async ({ name, themeColor, ...branding }) => {
          const colour = typeof themeColor === 'string' ? themeColor : (themeColor as unknown as { toHexString?: () => string } | undefined)?.toHexString?.();
          const clean = Object.fromEntries(Object.entries({ ...branding, themeColor: colour }).filter(([, v]) => v !== undefined && v !== ''));
          try {
            await update.mutateAsync({ id: tenant.id, body: { name, branding: clean } });
            message.success(t('platform.common.saved'));
            onClose();
          } catch {
            // shown below
          }
        }}
      >
        <ProblemAlert error={update.error} />
        <Form.Item name="name" label={t('platform.resellers.name')} rules={[{ required: true }]}>
          <Input />
        </Form.Item>
        <Form.Item name="displayName" label={t('platform.resellers.displayName')}>
          <Input />
        </Form.Item>
        <Form.Item name="logoUrl" label={t('platform.resellers.logoUrl')}>
          <Input placeholder="https://" />
        </Form.Item>
        <Flex gap={12} wrap>
          <Form.Item name="themeColor" label={t('platform.resellers.themeColor')} style={{ flex: '1 1 120px' }}>
            <ColorPicker format="hex" showText disabledAlpha />
          </Form.Item>
          <Form.Item name="defaultLanguage" label={t('platform.resellers.language')} style={{ flex: '1 1 160px' }}>
            <Select options={[{ value: 'en', label: 'English' }, { value: 'zh-CN', label: '简体中文' }]} />
          </Form.Item>
        </Flex>
        <Form.Item name="supportEmail" label={t('platform.resellers.supportEmail')} rules={[{ type: 'email' }]}>
          <Input type="email" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function DiscountDialog({ tenant, onClose }: { tenant: Tenant; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const current = useDiscount(tenant.id);
  const set = useSetDiscount();
  const [form] = Form.useForm<{ percent: string }>();
  return (
    <Modal open title={t('platform.resellers.discountTitle', { name: tenant.name })} onCancel={onClose} onOk={() => form.submit()} confirmLoading={set.isPending} okText={t('common.save')} cancelText={t('common.cancel')} destroyOnClose>
      {current.data && (
        <Form
          form={form}
          layout="vertical"
          initialValues={{ percent: current.data.percent }}
          onFinish={async ({ percent }) => {
            try {
              await set.mutateAsync({ id: tenant.id, percent: percent.trim() });
              message.success(t('platform.common.saved'));
              onClose();
            } catch {
              // shown below
            }
          }}
        >
          <Typography.Paragraph type="secondary">{t('platform.resellers.discountHint')}</Typography.Paragraph>
          <ProblemAlert error={set.error} />
          <Form.Item name="percent" label={t('platform.resellers.discountPercent')} rules={[{ required: true, pattern: /^\d{1,2}(\.\d{1,2})?$/, message: t('platform.resellers.discountInvalid') }]}>
            <Input suffix="%" inputMode="decimal" style={{ maxWidth: 200 }} />
          </Form.Item>
        </Form>
      )}
      <ProblemAlert error={current.error} />
    </Modal>
  );
}

function SalesDialog({ tenant, platformId, onClose }: { tenant: Tenant; platformId: string; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { dateTime } = useFormat();
  const confirm = useConfirm();
  const binding = useTenantSales(tenant.id);
  const people = usePlatformSales(platformId);
  const set = useSetTenantSales();
  const [chosen, setChosen] = useState<string>();
  const current = binding.data?.salesperson;
  const label = (p: { email?: unknown; displayName?: unknown } | null | undefined) => (p ? String(p.displayName || p.email || '') : '—');
  return (
    <Modal open title={t('platform.resellers.salesTitle', { name: tenant.name })} onCancel={onClose} footer={null} destroyOnClose>
      <Flex vertical gap={12}>
        <ProblemAlert error={binding.error ?? people.error ?? set.error} />
        <Typography.Text>
          {t('platform.resellers.currentSales')}: <Typography.Text strong>{current ? label(current) : t('platform.resellers.noSales')}</Typography.Text>
        </Typography.Text>
        {people.data && people.data.items.length === 0 && <Alert type="info" showIcon message={t('platform.resellers.noSalespeople')} />}
        <Flex gap={8} wrap>
          <Select
            style={{ flex: '1 1 220px' }}
            aria-label={t('platform.resellers.salesperson')}
            placeholder={t('platform.resellers.chooseSales')}
            value={chosen}
            onChange={setChosen}
            options={people.data?.items.map((p) => ({ value: p.id, label: label(p) }))}
          />
          <Button
            type="primary"
            disabled={!chosen}
            loading={set.isPending}
            onClick={() => set.mutateAsync({ id: tenant.id, salesUserId: chosen! }).then(() => message.success(t('platform.common.saved')), () => undefined)}
          >
            {current ? t('platform.resellers.rebind') : t('platform.resellers.bind')}
          </Button>
          {current && (
            <Button
              danger
              onClick={async () => {
                if (await confirm(t('platform.resellers.unbindConfirm', { name: label(current) })))
                  await set.mutateAsync({ id: tenant.id, salesUserId: null }).catch(() => undefined);
              }}
            >
              {t('platform.resellers.unbind')}
            </Button>
          )}
        </Flex>
        {binding.data && binding.data.history.length > 0 && (
          <>
            <Typography.Title level={2} style={{ fontSize: 15, margin: 0 }}>
              {t('platform.resellers.history')}
            </Typography.Title>
            <Timeline
              items={binding.data.history.map((h) => ({
                key: h.id,
                children: `${label(h.salesperson)} · ${dateTime(h.boundAt)} – ${h.unboundAt ? dateTime(String(h.unboundAt)) : t('platform.resellers.now')}`,
              }))}
            />
          </>
        )}
      </Flex>
    </Modal>
  );
}
