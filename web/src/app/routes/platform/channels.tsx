import { MoreOutlined, PlusOutlined } from '@ant-design/icons';
import { App, Button, Descriptions, Drawer, Dropdown, Flex, Form, Input, InputNumber, Modal, Segmented, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { access } from '@/features/platform/access';
import {
  Channel,
  ChannelInput,
  fetchChannels,
  KEYS,
  useChannelPresets,
  useChannelStatus,
  useCreateChannel,
  useRefreshBalance,
  useDeleteChannel,
  useTestChannel,
  useUpdateChannel,
} from '@/features/platform/api';
import { ToneTag } from '@/features/platform/tone-tag';
import { useFormat } from '@/hooks/use-format';

const PROVIDERS = ['openai', 'openai-responses', 'anthropic', 'gemini', 'azure', 'bedrock', 'vertex'] as const;
const STATUS_FILTERS = ['all', 'enabled', 'disabled', 'auto_disabled', 'quota_exhausted'] as const;
type StatusFilter = (typeof STATUS_FILTERS)[number];

export default function ChannelsPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const manage = me ? access.manageChannels(me) : false;
  const [status, setStatus] = useState<StatusFilter>('all');
  const [provider, setProvider] = useState<string>();
  const [editing, setEditing] = useState<Channel | 'new'>();
  const [testing, setTesting] = useState<Channel>();

  return (
    <Page
      title={t('platform.nav.channels')}
      extra={
        manage && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="create-channel">
            {t('platform.channels.create')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('platform.channels.intro')}
      </Typography.Paragraph>
      <PagedTable<Channel>
        testId="channels"
        queryKey={[KEYS.channels, status, provider ?? 'any']}
        fetch={(request) => fetchChannels(request, { status: status === 'all' ? undefined : status, provider })}
        rowKey="id"
        searchPlaceholder={t('platform.channels.search')}
        toolbar={
          <Flex gap={8} wrap style={{ maxWidth: '100%', minWidth: 0 }}>
            {/* Five filters are wider than a phone: they scroll sideways there. */}
            <div style={{ maxWidth: '100%', overflowX: 'auto' }}>
              <Segmented<StatusFilter>
                value={status}
                onChange={setStatus}
                options={STATUS_FILTERS.map((value) => ({ value, label: t(`platform.channels.filter.${value}`) }))}
              />
            </div>
            <Select
              allowClear
              value={provider}
              onChange={setProvider}
              placeholder={t('platform.channels.anyProvider')}
              aria-label={t('platform.channels.provider')}
              options={PROVIDERS.map((p) => ({ value: p, label: t(`platform.channels.providerName.${p}`) }))}
              style={{ minWidth: 160 }}
              data-testid="channel-provider-filter"
            />
          </Flex>
        }
        columns={useColumns(manage, setEditing, setTesting)}
      />
      {editing && <ChannelDrawer channel={editing === 'new' ? undefined : editing} onClose={() => setEditing(undefined)} />}
      {testing && <TestDialog channel={testing} onClose={() => setTesting(undefined)} />}
    </Page>
  );
}

function StatusTag({ channel }: { channel: Channel }) {
  const { t } = useTranslation();
  const colour = channel.status === 'enabled' ? 'green' : channel.status === 'auto_disabled' || channel.status === 'quota_exhausted' ? 'red' : 'default';
  return (
    <Flex vertical gap={2} style={{ maxWidth: 260, minWidth: 130 }}>
      <span>
        <ToneTag tone={colour} testId="channel-status">
          {t(`platform.channels.status.${channel.status}`)}
        </ToneTag>
      </span>
      {channel.statusReason && channel.status !== 'enabled' && (
        <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: 'normal' }} data-testid="channel-status-reason">
          {channel.statusReason}
        </Typography.Text>
      )}
    </Flex>
  );
}

