import { Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { AUDIT, AuditEntry, fetchAudit } from '@/features/reseller/api';
import { str } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

/** The tenant's audit log (owner), newest first. */
export default function AuditPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [fetch] = useState(fetchAudit);
  return (
    <Page title={t('reseller.nav.audit')}>
      <PagedTable<AuditEntry>
        testId="audit-table"
        queryKey={[AUDIT, 'list']}
        fetch={fetch}
        rowKey="id"
        columns={[
          { title: t('reseller.audit.time'), render: (_, e) => fmt.dateTime(e.createdAt) },
          { title: t('reseller.audit.action'), render: (_, e) => <Typography.Text code>{e.action}</Typography.Text> },
          { title: t('reseller.audit.subject'), render: (_, e) => `${e.subjectType}${str(e.subjectId) ? ` ${str(e.subjectId)!.slice(0, 8)}` : ''}` },
          { title: t('reseller.audit.actor'), render: (_, e) => `${t(`reseller.audit.kinds.${e.actorKind}`)}${str(e.actorUserId) ? ` ${str(e.actorUserId)!.slice(0, 8)}` : ''}` },
          {
            title: t('reseller.audit.changes'),
            render: (_, e) =>
              e.changes ? (
                <Typography.Text type="secondary" ellipsis={{ tooltip: JSON.stringify(e.changes) }} style={{ maxWidth: 320, display: 'inline-block' }}>
                  {JSON.stringify(e.changes)}
                </Typography.Text>
              ) : (
                '—'
              ),
          },
        ]}
      />
    </Page>
  );
}
