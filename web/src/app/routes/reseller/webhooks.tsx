import { Alert, App, Button, Checkbox, Drawer, Dropdown, Flex, Form, Input, Modal, Switch, Table, Tag, Typography } from 'antd';
import { MoreOutlined, PlusOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { Delivery, fetchDeliveries, fetchWebhooks, Webhook, WEBHOOK_EVENTS, WebhookEvent, WEBHOOKS, useWebhookMutations } from '@/features/reseller/api';
import { StatusTag } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

/** The signing secret of a new or rotated endpoint: shown this once. */
function SecretOnce({ secret, onClose }: { secret?: string; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal open={Boolean(secret)} title={t('reseller.webhooks.secretTitle')} onOk={onClose} onCancel={onClose} okText={t('reseller.webhooks.secretSaved')} cancelButtonProps={{ style: { display: 'none' } }} maskClosable={false}>
      <Flex vertical gap={12}>
        <Alert type="warning" showIcon message={t('reseller.webhooks.secretWarning')} />
        <Typography.Paragraph code copyable={{ text: secret }} data-testid="webhook-secret" style={{ wordBreak: 'break-all', margin: 0 }}>
          {secret}
        </Typography.Paragraph>
      </Flex>
    </Modal>
  );
}

/** Webhook endpoints (owner): add with the secret shown once, deliveries and attempts, redeliver, rotate, test ping. */
export default function WebhooksPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const m = useWebhookMutations();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string>();
  const [deliveries, setDeliveries] = useState<Webhook>();

  const act = async (w: Webhook, key: string) => {
    try {
      if (key === 'test') {
        await m.test.mutateAsync(w.id);
        message.success(t('reseller.webhooks.testSent'));
      }
      if (key === 'deliveries') setDeliveries(w);
      if (key === 'rotate' && (await confirm(t('reseller.webhooks.rotateConfirm'), t('reseller.webhooks.rotateHint')))) setSecret((await m.rotate.mutateAsync(w.id)).secret);
      if (key === 'remove' && (await confirm(t('reseller.webhooks.removeConfirm', { url: w.url })))) await m.remove.mutateAsync(w.id);
    } catch (error) {
      message.error((error as Error).message);
    }
  };

  return (
    <Page
      title={t('reseller.nav.webhooks')}
      extra={
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="webhook-create">
          {t('reseller.webhooks.add')}
        </Button>
      }
    >
      <PagedTable<Webhook>
        testId="webhooks-table"
        queryKey={[WEBHOOKS, 'list']}
        fetch={fetchWebhooks}
        rowKey="id"
        locale={{ emptyText: <EmptyState text={t('reseller.webhooks.none')} /> }}
        columns={[
          { title: t('reseller.webhooks.url'), render: (_, w) => <Typography.Text style={{ wordBreak: 'break-all' }}>{w.url}</Typography.Text> },
          { title: t('reseller.webhooks.events'), render: (_, w) => <Flex wrap gap={4}>{w.events.map((e) => <Tag key={e}>{e}</Tag>)}</Flex> },
          {
            title: t('reseller.webhooks.enabled'),
            render: (_, w) => (
              <Flex vertical gap={4}>
                <Switch
                  size="small"
                  checked={w.enabled}
                  aria-label={t('reseller.webhooks.enabledFor', { url: w.url })}
                  onChange={async (enabled) => {
                    if (!enabled && !(await confirm(t('reseller.webhooks.disableConfirm', { url: w.url })))) return;
                    await m.update.mutateAsync({ id: w.id, enabled });
                  }}
                />
                {w.disabledReason === 'failing' && <Tag color="red">{t('reseller.webhooks.autoDisabled')}</Tag>}
              </Flex>
            ),
          },
          { title: t('reseller.webhooks.created'), render: (_, w) => fmt.dateTime(w.createdAt) },
          {
            title: t('common.actions'),
            render: (_, w) => (
              <Dropdown
                trigger={['click']}
                menu={{
                  items: [
                    { key: 'deliveries', label: t('reseller.webhooks.deliveries') },
                    { key: 'test', label: t('reseller.webhooks.test') },
                    { key: 'rotate', label: t('reseller.webhooks.rotate') },
                    { key: 'remove', label: t('reseller.webhooks.remove'), danger: true },
                  ],
                  onClick: ({ key }) => act(w, key),
                }}
              >
                <Button size="small" icon={<MoreOutlined />} aria-label={t('reseller.webhooks.actionsFor', { url: w.url })} />
              </Dropdown>
            ),
          },
        ]}
      />
      <CreateWebhook open={creating} onClose={() => setCreating(false)} onCreated={setSecret} />
      <SecretOnce secret={secret} onClose={() => setSecret(undefined)} />
      <Deliveries webhook={deliveries} onClose={() => setDeliveries(undefined)} />
    </Page>
  );
}