function Health({ channel }: { channel: Channel }) {
  const { t } = useTranslation();
  const { dateTime } = useFormat();
  const h = channel.health;
  // The breaker opens after repeated failed checks; the worker's health checks reset it.
  const state = h.checkFailures === 0 ? 'ok' : channel.status === 'auto_disabled' ? 'open' : 'failing';
  const colour = state === 'ok' ? 'green' : state === 'open' ? 'red' : 'orange';
  const breaker = channel.breaker;
  return (
    <Flex vertical gap={2} style={{ maxWidth: 280, minWidth: 130 }}>
      <span>
        <ToneTag tone={colour} testId="channel-health">
          {t(`platform.channels.health.${state}`, { count: h.checkFailures })}
        </ToneTag>
        {breaker && (
          <Tooltip title={t('platform.channels.breakerHint')}>
            <span>
              <ToneTag tone={breaker === 'closed' ? 'default' : breaker === 'open' ? 'red' : 'orange'} testId="channel-breaker">
                {t(`platform.channels.breaker.${breaker}`)}
              </ToneTag>
            </span>
          </Tooltip>
        )}
        {h.lastCheckLatencyMs !== null && <Typography.Text type="secondary">{t('platform.channels.latency', { ms: h.lastCheckLatencyMs })}</Typography.Text>}
      </span>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {h.lastCheckAt ? t('platform.channels.lastCheck', { at: dateTime(h.lastCheckAt) }) : t('platform.channels.neverChecked')}
      </Typography.Text>
      {h.lastCheckError && (
        <Typography.Text type="danger" style={{ fontSize: 12, whiteSpace: 'normal' }}>
          {h.lastCheckError}
        </Typography.Text>
      )}
    </Flex>
  );
}

function LimitsAndBalance({ channel, manage }: { channel: Channel; manage: boolean }) {
  const { t } = useTranslation();
  const { dateTime } = useFormat();
  const { message } = App.useApp();
  const refresh = useRefreshBalance();
  const l = channel.limits;
  const b = channel.balance;
  const none = l.rpm === null && l.tpm === null && l.dailySpendCap === null;
  return (
    <Flex vertical gap={2} style={{ maxWidth: 240, minWidth: 150, fontSize: 12 }} data-testid="channel-limits">
      {none && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('platform.channels.noLimits')}</Typography.Text>}
      {l.rpm !== null && <Typography.Text style={{ fontSize: 12 }}>{t('platform.channels.rpmUsage', { used: l.requestsLastMinute, limit: l.rpm })}</Typography.Text>}
      {l.tpm !== null && <Typography.Text style={{ fontSize: 12 }}>{t('platform.channels.tpmUsage', { used: l.tokensThisMinute, limit: l.tpm })}</Typography.Text>}
      {l.dailySpendCap !== null && <Typography.Text style={{ fontSize: 12 }}>{t('platform.channels.spendUsage', { used: l.spentToday, limit: l.dailySpendCap })}</Typography.Text>}
      {b && (
        <Flex gap={4} align="center" wrap>
          <Typography.Text style={{ fontSize: 12 }} data-testid="channel-balance">
            {b.amount !== null ? t('platform.channels.balanceValue', { amount: b.amount, currency: b.currency ?? '' }) : t('platform.channels.balanceUnknown')}
          </Typography.Text>
          {manage && (
            <Button
              size="small"
              type="link"
              style={{ padding: 0, height: 'auto' }}
              loading={refresh.isPending}
              onClick={() => refresh.mutateAsync(channel.id).then(() => message.success(t('platform.channels.balanceRead')), (error: Error) => message.error(error.message))}
              data-testid="refresh-balance"
            >
              {t('platform.channels.balanceRefresh')}
            </Button>
          )}
        </Flex>
      )}
      {b?.checkedAt && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('platform.channels.lastCheck', { at: dateTime(b.checkedAt) })}</Typography.Text>}
      {b?.error && <Typography.Text type="danger" style={{ fontSize: 12, whiteSpace: 'normal' }}>{b.error}</Typography.Text>}
    </Flex>
  );
}

