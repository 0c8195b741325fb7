import { DownloadOutlined } from '@ant-design/icons';
import { App, Badge, Button, Card, DatePicker, Descriptions, Drawer, Flex, Input, Select, Table, Tag, Typography } from 'antd';
import dayjs, { Dayjs } from 'dayjs';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { ScrollRegion } from '@/components/scroll-region';
import { useMe } from '@/features/auth/api';
import { useKeys } from '@/features/keys/api';
import { REQUEST_STATUSES, RequestFilter, RequestRecord, RequestScope, RequestStatus, requestsCsv, useRequestContent, useRequests } from '@/features/requests/api';
import { billedQuantity, unitQuantity } from '@/features/pricing/units';
import { useFormat } from '@/hooks/use-format';
import { useSite } from '@/hooks/use-site';
import { saveBlob } from '@/lib/download';

// A coloured dot beside text in the normal colour: coloured text on a tint misses the contrast ratio.
const STATUS_BADGE: Record<string, 'success' | 'default' | 'error' | 'warning'> = { ok: 'success', client_cancelled: 'default', upstream_error: 'error', timeout: 'warning', error: 'error' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Requests one by one: a customer's own, or (for staff) those of their usage scope, through the
 * same api route and scoping. Filters, a cursor-paged list, a detail drawer (with the stored
 * prompt and completion where content logging is on and the viewer may read it) and CSV.
 * With `scope="platform"`: every tenant's requests for platform monitoring (owner, tech), by
 * tenant, without CSV and without key filter (the keys are the resellers' customers').
 */
export default function RequestsPage({ scope = 'own' }: { scope?: RequestScope }) {
  const platform = scope === 'platform';
  const { t } = useTranslation();
  const { message } = App.useApp();
  const format = useFormat();
  const { data: site } = useSite();
  const { data: me } = useMe();
  // Staff see whose request it was and may narrow to one customer; a customer sees only their own.
  const isCustomer = !me || me.roles.every((r) => r === 'user');
  const keys = useKeys(1, 100, !platform);
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(6, 'day').startOf('day'), dayjs().endOf('day')]);
  const [status, setStatus] = useState<RequestStatus>();
  const [model, setModel] = useState<string>();
  const [keyId, setKeyId] = useState<string>();
  const [requestId, setRequestId] = useState<string>();
  const [customerId, setCustomerId] = useState<string>();
  const [tenant, setTenant] = useState<{ id: string; slug: string }>();
  const [open, setOpen] = useState<RequestRecord>();
  const filter: RequestFilter = {
    from: range[0].startOf('day').toISOString(),
    to: range[1].add(1, 'day').startOf('day').toISOString(),
    ...(status ? { status } : {}),
    ...(model ? { model } : {}),
    ...(keyId ? { keyId } : {}),
    ...(requestId ? { requestId } : {}),
    ...(customerId ? { customerId } : {}),
    ...(tenant ? { tenantId: tenant.id } : {}),
  };
  const requests = useRequests(filter, scope);
  const items = requests.data?.pages.flatMap((p) => p.items) ?? [];
  const mayReadContent = Boolean(me?.ability.can('read', 'RequestContent'));
  const content = useRequestContent(open?.id, mayReadContent);

  const download = async () => {
    try {
      saveBlob(`requests-${range[0].format('YYYYMMDD')}-${range[1].format('YYYYMMDD')}.csv`, await requestsCsv(filter));
    } catch {
      void message.error(t('common.failed'));
    }
  };
  /** Whose request: the customer's e-mail (own tenant), or the tenant's slug (another tenant's, platform views). */
  const whose = (r: RequestRecord) => {
    if (r.customerEmail) return <span style={{ overflowWrap: 'anywhere' }}>{r.customerName ? `${r.customerName} (${r.customerEmail})` : r.customerEmail}</span>;
    if (r.tenantSlug) {
      return platform ? (
        <Button type="link" size="small" style={{ padding: 0, height: 'auto' }} onClick={() => setTenant({ id: r.tenantId, slug: r.tenantSlug! })} data-testid="request-tenant">
          {r.tenantSlug}
        </Button>
      ) : (
        <Typography.Text>{r.tenantSlug}</Typography.Text>
      );
    }
    return <Typography.Text code>{r.customerId.slice(-12)}</Typography.Text>;
  };
  const statusTag = (s: string) => (
    <Badge status={STATUS_BADGE[s] ?? 'default'} text={t(`requests.status.${s}`, { defaultValue: s })} style={{ whiteSpace: 'nowrap' }} />
  );

  return (
    <Page
      title={platform ? t('requests.platformTitle') : t('requests.title')}
      extra={
        !platform && (
          <Button icon={<DownloadOutlined />} onClick={() => void download()} data-testid="requests-csv">
            {t('requests.downloadCsv')}
          </Button>
        )
      }
    >
      <Card>
        <Flex gap={12} wrap align="center">
          <DatePicker.RangePicker
            value={range}
            allowClear={false}
            onChange={(value) => value?.[0] && value[1] && setRange([value[0], value[1]])}
            disabledDate={(d) => d.isAfter(dayjs(), 'day')}
            aria-label={t('requests.range')}
          />
          <Select
            allowClear
            placeholder={t('requests.allStatuses')}
            aria-label={t('requests.statusLabel')}
            value={status}
            onChange={setStatus}
            style={{ minWidth: 160 }}
            options={REQUEST_STATUSES.map((s) => ({ value: s, label: t(`requests.status.${s}`) }))}
            data-testid="requests-status"
          />
          <Select
            allowClear
            showSearch
            placeholder={t('requests.allModels')}
            aria-label={t('requests.model')}
            value={model}
            onChange={setModel}
            style={{ minWidth: 180 }}
            options={site?.models.map((m) => ({ value: m.model, label: m.model }))}
          />
          {platform && tenant && (
            <Tag closable onClose={() => setTenant(undefined)} data-testid="requests-tenant-filter">
              {t('requests.tenantFilter', { slug: tenant.slug })}
            </Tag>
          )}
          {!platform && (
            <Select
              allowClear
              placeholder={t('requests.allKeys')}
              aria-label={t('requests.key')}
              value={keyId}
              onChange={setKeyId}
              style={{ minWidth: 180 }}
              options={keys.data?.items.map((k) => ({ value: k.id, label: `${k.name} (${k.prefix}…)` }))}
            />
          )}
          {!isCustomer && (
            <Input.Search
              allowClear
              placeholder={t('requests.customerId')}
              aria-label={t('requests.customerId')}
              style={{ width: 300 }}
              onSearch={(v) => setCustomerId(UUID.test(v.trim()) ? v.trim() : undefined)}
            />
          )}
          <Input.Search
            allowClear
            placeholder={t('requests.requestId')}
            aria-label={t('requests.requestId')}
            style={{ width: 260 }}
            onSearch={(v) => setRequestId(v.trim() || undefined)}
            data-testid="requests-request-id"
          />
        </Flex>
      </Card>
      <ProblemAlert error={requests.error} />
      <Card>
        <ScrollRegion label={t('requests.title')}>
          <Table<RequestRecord>
            data-testid="requests-table"
            rowKey="id"
            size="middle"
            loading={requests.isPending}
            dataSource={items}
            pagination={false}
            locale={{ emptyText: <EmptyState text={t('requests.empty')} /> }}
            columns={[
              {
                title: t('requests.time'),
                key: 'time',
                render: (_, r) => (
                  <Button type="link" style={{ padding: 0, whiteSpace: 'normal', textAlign: 'left', height: 'auto' }} onClick={() => setOpen(r)} data-testid="request-open">
                    {format.dateTime(r.createdAt as unknown as string)}
                  </Button>
                ),
              },
              { title: t('requests.model'), dataIndex: 'model', responsive: ['sm'] },
              { title: t('requests.statusLabel'), key: 'status', render: (_, r) => statusTag(r.status) },
              { title: t('requests.tokens'), key: 'tokens', responsive: ['md'], align: 'right', render: (_, r) => `${format.number(r.inputTokens)} / ${format.number(r.outputTokens)}` },
              { title: t('units.billed'), key: 'billed', responsive: ['md'], align: 'right', render: (_, r) => <span data-testid="request-billed">{unitQuantity(t, r.unit, billedQuantity(r), format.number)}</span> },
              { title: t('requests.latency'), key: 'latency', responsive: ['lg'], align: 'right', render: (_, r) => t('requests.ms', { value: format.number(r.latencyMs) }) },
              ...(!isCustomer ? [{ title: platform ? t('requests.tenantOrCustomer') : t('requests.customer'), key: 'customer', responsive: ['md' as const], render: (_: unknown, r: RequestRecord) => whose(r) }] : []),
              { title: t('requests.spend'), key: 'spend', align: 'right', render: (_, r) => (r.spend ? <span data-testid="request-spend" style={{ whiteSpace: 'nowrap' }}>{format.money(r.spend)}</span> : '—') },
            ]}
          />
        </ScrollRegion>
        {requests.hasNextPage && (
          <Flex justify="center" style={{ marginTop: 16 }}>
            <Button onClick={() => void requests.fetchNextPage()} loading={requests.isFetchingNextPage} data-testid="requests-more">
              {t('requests.more')}
            </Button>
          </Flex>
        )}
      </Card>
      <Drawer open={Boolean(open)} onClose={() => setOpen(undefined)} title={t('requests.detail')} width={Math.min(560, window.innerWidth)} destroyOnClose>
        {open && (
          <Flex vertical gap={16} data-testid="request-detail">
            <Descriptions column={1} size="small" bordered>
              <Descriptions.Item label={t('requests.time')}>{format.dateTime(open.createdAt as unknown as string)}</Descriptions.Item>
              <Descriptions.Item label={t('requests.requestId')}>
                <Typography.Text copyable>{open.requestId}</Typography.Text>
              </Descriptions.Item>
              <Descriptions.Item label={t('requests.statusLabel')}>{statusTag(open.status)}</Descriptions.Item>
              {open.errorMessage && (
                <Descriptions.Item label={t('requests.error')}>
                  {open.errorMessage} {open.errorCode && <Typography.Text code>{open.errorCode}</Typography.Text>}
                </Descriptions.Item>
              )}
              <Descriptions.Item label={t('requests.model')}>
                {open.model}
                {open.upstreamModel && open.upstreamModel !== open.model ? ` → ${open.upstreamModel}` : ''}
              </Descriptions.Item>
              {open.channel && <Descriptions.Item label={t('requests.channel')}>{String(open.channel.name ?? open.channel.id)}</Descriptions.Item>}
              <Descriptions.Item label={t('requests.key')}>{open.keyName ? `${open.keyName} (${open.keyPrefix}…)` : '—'}</Descriptions.Item>
              {!isCustomer && open.tenantSlug && <Descriptions.Item label={t('requests.tenant')}>{open.tenantSlug}</Descriptions.Item>}
              {!isCustomer && (
                <Descriptions.Item label={t('requests.customer')}>
                  <Flex vertical>
                    {open.customerEmail && <span>{open.customerName ? `${open.customerName} (${open.customerEmail})` : open.customerEmail}</span>}
                    <Typography.Text type="secondary" copyable style={{ fontSize: 12 }}>
                      {open.customerId}
                    </Typography.Text>
                  </Flex>
                </Descriptions.Item>
              )}
              <Descriptions.Item label={t('requests.inputTokens')}>{format.number(open.inputTokens)}</Descriptions.Item>
              <Descriptions.Item label={t('requests.outputTokens')}>{format.number(open.outputTokens)}</Descriptions.Item>
              <Descriptions.Item label={t('requests.cachedTokens')}>
                {t('requests.cached', { read: format.number(open.cacheReadTokens), write: format.number(open.cacheWriteTokens) })}
              </Descriptions.Item>
              {open.spend && <Descriptions.Item label={t('requests.spend')}>{format.money(open.spend)}</Descriptions.Item>}
              {open.wholesaleCost && <Descriptions.Item label={t('requests.wholesaleCost')}>{format.money(open.wholesaleCost)}</Descriptions.Item>}
              {open.upstreamCost && <Descriptions.Item label={t('requests.upstreamCost')}>{format.money(open.upstreamCost)}</Descriptions.Item>}
              <Descriptions.Item label={t('requests.latency')}>{t('requests.ms', { value: format.number(open.latencyMs) })}</Descriptions.Item>
              <Descriptions.Item label={t('requests.ttft')}>{open.ttftMs === null || open.ttftMs === undefined ? '—' : t('requests.ms', { value: format.number(Number(open.ttftMs)) })}</Descriptions.Item>
              <Descriptions.Item label={t('requests.stream')}>{open.stream ? t('requests.yes') : t('requests.no')}</Descriptions.Item>
              {open.clientIp && <Descriptions.Item label={t('requests.clientIp')}>{open.clientIp}</Descriptions.Item>}
            </Descriptions>
            {mayReadContent && (
              <Card size="small" title={t('requests.content')} loading={content.isPending}>
                {content.data ? (
                  <Flex vertical gap={8}>
                    <Typography.Text strong>{t('requests.prompt')}</Typography.Text>
                    <pre style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word', margin: 0, maxHeight: 240, overflow: 'auto' }} tabIndex={0}>
                      {content.data.prompt}
                    </pre>
                    <Typography.Text strong>{t('requests.completion')}</Typography.Text>
                    <pre style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word', margin: 0, maxHeight: 240, overflow: 'auto' }} tabIndex={0}>
                      {content.data.completion ?? '—'}
                    </pre>
                  </Flex>
                ) : (
                  <Typography.Text type="secondary">{t('requests.noContent')}</Typography.Text>
                )}
              </Card>
            )}
          </Flex>
        )}
      </Drawer>
    </Page>
  );
}