function CreateWebhook({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (secret: string) => void }) {
  const { t } = useTranslation();
  const { create } = useWebhookMutations();
  const [form] = Form.useForm();
  return (
    <Modal open={open} title={t('reseller.webhooks.add')} okText={t('reseller.webhooks.add')} cancelText={t('common.cancel')} onCancel={onClose} onOk={() => form.submit()} confirmLoading={create.isPending} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={{ events: ['billing.low_balance', 'statement.closed', 'withdrawal.updated'] }}
        onFinish={async (v: { url: string; events: WebhookEvent[]; description?: string }) => {
          const created = await create.mutateAsync({ url: v.url.trim(), events: v.events, description: v.description || undefined });
          onClose();
          onCreated(created.secret);
        }}
      >
        {create.error && <ProblemAlert error={create.error} />}
        <Form.Item name="url" label={t('reseller.webhooks.url')} rules={[{ required: true, type: 'url', message: t('reseller.webhooks.urlRule') }]}>
          <Input placeholder="https://example.com/hooks/aigateway" />
        </Form.Item>
        <Form.Item name="events" label={t('reseller.webhooks.events')} rules={[{ required: true, type: 'array', min: 1, message: t('reseller.webhooks.eventsRule') }]}>
          <Checkbox.Group options={WEBHOOK_EVENTS.map((e) => ({ value: e, label: e }))} style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(200px, 1fr))' }} />
        </Form.Item>
        <Form.Item name="description" label={t('reseller.webhooks.description')}>
          <Input maxLength={200} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function Deliveries({ webhook, onClose }: { webhook?: Webhook; onClose: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const { redeliver } = useWebhookMutations();
  const { message } = App.useApp();
  return (
    <Drawer open={Boolean(webhook)} onClose={onClose} width={760} title={t('reseller.webhooks.deliveriesOf', { url: webhook?.url })} destroyOnClose>
      {webhook && (
        <PagedTable<Delivery>
          testId="deliveries-table"
          queryKey={[WEBHOOKS, webhook.id, 'deliveries']}
          fetch={(request) => fetchDeliveries(webhook.id, request)}
          rowKey="id"
          expandable={{
            expandedRowRender: (d) => (
              <Table
                size="small"
                rowKey="attempt"
                pagination={false}
                dataSource={d.attemptLog}
                columns={[
                  { title: '#', dataIndex: 'attempt' },
                  { title: t('reseller.webhooks.at'), render: (_, a) => fmt.dateTime(a.at) },
                  { title: 'HTTP', render: (_, a) => a.statusCode ?? '—' },
                  { title: t('reseller.webhooks.latency'), render: (_, a) => `${a.latencyMs} ms` },
                  { title: t('reseller.webhooks.error'), render: (_, a) => a.error ?? '' },
                ]}
              />
            ),
          }}
          columns={[
            { title: t('reseller.webhooks.event'), dataIndex: 'eventType' },
            { title: t('reseller.webhooks.status'), render: (_, d) => <StatusTag status={d.status} /> },
            { title: t('reseller.webhooks.attempts'), dataIndex: 'attempts' },
            { title: t('reseller.webhooks.created'), render: (_, d) => fmt.dateTime(d.createdAt) },
            {
              title: t('common.actions'),
              render: (_, d) =>
                d.status !== 'pending' && (
                  <Button
                    size="small"
                    onClick={async () => {
                      await redeliver.mutateAsync({ id: webhook.id, deliveryId: d.id });
                      message.success(t('reseller.webhooks.redelivered'));
                    }}
                  >
                    {t('reseller.webhooks.redeliver')}
                  </Button>
                ),
            },
          ]}
        />
      )}
    </Drawer>
  );
}
