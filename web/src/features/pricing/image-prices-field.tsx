import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Flex, Form, Input, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

/** One row of an image price table as the form holds it. */
export interface ImagePriceRow {
  key: string;
  price: string;
}

const KEY = /^[A-Za-z0-9]{1,20}(\/[A-Za-z0-9_-]{1,20})?$/;
const AMOUNT = /^\d+(\.\d{1,9})?$/;

/** The API's table (`{"1024x1024/hd": "0.08"}`) as form rows, sorted by key. */
export function imagePriceRows(table: Record<string, string> | null | undefined): ImagePriceRow[] {
  return Object.entries(table ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, price]) => ({ key, price }));
}

/** Form rows back to the API's table: `null` when there is none. */
export function imagePriceTable(rows: ImagePriceRow[] | undefined): Record<string, string> | null {
  const filled = (rows ?? []).filter((r) => r?.key?.trim() && r?.price?.trim());
  return filled.length ? Object.fromEntries(filled.map((r) => [r.key.trim(), r.price.trim()])) : null;
}

/**
 * The price of one image by size and quality (`unit: image`): rows of "size/quality" (or "size"
 * for any quality) and a price; a size not listed costs the per-image price. `fixedKeys` offers the
 * keys of another table (the wholesale one) as they are, without add or remove.
 */
export function ImagePricesField({ name, currency, fixedKeys = false }: { name: string; currency: string; fixedKeys?: boolean }) {
  const { t } = useTranslation();
  return (
    <Form.Item label={t('units.imagePrices.label', { currency })} tooltip={t('units.imagePrices.hint')} style={{ marginBottom: 8 }}>
      <Form.List name={name}>
        {(fields, { add, remove }) => (
          <Flex vertical gap={8} data-testid="image-prices">
            {fields.map((field) => (
              <Flex key={field.key} gap={8} align="start" wrap>
                <Form.Item
                  name={[field.name, 'key']}
                  rules={[{ required: true, pattern: KEY, message: t('units.imagePrices.keyRule') }]}
                  style={{ flex: '1 1 150px', marginBottom: 0 }}
                >
                  <Input placeholder="1024x1024/hd" aria-label={t('units.imagePrices.key')} disabled={fixedKeys} autoComplete="off" />
                </Form.Item>
                <Form.Item
                  name={[field.name, 'price']}
                  rules={[{ required: true, pattern: AMOUNT, message: t('units.imagePrices.priceRule') }]}
                  style={{ flex: '1 1 110px', marginBottom: 0 }}
                >
                  <Input inputMode="decimal" placeholder="0.08" aria-label={t('units.imagePrices.price')} />
                </Form.Item>
                {!fixedKeys && <Button icon={<DeleteOutlined />} aria-label={t('units.imagePrices.remove')} onClick={() => remove(field.name)} />}
              </Flex>
            ))}
            {!fields.length && <Typography.Text type="secondary">{t('units.imagePrices.none')}</Typography.Text>}
            {!fixedKeys && (
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ key: '', price: '' })} style={{ alignSelf: 'flex-start' }}>
                {t('units.imagePrices.add')}
              </Button>
            )}
          </Flex>
        )}
      </Form.List>
    </Form.Item>
  );
}
