import { Flex, Select, Tag, Tooltip, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { useMe } from '@/features/auth/api';
import { AuditEntry, auditPager, KEYS, useResellerOptions } from '@/features/platform/api';
import { useFormat } from '@/hooks/use-format';

/** Every tenant's audit log (platform owner and tech): who changed what, when, from where. */
export default function AuditPage() {
  const { t } = useTranslation();
  const { dateTime } = useFormat();
  const { data: me } = useMe();
  const [tenantId, setTenantId] = useState<string>();
  const pager = useMemo(() => auditPager(), []);
  // Tech reads the audit log but not the tenant list: then tenants show by id.
  const resellers = useResellerOptions(Boolean(me?.ability.can('read', 'Tenant')));
  const names = new Map<string, string>(resellers.data?.items.map((r) => [r.id, r.branding?.displayName || r.name]));
  if (me) names.set(me.tenant.id, me.tenant.name);
  const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));
  // Ids by their first characters (the whole id on hover and in the expanded row).
  const short = (value: unknown) =>
    text(value) ? (
      <Tooltip title={text(value)}>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {text(value).slice(0, 8)}…
        </Typography.Text>
      </Tooltip>
    ) : null;

  return (
    <Page title={t('platform.nav.audit')}>
      <PagedTable<AuditEntry>
        testId="audit"
        queryKey={[KEYS.audit, tenantId]}
        fetch={(request) => pager({ tenantId, action: request.search }, request)}
        rowKey="id"
        searchPlaceholder={t('platform.audit.search')}
        toolbar={
          <Select
            allowClear
            showSearch
            optionFilterProp="label"
            style={{ minWidth: 220 }}
            aria-label={t('platform.audit.tenant')}
            placeholder={t('platform.common.allTenants')}
            value={tenantId}
            onChange={setTenantId}
            options={[...names].map(([value, label]) => ({ value, label }))}
          />
        }
        expandable={{
          expandedRowRender: (entry) => (
            <pre style={{ margin: 0, fontSize: 12, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
              {JSON.stringify({ subjectId: entry.subjectId, actorUserId: entry.actorUserId, requestId: entry.requestId, userAgent: entry.userAgent, changes: entry.changes }, null, 2)}
            </pre>
          ),
        }}
        columns={[
          { title: t('platform.audit.when'), key: 'when', render: (_, e) => dateTime(e.createdAt) },
          { title: t('platform.audit.tenant'), key: 'tenant', render: (_, e) => names.get(e.tenantId) ?? e.tenantId.slice(0, 8) },
          {
            title: t('platform.audit.action'),
            key: 'action',
            render: (_, e) => (
              <Typography.Text code style={{ whiteSpace: 'nowrap' }}>
                {e.action}
              </Typography.Text>
            ),
          },
          {
            title: t('platform.audit.subject'),
            key: 'subject',
            render: (_, e) => (
              <Flex vertical>
                <span>{e.subjectType}</span>
                {short(e.subjectId)}
              </Flex>
            ),
          },
          {
            title: t('platform.audit.actor'),
            key: 'actor',
            render: (_, e) => (
              <Flex vertical>
                <span>
                  <Tag>{t(`platform.audit.actorKind.${e.actorKind}`)}</Tag>
                </span>
                {short(e.actorUserId)}
                {text(e.ip) && (
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {text(e.ip)}
                  </Typography.Text>
                )}
              </Flex>
            ),
          },
        ]}
      />
    </Page>
  );
}