function useColumns(manage: boolean, edit: (c: Channel) => void, test: (c: Channel) => void) {
  const { t } = useTranslation();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const status = useChannelStatus();
  const remove = useDeleteChannel();
  const act = async (run: () => Promise<unknown>, done: string) => {
    try {
      await run();
      message.success(done);
    } catch (error) {
      message.error((error as Error).message);
    }
  };
  const disable = async (c: Channel) => {
    if (await confirm(t('platform.channels.disableConfirm', { name: c.name }), t('platform.channels.disableHint')))
      await act(() => status.mutateAsync({ id: c.id, enable: false }), t('platform.channels.disabled'));
  };
  const destroy = async (c: Channel) => {
    if (await confirm(t('platform.channels.deleteConfirm', { name: c.name }), t('platform.channels.deleteHint')))
      await act(() => remove.mutateAsync(c.id), t('platform.channels.deleted'));
  };
  return [
    {
      title: t('platform.channels.name'),
      key: 'name',
      render: (_: unknown, c: Channel) => {
        const active = c.keys.filter((k) => k.status === 'active').length;
        return (
          <Flex vertical gap={2} style={{ maxWidth: 280, minWidth: 150 }}>
            <Typography.Text strong>{c.name}</Typography.Text>
            <Typography.Text type="secondary" style={{ fontSize: 12, wordBreak: 'break-all' }}>
              {c.provider} · {c.baseUrl}
            </Typography.Text>
            <Typography.Text type={active === 0 ? 'danger' : 'secondary'} style={{ fontSize: 12 }}>
              {t('platform.channels.keys')}: {t('platform.channels.keysActive', { active, total: c.keys.length })}
            </Typography.Text>
          </Flex>
        );
      },
    },
    { title: t('platform.channels.statusTitle'), key: 'status', render: (_: unknown, c: Channel) => <StatusTag channel={c} /> },
    { title: t('platform.channels.healthTitle'), key: 'health', render: (_: unknown, c: Channel) => <Health channel={c} /> },
    {
      title: t('platform.channels.routing'),
      key: 'routing',
      render: (_: unknown, c: Channel) => (
        <Flex vertical gap={4} style={{ maxWidth: 240 }}>
          <Typography.Text style={{ fontSize: 13 }}>
            {t(`platform.channels.pool.${c.pool}`)} · {t('platform.channels.priorityWeight', { priority: c.priority, weight: c.weight })}
          </Typography.Text>
          <Flex wrap gap={4}>
            {c.models.slice(0, 3).map((m) => (
              <Tag key={m.public} style={{ marginInlineEnd: 0, whiteSpace: 'normal' }}>
                {m.upstream && String(m.upstream) !== m.public ? `${m.public} → ${String(m.upstream)}` : m.public}
              </Tag>
            ))}
            {c.models.length > 3 && <Tag>+{c.models.length - 3}</Tag>}
          </Flex>
        </Flex>
      ),
    },
    { title: t('platform.channels.limitsTitle'), key: 'limits', render: (_: unknown, c: Channel) => <LimitsAndBalance channel={c} manage={manage} /> },
    ...(manage
      ? [
          {
            title: t('common.actions'),
            key: 'actions',
            fixed: 'right' as const,
            render: (_: unknown, c: Channel) => (
              <Flex gap={4} wrap style={{ maxWidth: 190 }}>
                {c.status !== 'enabled' && (
                  <Button size="small" type="primary" onClick={() => act(() => status.mutateAsync({ id: c.id, enable: true }), t('platform.channels.enabled'))} data-testid="enable-channel">
                    {t('platform.channels.enable')}
                  </Button>
                )}
                <Button size="small" onClick={() => test(c)} data-testid="test-channel">
                  {t('platform.channels.test')}
                </Button>
                <Button size="small" onClick={() => edit(c)} data-testid="edit-channel">
                  {t('platform.common.edit')}
                </Button>
                <Dropdown
                  trigger={['click']}
                  menu={{
                    items: [
                      ...(c.status === 'enabled' ? [{ key: 'disable', label: t('platform.channels.disable'), danger: true }] : []),
                      { key: 'delete', label: t('platform.common.delete'), danger: true },
                    ],
                    onClick: ({ key }) => void (key === 'disable' ? disable(c) : destroy(c)),
                  }}
                >
                  <Button size="small" icon={<MoreOutlined />} aria-label={t('platform.common.more')} data-testid="channel-more" />
                </Dropdown>
              </Flex>
            ),
          },
        ]
      : []),
  ];
}

interface ChannelForm {
  name: string;
  provider: ChannelInput['provider'];
  baseUrl: string;
  keys?: string;
  models: { public: string; upstream?: string }[];
  priority: number;
  weight: number;
  pool: 'standard' | 'spot';
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  totalTimeoutMs: number;
  retryBudget: number;
  costs: { model: string; inputPerMillion: string; outputPerMillion: string; cachedInputPerMillion: string }[];
  settings: { preset?: string; apiVersion?: string; region?: string; projectId?: string; location?: string };
  rpmLimit?: number | null;
  tpmLimit?: number | null;
  dailySpendCap?: string | null;
}

