import { App, Button, Card, Flex, Form, Input, Typography } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { api, Schemas, unwrap } from '@/lib/api/client';

type LimitValue = Schemas['CustomerLimitsView']['rpm'];
type CustomerField = 'rpm' | 'tpm' | 'concurrency';
type TenantField = 'rpm' | 'tpm' | 'ipRpm';
const CUSTOMER_FIELDS: CustomerField[] = ['rpm', 'tpm', 'concurrency'];
const TENANT_FIELDS: TenantField[] = ['rpm', 'tpm', 'ipRpm'];
const CUSTOMER_LIMITS = '/api/v1/customers/{customerId}/limits';
const TENANT_LIMITS = '/api/v1/tenants/{tenantId}/limits';

/** A customer's requests and tokens per minute and requests in flight (the tenant's owner): empty = the default, 0 = none. */
export function CustomerLimitsForm({ id }: { id: string }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const limits = useQuery({ queryKey: [CUSTOMER_LIMITS, id], queryFn: () => unwrap(api.GET(CUSTOMER_LIMITS, { params: { path: { customerId: id } } })) });
  const set = useMutation({
    mutationFn: (body: Record<CustomerField, number | null>) => unwrap(api.PUT(CUSTOMER_LIMITS, { params: { path: { customerId: id } }, body })),
    onSuccess: (data) => client.setQueryData([CUSTOMER_LIMITS, id], data),
  });
  return <LimitsCard title={t('limits.customerTitle')} testId="customer-limits" fields={CUSTOMER_FIELDS} data={limits.data} loadError={limits.error} save={set} />;
}

/** A reseller's requests and tokens per minute across its customers and requests per minute from one client address (the platform's owner and operator). */
export function TenantLimitsForm({ id }: { id: string }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const limits = useQuery({ queryKey: [TENANT_LIMITS, id], queryFn: () => unwrap(api.GET(TENANT_LIMITS, { params: { path: { tenantId: id } } })) });
  const set = useMutation({
    mutationFn: (body: Record<TenantField, number | null>) => unwrap(api.PUT(TENANT_LIMITS, { params: { path: { tenantId: id } }, body })),
    onSuccess: (data) => client.setQueryData([TENANT_LIMITS, id], data),
  });
  return <LimitsCard title={t('limits.tenantTitle')} testId="tenant-limits" fields={TENANT_FIELDS} data={limits.data} loadError={limits.error} save={set} />;
}

interface LimitsCardProps<F extends string> {
  title: string;
  testId: string;
  fields: F[];
  data: Record<F, LimitValue> | undefined;
  loadError: unknown;
  save: { mutateAsync: (body: Record<F, number | null>) => Promise<unknown>; isPending: boolean; error: unknown };
}

/** The stored value of each limit, with the effective default as the placeholder. */
function LimitsCard<F extends string>({ title, testId, fields, data, loadError, save }: LimitsCardProps<F>) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  return (
    <Card size="small" title={title} data-testid={testId}>
      {loadError ? <ProblemAlert error={loadError} /> : null}
      {save.error ? <ProblemAlert error={save.error} /> : null}
      <Typography.Paragraph type="secondary">{t('limits.hint')}</Typography.Paragraph>
      {data && (
        <Form
          layout="vertical"
          key={fields.map((f) => String(data[f].stored)).join(':')}
          initialValues={Object.fromEntries(fields.map((f) => [f, data[f].stored === null || data[f].stored === undefined ? '' : String(data[f].stored)]))}
          onFinish={async (v: Record<F, string>) => {
            await save.mutateAsync(Object.fromEntries(fields.map((f) => [f, v[f].trim() === '' ? null : Number(v[f])])) as Record<F, number | null>);
            message.success(t('limits.saved'));
          }}
        >
          <Flex gap={12} wrap>
            {fields.map((f) => (
              <Form.Item key={f} name={f as string} label={t(`limits.${f}`)} style={{ flex: '1 1 140px', marginBottom: 8 }} rules={[{ pattern: /^\d{0,10}$/, message: t('limits.wholeNumber') }]}>
                <Input inputMode="numeric" placeholder={t('limits.default', { value: data[f].effective === 0 ? t('limits.none') : String(data[f].effective) })} />
              </Form.Item>
            ))}
          </Flex>
          <Button htmlType="submit" loading={save.isPending} data-testid={`${testId}-save`}>
            {t('limits.save')}
          </Button>
        </Form>
      )}
    </Card>
  );
}
