import { App, Button, Form, Input, Modal, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { fetchSubResellers, SubReseller, SUB_RESELLERS, useCreateSubReseller, useSetSubResellerDiscount } from '@/features/reseller/sub-resellers-api';
import { StatusTag, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

const PERCENT = /^\d{1,2}(\.\d{1,2})?$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The reseller's sub-resellers: what each pays off the reseller's list, what each paid this month. */
export default function SubResellersPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<SubReseller | null>(null);
  return (
    <Page
      title={t('reseller.nav.subResellers')}
      extra={
        can('create', 'SubReseller') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="sub-reseller-create">
            {t('reseller.subResellers.create')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary">{t('reseller.subResellers.intro')}</Typography.Paragraph>
      <PagedTable<SubReseller>
        testId="sub-resellers-table"
        queryKey={[SUB_RESELLERS, 'list']}
        fetch={fetchSubResellers}
        rowKey="id"
        searchPlaceholder={t('reseller.subResellers.search')}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: <EmptyState text={t('reseller.subResellers.none')} /> }}
        columns={[
          { title: t('reseller.subResellers.name'), render: (_, s) => <span>{s.name} <Typography.Text type="secondary">({s.slug})</Typography.Text></span> },
          { title: t('reseller.subResellers.status'), render: (_, s) => <StatusTag status={s.status} /> },
          { title: t('reseller.subResellers.discount'), align: 'right', render: (_, s) => `${s.wholesaleDiscountPercent}%` },
          { title: t('reseller.subResellers.revenue'), align: 'right', render: (_, s) => fmt.money(s.revenueThisMonth) },
          {
            title: t('reseller.subResellers.actions'),
            render: (_, s) =>
              can('update', 'WholesaleDiscount') && (
                <Button size="small" onClick={() => setEditing(s)} data-testid={`sub-reseller-discount-${s.slug}`}>
                  {t('reseller.subResellers.setDiscount')}
                </Button>
              ),
          },
        ]}
      />
      <CreateSubReseller open={creating} onClose={() => setCreating(false)} />
      <SetDiscount target={editing} onClose={() => setEditing(null)} />
    </Page>
  );
}

function CreateSubReseller({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateSubReseller();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <Modal
      open={open}
      title={t('reseller.subResellers.create')}
      okText={t('reseller.subResellers.createSubmit')}
      cancelText={t('common.cancel')}
      onCancel={onClose}
      onOk={() => form.submit()}
      confirmLoading={create.isPending}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        data-testid="sub-reseller-form"
        onFinish={async (v: { slug: string; name: string; percent?: string }) => {
          await create.mutateAsync({ slug: v.slug.trim(), name: v.name.trim(), wholesaleDiscountPercent: v.percent?.trim() || undefined });
          message.success(t('reseller.subResellers.created'));
          onClose();
        }}
      >
        {create.error && <ProblemAlert error={create.error} />}
        <Form.Item name="name" label={t('reseller.subResellers.name')} rules={[{ required: true, max: 200 }]}>
          <Input maxLength={200} />
        </Form.Item>
        <Form.Item name="slug" label={t('reseller.subResellers.slug')} rules={[{ required: true, pattern: SLUG, message: t('reseller.subResellers.slugRule') }]}>
          <Input maxLength={63} />
        </Form.Item>
        <Form.Item name="percent" label={t('reseller.subResellers.discount')} extra={t('reseller.subResellers.discountHint')} rules={[{ pattern: PERCENT, message: t('reseller.subResellers.percentRule') }]}>
          <Input inputMode="decimal" suffix="%" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function SetDiscount({ target, onClose }: { target: SubReseller | null; onClose: () => void }) {
  const { t } = useTranslation();
  const set = useSetSubResellerDiscount();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <Modal
      open={Boolean(target)}
      title={t('reseller.subResellers.setDiscountOf', { name: target?.name ?? '' })}
      okText={t('reseller.subResellers.save')}
      cancelText={t('common.cancel')}
      onCancel={() => {
        set.reset();
        onClose();
      }}
      onOk={() => form.submit()}
      confirmLoading={set.isPending}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={{ percent: target?.wholesaleDiscountPercent }}
        data-testid="sub-reseller-discount-form"
        onFinish={async (v: { percent: string }) => {
          await set.mutateAsync({ tenantId: target!.id, percent: v.percent.trim() });
          message.success(t('reseller.subResellers.saved'));
          set.reset();
          onClose();
        }}
      >
        {set.error && <ProblemAlert error={set.error} />}
        <Form.Item name="percent" label={t('reseller.subResellers.discount')} extra={t('reseller.subResellers.discountHint')} rules={[{ required: true, pattern: PERCENT, message: t('reseller.subResellers.percentRule') }]}>
          <Input inputMode="decimal" suffix="%" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