/** The settings each provider takes (the API refuses the others). */
const SETTINGS_OF: Record<string, Array<keyof ChannelForm['settings']>> = {
  openai: ['preset'],
  'openai-responses': ['preset'],
  anthropic: [],
  gemini: [],
  azure: ['apiVersion'],
  bedrock: ['region'],
  vertex: ['projectId', 'location'],
};

const BASE_URL_EXAMPLES: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  'openai-responses': 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  azure: 'https://my-resource.openai.azure.com',
  bedrock: 'https://bedrock-runtime.us-east-1.amazonaws.com',
  vertex: 'https://us-east5-aiplatform.googleapis.com',
};

const lines = (text: string | undefined) => (text ?? '').split(/\s+/).map((s) => s.trim()).filter(Boolean);

function ChannelDrawer({ channel, onClose }: { channel?: Channel; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const confirm = useConfirm();
  const [form] = Form.useForm<ChannelForm>();
  const create = useCreateChannel();
  const update = useUpdateChannel();
  const [current, setCurrent] = useState(channel);
  const mutation = channel ? update : create;
  const provider = Form.useWatch('provider', form) ?? channel?.provider ?? 'openai';
  const presets = useChannelPresets();
  const choosePreset = (id: string | undefined) => {
    const preset = presets.data?.find((p) => p.id === id);
    if (preset && !form.getFieldValue('baseUrl')) form.setFieldValue('baseUrl', preset.baseUrl);
  };
  const initial: Partial<ChannelForm> = channel
    ? {
        name: channel.name,
        baseUrl: channel.baseUrl,
        provider: channel.provider as ChannelForm['provider'],
        pool: channel.pool as ChannelForm['pool'],
        priority: channel.priority,
        weight: channel.weight,
        connectTimeoutMs: channel.connectTimeoutMs,
        firstByteTimeoutMs: channel.firstByteTimeoutMs,
        totalTimeoutMs: channel.totalTimeoutMs,
        retryBudget: channel.retryBudget,
        costs: channel.costs,
        settings: channel.settings ?? {},
        rpmLimit: channel.limits.rpm,
        tpmLimit: channel.limits.tpm,
        dailySpendCap: channel.limits.dailySpendCap,
        models: channel.models.map((m) => ({ public: m.public, upstream: m.upstream ? String(m.upstream) : undefined })),
      }
    : { provider: 'openai', priority: 0, weight: 1, pool: 'standard', connectTimeoutMs: 5000, firstByteTimeoutMs: 60000, totalTimeoutMs: 600000, retryBudget: 2, models: [{ public: '' }], costs: [], settings: {} };

  const submit = async (values: ChannelForm) => {
    const fields = {
      name: values.name,
      baseUrl: values.baseUrl,
      models: values.models.filter((m) => m.public).map((m) => ({ public: m.public.trim(), upstream: m.upstream?.trim() || null })),
      priority: values.priority,
      weight: values.weight,
      pool: values.pool,
      connectTimeoutMs: values.connectTimeoutMs,
      firstByteTimeoutMs: values.firstByteTimeoutMs,
      totalTimeoutMs: values.totalTimeoutMs,
      retryBudget: values.retryBudget,
      costs: values.costs ?? [],
      settings: Object.fromEntries(SETTINGS_OF[values.provider].map((name) => [name, values.settings?.[name] || undefined]).filter(([, v]) => v)),
      rpmLimit: values.rpmLimit ?? null,
      tpmLimit: values.tpmLimit ?? null,
      dailySpendCap: values.dailySpendCap?.trim() || null,
    };
    try {
      // A service-account key is one JSON document (with spaces); other keys go one per line.
      const keys = values.provider === 'vertex' || channel?.provider === 'vertex' ? [values.keys?.trim() ?? ''].filter(Boolean) : lines(values.keys);
      if (channel) await update.mutateAsync({ id: channel.id, body: { ...fields, addKeys: keys.length ? keys : undefined } });
      else await create.mutateAsync({ ...fields, provider: values.provider, keys } as ChannelInput);
      message.success(t('platform.common.saved'));
      onClose();
    } catch {
      // The problem shows in the drawer.
    }
  };

  const keyAction = async (body: { removeKeys?: string[]; enableKeys?: string[] }) => {
    const updated = await update.mutateAsync({ id: channel!.id, body });
    setCurrent(updated);
  };

  return (
    <Drawer
      open
      onClose={onClose}
      title={channel ? t('platform.channels.editTitle', { name: channel.name }) : t('platform.channels.create')}
      width="min(720px, 100vw)"
      destroyOnClose
      extra={
        <Button type="primary" onClick={() => form.submit()} loading={mutation.isPending} data-testid="save-channel">
          {t('platform.common.save')}
        </Button>
      }
    >
      <Form<ChannelForm> form={form} layout="vertical" initialValues={initial} onFinish={submit} requiredMark="optional">
        <ProblemAlert error={mutation.error} />
        <Flex gap={12} wrap>
          <Form.Item name="name" label={t('platform.channels.name')} rules={[{ required: true }]} style={{ flex: '1 1 220px' }}>
            <Input />
          </Form.Item>
          <Form.Item name="provider" label={t('platform.channels.provider')} style={{ flex: '1 1 160px' }}>
            <Select disabled={Boolean(channel)} data-testid="channel-type" options={PROVIDERS.map((p) => ({ value: p, label: t(`platform.channels.providerName.${p}`) }))} />
          </Form.Item>
        </Flex>
        {SETTINGS_OF[provider]?.includes('preset') && (
          <Form.Item name={['settings', 'preset']} label={t('platform.channels.preset')} extra={t('platform.channels.presetHint')}>
            <Select
              allowClear
              data-testid="channel-preset"
              placeholder={t('platform.channels.presetNone')}
              onChange={choosePreset}
              options={(presets.data ?? []).map((p) => ({ value: p.id, label: p.label }))}
            />
          </Form.Item>
        )}
        <Form.Item name="baseUrl" label={t('platform.channels.baseUrl')} extra={t(`platform.channels.baseUrlHints.${provider}`)} rules={[{ required: true }]}>
          <Input placeholder={BASE_URL_EXAMPLES[provider]} />
        </Form.Item>
        {provider === 'azure' && (
          <Form.Item name={['settings', 'apiVersion']} label={t('platform.channels.apiVersion')} extra={t('platform.channels.apiVersionHint')}>
            <Input placeholder="2024-10-21" />
          </Form.Item>
        )}
        {provider === 'bedrock' && (
          <Form.Item name={['settings', 'region']} label={t('platform.channels.region')} rules={[{ required: true }]}>
            <Input placeholder="us-east-1" />
          </Form.Item>
        )}
        {provider === 'vertex' && (
          <Flex gap={12} wrap>
            <Form.Item name={['settings', 'projectId']} label={t('platform.channels.projectId')} rules={[{ required: true }]} style={{ flex: '1 1 200px' }}>
              <Input placeholder="my-project" />
            </Form.Item>
            <Form.Item name={['settings', 'location']} label={t('platform.channels.location')} rules={[{ required: true }]} style={{ flex: '1 1 160px' }}>
              <Input placeholder="us-east5" />
            </Form.Item>
          </Flex>
        )}
        <Form.Item
          name="keys"
          label={channel ? t('platform.channels.addKeys') : t('platform.channels.upstreamKeys')}
          extra={t(`platform.channels.keysHints.${provider}`)}
          rules={channel ? [] : [{ required: true }]}
        >
          <Input.TextArea rows={provider === 'vertex' ? 5 : 2} autoComplete="off" spellCheck={false} data-testid="channel-keys-input" />
        </Form.Item>
        {current && current.keys.length > 0 && (
          <Table
            size="small"
            rowKey="id"
            pagination={false}
            style={{ marginBottom: 16 }}
            dataSource={current.keys}
            data-testid="channel-keys"
            columns={[
              { title: t('platform.channels.key'), key: 'key', render: (_, k) => <Typography.Text code>…{k.last4}</Typography.Text> },
              {
                title: t('platform.channels.statusTitle'),
                key: 'status',
                render: (_, k) => (
                  <Flex vertical>
                    <span>
                      <ToneTag tone={k.status === 'active' ? 'green' : 'red'}>{t(`platform.channels.keyStatus.${k.status}`)}</ToneTag>
                    </span>
                    {k.disabledReason && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{k.disabledReason}</Typography.Text>}
                  </Flex>
                ),
              },
              {
                title: t('common.actions'),
                key: 'actions',
                render: (_, k) => (
                  <Space size={4}>
                    {k.status === 'disabled' && (
                      <Button size="small" onClick={() => keyAction({ enableKeys: [k.id] }).catch(() => undefined)}>
                        {t('platform.channels.enable')}
                      </Button>
                    )}
                    <Button
                      size="small"
                      danger
                      type="text"
                      onClick={async () => {
                        if (await confirm(t('platform.channels.removeKeyConfirm', { last4: k.last4 }))) await keyAction({ removeKeys: [k.id] }).catch(() => undefined);
                      }}
                    >
                      {t('platform.common.remove')}
                    </Button>
                  </Space>
                ),
              },
            ]}
          />
        )}
        <Typography.Title level={2} style={{ fontSize: 16 }}>
          {t('platform.channels.models')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('platform.channels.modelsHint')}</Typography.Paragraph>
        {provider === 'azure' && <Typography.Paragraph type="secondary">{t('platform.channels.azureDeployments')}</Typography.Paragraph>}
        <Form.List name="models">
          {(fields, { add, remove }) => (
            <Flex vertical gap={0}>
              {fields.map((field, index) => (
                <Flex key={field.key} gap={8} align="start" wrap>
                  <Form.Item name={[field.name, 'public']} rules={[{ required: true }]} style={{ flex: '1 1 180px', marginBottom: 8 }}>
                    <Input placeholder={t('platform.channels.publicModel')} aria-label={`${t('platform.channels.publicModel')} ${index + 1}`} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'upstream']} style={{ flex: '1 1 180px', marginBottom: 8 }}>
                    <Input placeholder={t('platform.channels.upstreamModel')} aria-label={`${t('platform.channels.upstreamModel')} ${index + 1}`} />
                  </Form.Item>
                  <Button type="text" danger onClick={() => remove(field.name)} aria-label={t('platform.common.remove')}>
                    {t('platform.common.remove')}
                  </Button>
                </Flex>
              ))}
              <Button type="dashed" onClick={() => add({ public: '' })} icon={<PlusOutlined />} style={{ marginBottom: 16 }}>
                {t('platform.channels.addModel')}
              </Button>
            </Flex>
          )}
        </Form.List>
        <Typography.Title level={2} style={{ fontSize: 16 }}>
          {t('platform.channels.routing')}
        </Typography.Title>
        <Flex gap={12} wrap>
          <Form.Item name="priority" label={t('platform.channels.priority')} extra={t('platform.channels.priorityHint')} style={{ flex: '1 1 150px' }}>
            <InputNumber min={-1000} max={1000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="weight" label={t('platform.channels.weight')} extra={t('platform.channels.weightHint')} style={{ flex: '1 1 150px' }}>
            <InputNumber min={0} max={10000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="pool" label={t('platform.channels.poolTitle')} extra={t('platform.channels.poolHint')} style={{ flex: '1 1 150px' }}>
            <Select options={(['standard', 'spot'] as const).map((p) => ({ value: p, label: t(`platform.channels.pool.${p}`) }))} />
          </Form.Item>
        </Flex>
        <Flex gap={12} wrap>
          <Form.Item name="connectTimeoutMs" label={t('platform.channels.connectTimeout')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={100} max={60000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="firstByteTimeoutMs" label={t('platform.channels.firstByteTimeout')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={100} max={600000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="totalTimeoutMs" label={t('platform.channels.totalTimeout')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={100} max={3600000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="retryBudget" label={t('platform.channels.retryBudget')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={0} max={10} precision={0} style={{ width: '100%' }} />
          </Form.Item>
        </Flex>
        <Typography.Title level={2} style={{ fontSize: 16 }}>
          {t('platform.channels.limitsForm')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('platform.channels.limitsHint')}</Typography.Paragraph>
        <Flex gap={12} wrap>
          <Form.Item name="rpmLimit" label={t('platform.channels.rpmLimit')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={1} max={10000000} precision={0} style={{ width: '100%' }} placeholder={t('platform.channels.unlimited')} data-testid="channel-rpm" />
          </Form.Item>
          <Form.Item name="tpmLimit" label={t('platform.channels.tpmLimit')} style={{ flex: '1 1 140px' }}>
            <InputNumber min={1} max={2000000000} precision={0} style={{ width: '100%' }} placeholder={t('platform.channels.unlimited')} data-testid="channel-tpm" />
          </Form.Item>
          <Form.Item
            name="dailySpendCap"
            label={t('platform.channels.dailySpendCap')}
            extra={t('platform.channels.dailySpendCapHint')}
            rules={[{ pattern: /^\d{1,9}(\.\d{1,9})?$/, message: t('platform.channels.amountInvalid') }]}
            style={{ flex: '1 1 180px' }}
          >
            <Input inputMode="decimal" placeholder={t('platform.channels.unlimited')} data-testid="channel-spend-cap" />
          </Form.Item>
        </Flex>
        <Typography.Title level={2} style={{ fontSize: 16 }}>
          {t('platform.channels.costs')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('platform.channels.costsHint')}</Typography.Paragraph>
        <Form.List name="costs">
          {(fields, { add, remove }) => (
            <Flex vertical gap={0}>
              {fields.map((field, index) => (
                <Flex key={field.key} gap={8} align="start" wrap>
                  {(['model', 'inputPerMillion', 'outputPerMillion', 'cachedInputPerMillion'] as const).map((name) => (
                    <Form.Item key={name} name={[field.name, name]} rules={[{ required: true }]} style={{ flex: name === 'model' ? '2 1 160px' : '1 1 90px', marginBottom: 8 }}>
                      <Input placeholder={t(`platform.channels.cost.${name}`)} aria-label={`${t(`platform.channels.cost.${name}`)} ${index + 1}`} />
                    </Form.Item>
                  ))}
                  <Button type="text" danger onClick={() => remove(field.name)}>
                    {t('platform.common.remove')}
                  </Button>
                </Flex>
              ))}
              <Button type="dashed" onClick={() => add({ model: '', inputPerMillion: '0', outputPerMillion: '0', cachedInputPerMillion: '0' })} icon={<PlusOutlined />}>
                {t('platform.channels.addCost')}
              </Button>
            </Flex>
          )}
        </Form.List>
      </Form>
    </Drawer>
  );
}

function TestDialog({ channel, onClose }: { channel: Channel; onClose: () => void }) {
  const { t } = useTranslation();
  const test = useTestChannel();
  const [model, setModel] = useState<string>();
  const models = [...new Set(channel.models.map((m) => (m.upstream ? String(m.upstream) : m.public)).filter((m) => !m.includes('*')))];
  const result = test.data;
  return (
    <Modal
      open
      onCancel={onClose}
      title={t('platform.channels.testTitle', { name: channel.name })}
      footer={[
        <Button key="close" onClick={onClose}>
          {t('platform.common.close')}
        </Button>,
        <Button key="run" type="primary" loading={test.isPending} onClick={() => test.mutate({ id: channel.id, model })} data-testid="run-test">
          {t('platform.channels.runTest')}
        </Button>,
      ]}
    >
      <Flex vertical gap={12}>
        <Typography.Text type="secondary">{t('platform.channels.testHint')}</Typography.Text>
        <Select
          allowClear
          aria-label={t('platform.channels.testModel')}
          placeholder={t('platform.channels.testModel')}
          value={model}
          onChange={setModel}
          options={models.map((m) => ({ value: m, label: m }))}
        />
        <ProblemAlert error={test.error} />
        {result && (
          <Descriptions bordered size="small" column={1} data-testid="test-result">
            <Descriptions.Item label={t('platform.channels.testOutcome')}>
              <ToneTag tone={result.ok ? 'green' : 'red'} testId="test-outcome">
                {result.ok ? t('platform.channels.testOk') : t('platform.channels.testFailed')}
              </ToneTag>
            </Descriptions.Item>
            <Descriptions.Item label={t('platform.channels.testLatency')}>{t('platform.channels.latency', { ms: result.latencyMs })}</Descriptions.Item>
            {result.upstreamStatus !== null && <Descriptions.Item label={t('platform.channels.testStatus')}>{result.upstreamStatus}</Descriptions.Item>}
            {result.error && (
              <Descriptions.Item label={t('platform.channels.testError')}>
                <Tooltip title={result.errorKind}>{result.error}</Tooltip>
              </Descriptions.Item>
            )}
          </Descriptions>
        )}
      </Flex>
    </Modal>
  );
}
