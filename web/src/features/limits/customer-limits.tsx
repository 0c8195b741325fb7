import { App, Button, Card, Flex, Form, Input, Typography } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { api, Schemas, unwrap } from '@/lib/api/client';

type LimitValue = Schemas['CustomerLimitsView']['rpm'];
type WindowField = 'rpm' | 'rph' | 'rpd' | 'tpm' | 'tph' | 'tpd';
type CustomerField = WindowField | 'concurrency';
type TenantField = WindowField | 'ipRpm';
/** The grid: a row per kind, a column per window (minute, hour, day). */
const GRID: Array<{ kind: 'requests' | 'tokens'; fields: [WindowField, WindowField, WindowField] }> = [
  { kind: 'requests', fields: ['rpm', 'rph', 'rpd'] },
  { kind: 'tokens', fields: ['tpm', 'tph', 'tpd'] },
];
const SPANS = ['minute', 'hour', 'day'] as const;
/** Hour and day windows have no default and refuse 0: empty or 0 both mean none. */
const NO_ZERO = new Set<string>(['rph', 'rpd', 'tph', 'tpd']);
const WINDOW_FIELDS: WindowField[] = ['rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd'];
const CUSTOMER_FIELDS: CustomerField[] = [...WINDOW_FIELDS, 'concurrency'];
const TENANT_FIELDS: TenantField[] = [...WINDOW_FIELDS, 'ipRpm'];
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

/**
 * The stored value of each limit, with the effective default as the placeholder: a small table of
 * requests and tokens per minute, hour and day, then the scope's other limits.
 */
function LimitsCard<F extends string>({ title, testId, fields, data, loadError, save }: LimitsCardProps<F>) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const gridded = new Set<string>(WINDOW_FIELDS);
  const rest = fields.filter((f) => !gridded.has(f));
  const placeholder = (f: F) => (data && data[f].effective !== 0 ? String(data[f].effective) : t('limits.none'));
  const rules = [{ pattern: /^\d{0,13}$/, message: t('limits.wholeNumber') }];
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
            const parse = (f: F) => {
              const raw = (v[f] ?? '').trim();
              if (raw === '' || (NO_ZERO.has(f) && Number(raw) === 0)) return null;
              return Number(raw);
            };
            await save.mutateAsync(Object.fromEntries(fields.map((f) => [f, parse(f)])) as Record<F, number | null>);
            message.success(t('limits.saved'));
          }}
        >
          <div role="table" aria-label={title} style={{ display: 'grid', gridTemplateColumns: 'max-content repeat(3, minmax(0, 1fr))', gap: '4px 8px', alignItems: 'center', marginBottom: 12 }}>
            <div role="row" style={{ display: 'contents' }}>
              <span role="columnheader" />
              {SPANS.map((span) => (
                <Typography.Text role="columnheader" key={span} type="secondary" style={{ fontSize: 12 }}>
                  {t(`limits.per.${span}`)}
                </Typography.Text>
              ))}
            </div>
            {GRID.map((row) => (
              <div role="row" key={row.kind} style={{ display: 'contents' }}>
                <Typography.Text role="rowheader">{t(`limits.kind.${row.kind}`)}</Typography.Text>
                {row.fields.map((f) => (
                  <div role="cell" key={f}>
                    <Form.Item name={f} style={{ marginBottom: 0 }} rules={rules}>
                      <Input inputMode="numeric" aria-label={t(`limits.${f}`)} data-testid={`${testId}-${f}`} placeholder={placeholder(f as unknown as F)} />
                    </Form.Item>
                  </div>
                ))}
              </div>
            ))}
          </div>
          <Flex gap={12} wrap>
            {rest.map((f) => (
              <Form.Item key={f} name={f as string} label={t(`limits.${f}`)} style={{ flex: '1 1 140px', marginBottom: 8 }} rules={rules}>
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
