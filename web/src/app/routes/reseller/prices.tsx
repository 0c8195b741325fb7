import { App, Button, Descriptions, Drawer, Flex, Form, Input, Space, Switch, Table, Tag, Typography } from 'antd';
import { EditOutlined, HistoryOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { FieldProblems, ProblemAlert } from '@/components/problem-alert';
import { FormModal } from '@/components/form-modal';
import { pageLocally, Price, PRICING, usePriceHistory, usePriceList, useSetPrice, useSetVisibility } from '@/features/reseller/api';
import { marginPercent, POSITIVE_AMOUNT, str, TEXT_COLOURS, useCan } from '@/features/reseller/ui';
import { ImagePriceRow, imagePriceRows, ImagePricesField, imagePriceTable } from '@/features/pricing/image-prices-field';
import { unitOf, unitPrice } from '@/features/pricing/units';
import { useFormat } from '@/hooks/use-format';

/** Input / output per million tokens, one under the other. */
function Pair({ input, output, money }: { input?: string; output?: string; money: (v: string) => string }) {
  if (input === undefined || output === undefined) return <>—</>;
  return (
    <Flex vertical style={{ whiteSpace: 'nowrap' }}>
      <span>{money(input)}</span>
      <Typography.Text type="secondary">{money(output)}</Typography.Text>
    </Flex>
  );
}

/**
 * The price book: every model with the platform's wholesale price, the reseller's retail price,
 * the margin in amount and percent; set a price (the API refuses one below wholesale, and its
 * message is shown), see its history, hide a model from customers.
 */
export default function PricesPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const list = usePriceList();
  const visibility = useSetVisibility();
  const confirm = useConfirm();
  const [editing, setEditing] = useState<Price>();
  const [history, setHistory] = useState<string>();
  const canEdit = can('update', 'Price');
  const money = (v: string) => fmt.money(v);

  const toggle = async (p: Price, hidden: boolean) => {
    if (hidden && !(await confirm(t('reseller.prices.hideConfirm', { model: p.model }), t('reseller.prices.hideHint')))) return;
    await visibility.mutateAsync({ model: p.model, hidden });
  };

  return (
    <Page title={t('reseller.nav.prices')}>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('reseller.prices.intro')}
        {list.data?.wholesaleDiscountPercent && ` ${t('reseller.prices.discount', { percent: list.data.wholesaleDiscountPercent })}`}
      </Typography.Paragraph>
      {visibility.error && <ProblemAlert error={visibility.error} />}
      <PagedTable<Price>
        testId="prices-table"
        queryKey={[PRICING, 'book', list.dataUpdatedAt]}
        fetch={async (request) => pageLocally(list.data?.items ?? (await list.refetch()).data?.items ?? [], request, (p, q) => p.model.toLowerCase().includes(q))}
        rowKey="model"
        searchPlaceholder={t('reseller.prices.search')}
        columns={[
          {
            title: t('reseller.prices.model'),
            render: (_, p) => (
              <Space direction="vertical" size={2}>
                <Typography.Text strong>{p.model}</Typography.Text>
                <Space size={4} wrap>
                  <Tag color={p.source === 'own' ? 'blue' : undefined} style={p.source === 'own' ? { color: TEXT_COLOURS.blue } : undefined}>{t(`reseller.prices.source.${p.source}`)}</Tag>
                  {p.hidden && <Tag color="gold" style={{ color: TEXT_COLOURS.gold }}>{t('reseller.prices.hidden')}</Tag>}
                  {p.belowWholesale && <Tag color="red" style={{ color: TEXT_COLOURS.red }}>{t('reseller.prices.belowWholesale')}</Tag>}
                </Space>
              </Space>
            ),
          },
          { title: t('reseller.prices.wholesale'), render: (_, p) => <Pair input={p.wholesale?.inputPerMillion} output={p.wholesale?.outputPerMillion} money={money} /> },
          { title: t('reseller.prices.retail'), render: (_, p) => <Pair input={p.price.inputPerMillion} output={p.price.outputPerMillion} money={money} /> },
          { title: t('reseller.prices.margin'), render: (_, p) => <Pair input={p.margin?.inputPerMillion} output={p.margin?.outputPerMillion} money={money} /> },
          {
            title: t('reseller.prices.marginPercent'),
            render: (_, p) =>
              p.margin ? (
                <Flex vertical style={{ whiteSpace: 'nowrap' }}>
                  <span>{marginPercent(p.margin.inputPerMillion, p.price.inputPerMillion)}</span>
                  <Typography.Text type="secondary">{marginPercent(p.margin.outputPerMillion, p.price.outputPerMillion)}</Typography.Text>
                </Flex>
              ) : (
                '—'
              ),
          },
          {
            title: t('reseller.prices.visible'),
            render: (_, p) => (
              <Switch
                size="small"
                checked={!p.hidden}
                disabled={!canEdit}
                aria-label={t('reseller.prices.visibleFor', { model: p.model })}
                onChange={(visible) => toggle(p, !visible)}
              />
            ),
          },
          {
            title: t('common.actions'),
            render: (_, p) => (
              <Space>
                {canEdit && (
                  <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(p)} data-testid={`price-edit-${p.model}`}>
                    {t('reseller.prices.edit')}
                  </Button>
                )}
                {can('read', 'PriceCost') && (
                  <Button size="small" icon={<HistoryOutlined />} onClick={() => setHistory(p.model)} aria-label={t('reseller.prices.historyOf', { model: p.model })} />
                )}
              </Space>
            ),
          },
        ]}
      />
      <Typography.Text type="secondary">{t('reseller.prices.perMillion')}</Typography.Text>
      <EditPrice price={editing} onClose={() => setEditing(undefined)} />
      <PriceHistory model={history} onClose={() => setHistory(undefined)} />
    </Page>
  );
}

