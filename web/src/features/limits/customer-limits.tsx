import { App, Button, Card, Flex, Form, Input, Typography } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { api, Schemas, unwrap } from '@/lib/api/client';

type Limits = Schemas['CustomerLimitsView'];
type Field = 'rpm' | 'tpm' | 'concurrency';
const FIELDS: Field[] = ['rpm', 'tpm', 'concurrency'];
const LIMITS = '/api/v1/customers/{customerId}/limits';

/** A customer's requests and tokens per minute and requests in flight (the tenant's owner): empty = the default, 0 = none. */
export function CustomerLimitsForm({ id }: { id: string }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const limits = useQuery({ queryKey: [LIMITS, id], queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}/limits', { params: { path: { customerId: id } } })) });
  const set = useMutation({
    mutationFn: (body: Record<Field, number | null>) => unwrap(api.PUT('/api/v1/customers/{customerId}/limits', { params: { path: { customerId: id } }, body })),
    onSuccess: (data) => client.setQueryData([LIMITS, id], data),
  });
  const data: Limits | undefined = limits.data;
  return (
    <Card size="small" title={t('limits.customerTitle')} data-testid="customer-limits">
      {limits.error && <ProblemAlert error={limits.error} />}
      {set.error && <ProblemAlert error={set.error} />}
      <Typography.Paragraph type="secondary">{t('limits.hint')}</Typography.Paragraph>
      {data && (
        <Form
          layout="vertical"
          key={FIELDS.map((f) => String(data[f].stored)).join(':')}
          initialValues={Object.fromEntries(FIELDS.map((f) => [f, data[f].stored === null || data[f].stored === undefined ? '' : String(data[f].stored)]))}
          onFinish={async (v: Record<Field, string>) => {
            await set.mutateAsync(Object.fromEntries(FIELDS.map((f) => [f, v[f].trim() === '' ? null : Number(v[f])])) as Record<Field, number | null>);
            message.success(t('limits.saved'));
          }}
        >
          <Flex gap={12} wrap>
            {FIELDS.map((f) => (
              <Form.Item key={f} name={f} label={t(`limits.${f}`)} style={{ flex: '1 1 140px', marginBottom: 8 }} rules={[{ pattern: /^\d{0,10}$/, message: t('limits.wholeNumber') }]}>
                <Input inputMode="numeric" placeholder={t('limits.default', { value: data[f].effective === 0 ? t('limits.none') : String(data[f].effective) })} />
              </Form.Item>
            ))}
          </Flex>
          <Button htmlType="submit" loading={set.isPending} data-testid="customer-limits-save">
            {t('limits.save')}
          </Button>
        </Form>
      )}
    </Card>
  );
}
