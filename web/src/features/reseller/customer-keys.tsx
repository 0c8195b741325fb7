import { App, Button, Card, Space, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useDisableKey, useEnableKey, useRevokeKey } from '@/features/keys/api';
import { useFormat } from '@/hooks/use-format';
import { CUSTOMER_KEYS, CustomerKey, fetchCustomerKeys } from './api';
import { str, useCan } from './ui';

// Solid, dark tag colours: white text on them keeps AA contrast.
const STATUS_COLOR = { active: '#237804', disabled: '#ad4e00', revoked: '#595959', suspended: '#a8071a' } as const;

/**
 * A customer's API keys, for the staff who manage them (owner; a salesperson for bound customers):
 * disable, enable again, revoke (final), each asking first where it stops the customer's calls.
 * The secret is never shown; the customer makes and rotates their keys themselves.
 */
export function CustomerKeys({ customerId, name }: { customerId: string; name: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const disable = useDisableKey();
  const enable = useEnableKey();
  const revoke = useRevokeKey();

  const act = async (key: CustomerKey, what: 'disable' | 'enable' | 'revoke') => {
    if (what === 'disable' && !(await confirm(t('reseller.keys.disableConfirm', { key: key.name, name }), t('reseller.keys.disableHint')))) return;
    if (what === 'revoke' && !(await confirm(t('reseller.keys.revokeConfirm', { key: key.name, name }), t('reseller.keys.revokeHint')))) return;
    await (what === 'disable' ? disable : what === 'enable' ? enable : revoke).mutateAsync(key.id);
    message.success(t(`reseller.keys.${what}d`));
  };

  return (
    <Card size="small" title={t('reseller.keys.title')}>
      <ProblemAlert error={disable.error ?? enable.error ?? revoke.error} />
      <PagedTable<CustomerKey>
        testId="customer-keys"
        size="small"
        queryKey={[CUSTOMER_KEYS, { userId: customerId }]}
        fetch={(request) => fetchCustomerKeys(customerId, request)}
        rowKey="id"
        locale={{ emptyText: <EmptyState text={t('reseller.keys.none')} /> }}
        columns={[
          {
            title: t('reseller.keys.key'),
            render: (_, k) => (
              <Space direction="vertical" size={0}>
                <Typography.Text strong>{k.name}</Typography.Text>
                <Typography.Text code style={{ whiteSpace: 'nowrap' }}>{k.prefix}…</Typography.Text>
              </Space>
            ),
          },
          { title: t('reseller.keys.status'), render: (_, k) => <Tag color={STATUS_COLOR[k.status as keyof typeof STATUS_COLOR]}>{t(`reseller.keys.statuses.${k.status}`)}</Tag> },
          { title: t('reseller.keys.spent'), align: 'right', render: (_, k) => <span style={{ whiteSpace: 'nowrap' }}>{fmt.money(k.spent)}</span> },
          { title: t('reseller.keys.lastUsed'), responsive: ['sm'], render: (_, k) => (str(k.lastUsedAt) ? fmt.dateTime(str(k.lastUsedAt)) : t('reseller.keys.never')) },
          {
            title: t('reseller.keys.actions'),
            render: (_, k) =>
              k.status === 'revoked' ? (
                '—'
              ) : (
                <Space wrap size={4}>
                  {k.status === 'active' && can('disable', 'ApiKey') && (
                    <Button size="small" onClick={() => void act(k, 'disable')} data-testid="key-disable">
                      {t('reseller.keys.disable')}
                    </Button>
                  )}
                  {k.status === 'disabled' && can('enable', 'ApiKey') && (
                    <Button size="small" onClick={() => void act(k, 'enable')} data-testid="key-enable">
                      {t('reseller.keys.enable')}
                    </Button>
                  )}
                  {can('delete', 'ApiKey') && (
                    <Button size="small" danger onClick={() => void act(k, 'revoke')} data-testid="key-revoke">
                      {t('reseller.keys.revoke')}
                    </Button>
                  )}
                </Space>
              ),
          },
        ]}
      />
    </Card>
  );
}