type PriceForm = { inputPerMillion?: string; outputPerMillion?: string; perRequest?: string; imagePrices?: ImagePriceRow[] };

function EditPrice({ price, onClose }: { price?: Price; onClose: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const set = useSetPrice();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  // What the price counts: a reseller's price takes the platform's unit.
  const unit = unitOf(price?.wholesale?.unit ?? price?.price.unit);
  const perUnit = unit !== 'token' && unit !== 'character';
  // "imagePrices.1024x1024/hd" is one size of the image table.
  const fieldName = (field: string) =>
    field.startsWith('imagePrices.') ? `${t('units.imagePrices.price')} ${field.slice('imagePrices.'.length)}` : t(`reseller.prices.fields.${field}`, { defaultValue: field });
  return (
    <FormModal<PriceForm>
      open={Boolean(price)}
      title={t('reseller.prices.editOf', { model: price?.model })}
      form={form}
      mutation={set}
      onClose={onClose}
      initialValues={{
        inputPerMillion: price?.price.inputPerMillion,
        outputPerMillion: price?.price.outputPerMillion,
        perRequest: (price?.price.perRequest as string | null | undefined) ?? undefined,
        // The wholesale table's sizes, each at the retail price set for it (else the wholesale one).
        imagePrices: imagePriceRows({ ...(price?.wholesale?.imagePrices ?? {}), ...(price?.price.imagePrices ?? {}) }),
      }}
      testId="price-form"
      onFinish={async (v, done) => {
        // Only what the unit counts is edited; the other fields keep the price's current values.
        const current = price!.price;
        await set.mutateAsync({
          model: price!.model,
          inputPerMillion: (v.inputPerMillion ?? current.inputPerMillion).trim(),
          outputPerMillion: (v.outputPerMillion ?? current.outputPerMillion).trim(),
          ...(perUnit ? { perRequest: String(v.perRequest ?? current.perRequest ?? '0').trim() } : {}),
          ...(unit === 'image' ? { imagePrices: imagePriceTable(v.imagePrices) } : {}),
        });
        message.success(t('common.saved'));
        done();
      }}
      errorView={(error) => (
        <div data-testid="price-error" style={{ marginBottom: 16 }}>
          <FieldProblems error={error} fieldName={fieldName} />
        </div>
      )}
    >
      {price?.wholesale && (
        <Descriptions size="small" column={1} style={{ marginBottom: 12 }}>
          {perUnit ? (
            <Descriptions.Item label={`${t('reseller.prices.wholesale')} (${unitPrice(t, unit)})`}>{fmt.money(String(price.wholesale.perRequest ?? '0'))}</Descriptions.Item>
          ) : (
            <Descriptions.Item label={t('reseller.prices.wholesaleInput')}>{fmt.money(price.wholesale.inputPerMillion)}</Descriptions.Item>
          )}
          {unit === 'token' && <Descriptions.Item label={t('reseller.prices.wholesaleOutput')}>{fmt.money(price.wholesale.outputPerMillion)}</Descriptions.Item>}
          {unit === 'image' &&
            imagePriceRows(price.wholesale.imagePrices).map((r) => (
              <Descriptions.Item key={r.key} label={`${t('reseller.prices.wholesale')} ${r.key}`}>
                {fmt.money(r.price)}
              </Descriptions.Item>
            ))}
        </Descriptions>
      )}
      {perUnit ? (
        <Form.Item name="perRequest" label={`${t('reseller.prices.retail')} (${unitPrice(t, unit)}, ${fmt.currency})`} rules={[{ required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
          <Input inputMode="decimal" />
        </Form.Item>
      ) : (
        <Form.Item
          name="inputPerMillion"
          label={unit === 'character' ? `${t('reseller.prices.retail')} (${unitPrice(t, unit)}, ${fmt.currency})` : t('reseller.prices.input', { currency: fmt.currency })}
          rules={[{ required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}
        >
          <Input inputMode="decimal" />
        </Form.Item>
      )}
      {unit === 'token' && (
        <Form.Item name="outputPerMillion" label={t('reseller.prices.output', { currency: fmt.currency })} rules={[{ required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
          <Input inputMode="decimal" />
        </Form.Item>
      )}
      {unit === 'image' && imagePriceRows(price?.wholesale?.imagePrices ?? price?.price.imagePrices).length > 0 && <ImagePricesField name="imagePrices" currency={fmt.currency} fixedKeys />}
    </FormModal>
  );
}

function PriceHistory({ model, onClose }: { model?: string; onClose: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const history = usePriceHistory(model);
  return (
    <Drawer open={Boolean(model)} onClose={onClose} width={640} title={t('reseller.prices.historyOf', { model })} destroyOnClose>
      {history.error && <ProblemAlert error={history.error} />}
      <Table
        size="small"
        rowKey="id"
        loading={history.isLoading}
        dataSource={history.data ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        scroll={{ x: 'max-content' }}
        columns={[
          { title: t('reseller.prices.effectiveFrom'), render: (_, v) => fmt.dateTime(v.effectiveFrom) },
          { title: t('reseller.prices.list'), render: (_, v) => <Tag color={v.list === 'own' ? 'blue' : undefined}>{t(`reseller.prices.lists.${v.list}`)}</Tag> },
          { title: t('reseller.prices.inputOutput'), render: (_, v) => <Pair input={v.price.inputPerMillion} output={v.price.outputPerMillion} money={fmt.money} /> },
          { title: t('reseller.prices.setBy'), render: (_, v) => str(v.setByEmail) ?? '—' },
        ]}
      />
    </Drawer>
  );
}
