import { PlusOutlined } from '@ant-design/icons';
import { App, Button, Drawer, Flex, Form, Input, Modal, Select, Table, Tag, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { KEYS, Price, usePriceHistory, useSetPrice } from '@/features/platform/api';
import { ImagePriceRow, imagePriceRows, ImagePricesField, imagePriceTable } from '@/features/pricing/image-prices-field';
import { PriceUnit, unitName, unitOf, unitPrice } from '@/features/pricing/units';
import { useFormat } from '@/hooks/use-format';
import { api, unwrap } from '@/lib/api/client';

const FIELDS = ['inputPerMillion', 'outputPerMillion', 'cacheReadPerMillion', 'cacheWritePerMillion', 'perRequest'] as const;
type Field = (typeof FIELDS)[number];
const DECIMAL = /^(0|[1-9]\d{0,17})(\.\d{1,9})?$/;

/**
 * The platform's price list: what its direct customers pay and, before each reseller's discount,
 * the wholesale price every reseller pays and may not sell below.
 */
export default function PriceBookPage() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const { money, dateTime } = useFormat();
  const [editing, setEditing] = useState<{ model?: string; price?: Price['price'] }>();
  const [history, setHistory] = useState<string>();
  const show = (value: unknown) => (typeof value === 'string' ? money(value) : '—');

  return (
    <Page
      title={t('platform.nav.priceBook')}
      extra={
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing({})} data-testid="add-price">
          {t('platform.prices.add')}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('platform.prices.intro')}
      </Typography.Paragraph>
      <PagedTable<Price>
        testId="price-book"
        queryKey={[KEYS.pricing, 'book']}
        fetch={async ({ page, pageSize, search }) => {
          // The price list comes whole: page and search it here.
          const list = await client.fetchQuery({ queryKey: [KEYS.pricing], queryFn: () => unwrap(api.GET('/api/v1/pricing')), staleTime: 0 });
          const items = list.items.filter((p) => !search || p.model.toLowerCase().includes(search.toLowerCase()));
          return { items: items.slice((page - 1) * pageSize, page * pageSize), meta: { page, pageSize, total: items.length } };
        }}
        rowKey="model"
        searchPlaceholder={t('platform.prices.search')}
        columns={[
          { title: t('platform.prices.model'), key: 'model', render: (_, p) => <Typography.Text strong>{p.model}</Typography.Text> },
          {
            title: t('units.column'),
            key: 'unit',
            render: (_, p) => (
              <span data-testid="price-unit" title={p.price.imagePrices ? t('units.imageTable', { table: Object.entries(p.price.imagePrices).map(([k, v]) => `${k} ${show(v)}`).join(', ') }) : undefined}>
                {unitName(t, p.price.unit)}
                {p.price.unit !== 'token' && <Typography.Text type="secondary"> ({unitPrice(t, p.price.unit)})</Typography.Text>}
              </span>
            ),
          },
          ...FIELDS.map((field) => ({
            title: t(`platform.prices.${field}`),
            key: field,
            align: 'right' as const,
            render: (_: unknown, p: Price) => <span data-testid={`price-${field}`}>{show(p.price[field])}</span>,
          })),
          { title: t('platform.prices.since'), key: 'since', render: (_, p) => dateTime(p.effectiveFrom) },
          {
            title: t('common.actions'),
            key: 'actions',
            render: (_, p) => (
              <Flex gap={4} wrap>
                <Button size="small" onClick={() => setEditing({ model: p.model, price: p.price })} data-testid="edit-price">
                  {t('platform.common.edit')}
                </Button>
                <Button size="small" type="text" onClick={() => setHistory(p.model)}>
                  {t('platform.prices.history')}
                </Button>
                {p.hidden && <Tag>{t('platform.prices.hidden')}</Tag>}
              </Flex>
            ),
          },
        ]}
      />
      {editing && <PriceDialog model={editing.model} price={editing.price} onClose={() => setEditing(undefined)} />}
      {history && <HistoryDrawer model={history} onClose={() => setHistory(undefined)} />}
    </Page>
  );
}

