import { Flex, Grid, Select, Typography } from 'antd';
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
  // On a phone each credit is one cell (who, how much, when, why); e-mails end in an ellipsis.
  const phone = !Grid.useBreakpoint().md;
  const person = (p: { email: string; displayName?: unknown } | null, width: number | string = 220) =>
    p ? (
      <Flex vertical style={{ minWidth: 0, maxWidth: width }}>
        <Typography.Text ellipsis={{ tooltip: p.email }}>{str(p.displayName) ?? p.email}</Typography.Text>
        {str(p.displayName) && (
          <Typography.Text type="secondary" ellipsis={{ tooltip: p.email }} style={{ fontSize: 12 }}>
            {p.email}
          </Typography.Text>
        )}
      </Flex>
    ) : (
      <Typography.Text type="secondary">{t('reseller.credits.system')}</Typography.Text>
    );
  const amount = (c: CreditEntry) => (
    <Typography.Text type={c.amount.startsWith('-') ? 'danger' : undefined} style={{ whiteSpace: 'nowrap' }}>
      {fmt.money(c.amount)}
    </Typography.Text>
  );
  const kindOf = (c: CreditEntry) => t(`reseller.credits.kinds.${c.kind}`, { defaultValue: c.kind });
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
        columns={
          phone
            ? [
                {
                  title: t('reseller.credits.title'),
                  render: (_, c) => (
                    <Flex vertical gap={2} style={{ maxWidth: 'calc(100vw - 64px)' }}>
                      <Flex justify="space-between" gap={8}>
                        {person(c.customer, 'calc(100vw - 170px)')}
                        {amount(c)}
                      </Flex>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                        {kindOf(c)} · {fmt.dateTime(c.createdAt)}
                      </Typography.Text>
                      {c.note && <Typography.Text style={{ overflowWrap: 'break-word' }}>{c.note}</Typography.Text>}
                    </Flex>
                  ),
                },
              ]
            : [
                { title: t('reseller.credits.when'), render: (_, c) => <span style={{ whiteSpace: 'nowrap' }}>{fmt.dateTime(c.createdAt)}</span> },
                { title: t('reseller.credits.customer'), render: (_, c) => person(c.customer) },
                { title: <span style={{ whiteSpace: 'nowrap' }}>{t('reseller.credits.kind')}</span>, render: (_, c) => <span style={{ whiteSpace: 'nowrap' }}>{kindOf(c)}</span> },
                { title: t('reseller.credits.amount'), align: 'right', render: (_, c) => amount(c) },
                { title: t('reseller.credits.note'), render: (_, c) => <span style={{ overflowWrap: 'break-word' }}>{c.note ?? '—'}</span> },
                { title: t('reseller.credits.by'), render: (_, c) => person(c.createdBy, 200) },
                {
                  title: t('reseller.credits.reference'),
                  responsive: ['xl'],
                  render: (_, c) => (
                    <Typography.Text code ellipsis={{ tooltip: c.reference }} style={{ maxWidth: 160 }}>
                      {c.reference}
                    </Typography.Text>
                  ),
                },
              ]
        }
      />
    </Page>
  );
}
