import { Flex, Select, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { CREDIT_KINDS, CREDITS, CreditEntry, fetchCredits } from '@/features/reseller/api';
import { str } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

type Kind = (typeof CREDIT_KINDS)[number];

/**
 * Credits: every credit and debit posted by hand (with its note, who posted it and when) and the
 * credits of paid top-ups, newest first: finance's record of money given and taken. Posting is
 * done from a customer's drawer.
 */
export default function CreditsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [kind, setKind] = useState<Kind>();
  const person = (p: { email: string; displayName?: unknown } | null) =>
    p ? (
      <Flex vertical style={{ minWidth: 0 }}>
        <Typography.Text style={{ overflowWrap: 'anywhere' }}>{str(p.displayName) ?? p.email}</Typography.Text>
        {str(p.displayName) && (
          <Typography.Text type="secondary" style={{ fontSize: 12, overflowWrap: 'anywhere' }}>
            {p.email}
          </Typography.Text>
        )}
      </Flex>
    ) : (
      <Typography.Text type="secondary">{t('reseller.credits.system')}</Typography.Text>
    );
  return (
    <Page title={t('reseller.nav.credits')}>
      <Typography.Paragraph type="secondary">{t('reseller.credits.intro')}</Typography.Paragraph>
      <PagedTable<CreditEntry>
        testId="credits-table"
        queryKey={[CREDITS, { kind }]}
        fetch={(request) => fetchCredits({ ...request, kind })}
        rowKey="id"
        searchPlaceholder={t('reseller.credits.search')}
        toolbar={
          <Select
            allowClear
            style={{ width: 180 }}
            placeholder={t('reseller.credits.anyKind')}
            aria-label={t('reseller.credits.kind')}
            value={kind}
            onChange={setKind}
            options={CREDIT_KINDS.map((k) => ({ value: k, label: t(`reseller.credits.kinds.${k}`) }))}
          />
        }
        locale={{ emptyText: <EmptyState text={t('reseller.credits.none')} /> }}
        columns={[
          { title: t('reseller.credits.when'), render: (_, c) => <span style={{ whiteSpace: 'nowrap' }}>{fmt.dateTime(c.createdAt)}</span> },
          { title: t('reseller.credits.customer'), render: (_, c) => person(c.customer) },
          { title: t('reseller.credits.kind'), render: (_, c) => t(`reseller.credits.kinds.${c.kind}`, { defaultValue: c.kind }) },
          {
            title: t('reseller.credits.amount'),
            align: 'right',
            render: (_, c) => (
              <Typography.Text type={c.amount.startsWith('-') ? 'danger' : undefined} style={{ whiteSpace: 'nowrap' }}>
                {fmt.money(c.amount)}
              </Typography.Text>
            ),
          },
          { title: t('reseller.credits.note'), render: (_, c) => <span style={{ overflowWrap: 'anywhere' }}>{c.note ?? '—'}</span> },
          { title: t('reseller.credits.by'), render: (_, c) => person(c.createdBy) },
          { title: t('reseller.credits.reference'), responsive: ['lg'], render: (_, c) => <Typography.Text code style={{ overflowWrap: 'anywhere' }}>{c.reference}</Typography.Text> },
        ]}
      />
    </Page>
  );
}