function PriceDialog({ model, price, onClose }: { model?: string; price?: Price['price']; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const set = useSetPrice();
  const [form] = Form.useForm<{ model: string; unit: PriceUnit; imagePrices?: ImagePriceRow[] } & Record<Field, string | undefined>>();
  const unit = Form.useWatch('unit', form);
  const { currency } = useFormat();
  const initial = Object.fromEntries(FIELDS.map((f) => [f, typeof price?.[f] === 'string' ? price[f] : undefined]));
  return (
    <Modal
      open
      title={model ? t('platform.prices.editTitle', { model }) : t('platform.prices.add')}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('common.save')}
      cancelText={t('common.cancel')}
      confirmLoading={set.isPending}
      okButtonProps={{ 'data-testid': 'save-price' } as never}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        requiredMark="optional"
        initialValues={{ model, ...initial, unit: unitOf(price?.unit), imagePrices: imagePriceRows(price?.imagePrices) }}
        onFinish={async (values) => {
          const body = {
            ...Object.fromEntries(FIELDS.map((f) => [f, values[f]?.trim() || (f === 'inputPerMillion' || f === 'outputPerMillion' ? '0' : null)])),
            unit: values.unit,
            imagePrices: values.unit === 'image' ? imagePriceTable(values.imagePrices) : null,
          };
          try {
            await set.mutateAsync({ model: values.model.trim(), body: body as never });
            message.success(t('platform.common.saved'));
            onClose();
          } catch {
            // shown below
          }
        }}
      >
        <Typography.Paragraph type="secondary">{t('platform.prices.editHint')}</Typography.Paragraph>
        <ProblemAlert error={set.error} />
        <Form.Item name="model" label={t('platform.prices.model')} rules={[{ required: true }]}>
          <Input disabled={Boolean(model)} autoComplete="off" />
        </Form.Item>
        <Form.Item name="unit" label={t('units.column')}>
          <Select options={(['token', 'image', 'second', 'character', 'search_unit', 'request'] as const).map((u) => ({ value: u, label: `${unitName(t, u)} (${unitPrice(t, u)})` }))} />
        </Form.Item>
        <Flex gap={12} wrap>
          {FIELDS.map((field) => (
            <Form.Item
              key={field}
              name={field}
              label={t(`platform.prices.${field}`)}
              rules={[{ required: field === 'inputPerMillion' || field === 'outputPerMillion', pattern: DECIMAL, message: t('platform.prices.decimal') }]}
              style={{ flex: '1 1 160px' }}
            >
              <Input inputMode="decimal" />
            </Form.Item>
          ))}
        </Flex>
        {unit === 'image' && <ImagePricesField name="imagePrices" currency={currency} />}
      </Form>
    </Modal>
  );
}

function HistoryDrawer({ model, onClose }: { model: string; onClose: () => void }) {
  const { t } = useTranslation();
  const { money, dateTime } = useFormat();
  const history = usePriceHistory(model);
  const items = (history.data as { items?: Array<Record<string, unknown>> } | undefined)?.items ?? [];
  return (
    <Drawer open onClose={onClose} title={t('platform.prices.historyTitle', { model })} width="min(640px, 100vw)">
      <ProblemAlert error={history.error} />
      <Table
        size="small"
        rowKey={(row) => String(row.id ?? row.effectiveFrom)}
        loading={history.isLoading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        dataSource={items}
        columns={[
          { title: t('platform.prices.since'), key: 'from', render: (_, row) => dateTime(String(row.effectiveFrom)) },
          ...(['inputPerMillion', 'outputPerMillion'] as const).map((field) => ({
            title: t(`platform.prices.${field}`),
            key: field,
            align: 'right' as const,
            render: (_: unknown, row: Record<string, unknown>) => {
              const value = (row.price as Record<string, unknown> | undefined)?.[field] ?? row[field];
              return typeof value === 'string' ? money(value) : '—';
            },
          })),
        ]}
      />
    </Drawer>
  );
}
