import { Button, Dropdown, Flex, Modal, Select, Space, Table, Tag, Typography } from 'antd';
import { MoreOutlined, PlusOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { useFormat } from '@/hooks/use-format';
import { ProblemAlert } from '@/components/problem-alert';
import { ScrollRegion } from '@/components/scroll-region';
import { Key, useCreateKey, useDisableKey, useEnableKey, useKeys, useRevokeKey, useRotateKey, useUpdateKey } from './api';
import { KeyForm } from './key-form';
import { SecretOnce } from './secret-once';

// Solid, dark tag colours: white text on them keeps AA contrast.
const STATUS_COLOR = { active: '#237804', disabled: '#ad4e00', revoked: '#595959', suspended: '#a8071a' } as const;
const GRACE_CHOICES = [0, 3600, 86_400, 604_800];

/** The keys the person owns: create, edit limits, rotate, disable, enable, revoke. */
export function KeysTable({ models }: { models: string[] }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [page, setPage] = useState(1);
  const keys = useKeys(page);
  const create = useCreateKey();
  const update = useUpdateKey();
  const rotate = useRotateKey();
  const disable = useDisableKey();
  const enable = useEnableKey();
  const revoke = useRevokeKey();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Key>();
  const [rotating, setRotating] = useState<Key>();
  const [grace, setGrace] = useState(3600);
  const [secret, setSecret] = useState<{ secret: string; oldValidUntil?: string | null }>();

  const limits = (key: Key) => {
    const parts = [
      key.spendLimit ? t('keys.limitSpend', { amount: format.money(key.spendLimit as unknown as string) }) : undefined,
      key.rpmLimit ? t('keys.limitRpm', { count: key.rpmLimit as unknown as number }) : undefined,
      key.tpmLimit ? t('keys.limitTpm', { count: key.tpmLimit as unknown as number }) : undefined,
      key.ipAllowlist?.length ? t('keys.limitIps', { count: key.ipAllowlist.length }) : undefined,
      key.allowedModels?.length ? t('keys.limitModels', { count: key.allowedModels.length }) : undefined,
    ].filter(Boolean);
    return parts.length > 0 ? parts.join(' · ') : <Typography.Text type="secondary">{t('keys.noLimits')}</Typography.Text>;
  };

  return (
    <>
      <Flex justify="flex-end">
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="create-key">
          {t('keys.create')}
        </Button>
      </Flex>
      <ProblemAlert error={keys.error ?? disable.error ?? enable.error ?? revoke.error} />
      <ScrollRegion label={t('nav.keys')}>
        <Table<Key>
          rowKey="id"
          loading={keys.isPending}
          dataSource={keys.data?.items}
          
          pagination={{ current: page, total: keys.data?.total ?? 0, pageSize: 20, onChange: setPage, hideOnSinglePage: true }}
          locale={{ emptyText: <EmptyState text={t('keys.empty')} /> }}
          columns={[
            { title: t('keys.name'), dataIndex: 'name', render: (name: string) => <Typography.Text strong>{name}</Typography.Text> },
            { title: t('keys.prefix'), dataIndex: 'prefix', render: (prefix: string) => <Typography.Text code style={{ whiteSpace: 'nowrap' }}>{prefix}…</Typography.Text> },
            {
              title: t('keys.status'),
              dataIndex: 'status',
              render: (status: Key['status'], key) => (
                <Space direction="vertical" size={0}>
                  <Tag color={STATUS_COLOR[status]}>{t(`keys.statuses.${status}`)}</Tag>
                  {key.previousSecretExpiresAt && new Date(key.previousSecretExpiresAt as unknown as string) > new Date() && (
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {t('keys.oldSecretUntil', { time: format.dateTime(key.previousSecretExpiresAt as unknown as string) })}
                    </Typography.Text>
                  )}
                </Space>
              ),
            },
            { title: t('keys.spent'), dataIndex: 'spent', responsive: ['sm'], align: 'right', render: (spent: string) => format.money(spent) },
            { title: t('keys.limits'), key: 'limits', responsive: ['lg'], render: (_, key) => limits(key) },
            { title: t('keys.expires'), dataIndex: 'expiresAt', responsive: ['lg'], render: (at) => (at ? format.date(at as string) : t('keys.never')) },
            { title: t('keys.lastUsed'), dataIndex: 'lastUsedAt', responsive: ['md'], render: (at) => (at ? format.dateTime(at as string) : t('keys.neverUsed')) },
          { title: t('keys.created'), dataIndex: 'createdAt', responsive: ['xl'], render: (at: string) => format.date(at) },
            {
              title: <span className="sr-only">{t('common.actions')}</span>,
              key: 'actions',
              width: 56,
              render: (_, key) =>
                key.status === 'revoked' ? null : (
                  <Dropdown
                    trigger={['click']}
                    menu={{
                      items: [
                        { key: 'edit', label: t('keys.edit') },
                        { key: 'rotate', label: t('keys.rotate') },
                        key.status === 'active' ? { key: 'disable', label: t('keys.disable') } : { key: 'enable', label: t('keys.enable') },
                        { type: 'divider' },
                        { key: 'revoke', label: t('keys.revoke'), danger: true },
                      ],
                      onClick: ({ key: action }) => {
                        if (action === 'edit') setEditing(key);
                        if (action === 'rotate') setRotating(key);
                        if (action === 'disable') disable.mutate(key.id);
                        if (action === 'enable') enable.mutate(key.id);
                        if (action === 'revoke')
                          Modal.confirm({
                            title: t('keys.revokeTitle', { name: key.name }),
                            content: t('keys.revokeWarning'),
                            okText: t('keys.revoke'),
                            okButtonProps: { danger: true },
                            cancelText: t('common.cancel'),
                            onOk: () => revoke.mutateAsync(key.id),
                          });
                      },
                    }}
                  >
                    <Button type="text" icon={<MoreOutlined />} aria-label={t('keys.actionsFor', { name: key.name })} data-testid={`key-actions-${key.name}`} />
                  </Dropdown>
                ),
            },
          ]}
        />
      </ScrollRegion>
      <KeyForm
        open={creating}
        models={models}
        pending={create.isPending}
        error={create.error}
        onCancel={() => {
          setCreating(false);
          create.reset();
        }}
        onSubmit={(body) =>
          create.mutate(body, {
            onSuccess: (created) => {
              setCreating(false);
              setSecret({ secret: created.secret });
            },
          })
        }
      />
      <KeyForm
        open={Boolean(editing)}
        initial={editing}
        models={models}
        pending={update.isPending}
        error={update.error}
        onCancel={() => {
          setEditing(undefined);
          update.reset();
        }}
        onSubmit={(body) => update.mutate({ id: editing!.id, body }, { onSuccess: () => setEditing(undefined) })}
      />
      <Modal
        open={Boolean(rotating)}
        title={t('keys.rotateTitle', { name: rotating?.name })}
        okText={t('keys.rotate')}
        cancelText={t('common.cancel')}
        confirmLoading={rotate.isPending}
        onCancel={() => setRotating(undefined)}
        onOk={() =>
          rotate.mutate(
            { id: rotating!.id, gracePeriodSeconds: grace },
            {
              onSuccess: (rotated) => {
                setRotating(undefined);
                setSecret({ secret: rotated.secret, oldValidUntil: rotated.previousSecretExpiresAt as unknown as string | null });
              },
            },
          )
        }
      >
        <Flex vertical gap={12}>
          <Typography.Paragraph>{t('keys.rotateExplain')}</Typography.Paragraph>
          <label htmlFor="grace">{t('keys.grace')}</label>
          <Select id="grace" value={grace} onChange={setGrace} options={GRACE_CHOICES.map((s) => ({ value: s, label: t(`keys.graceChoices.${s}`) }))} />
          <ProblemAlert error={rotate.error} />
        </Flex>
      </Modal>
      <SecretOnce secret={secret?.secret} oldValidUntil={secret?.oldValidUntil} onClose={() => setSecret(undefined)} />
    </>
  );
}
