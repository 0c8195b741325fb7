import { Card, Table, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { ScrollRegion } from '@/components/scroll-region';
import { useFormat } from '@/hooks/use-format';
import { Site, useSite } from '@/hooks/use-site';
import { unitName, unitPrice } from '@/features/pricing/units';

type PublicModel = Site['models'][number];

export default function ModelsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { data: site, isPending } = useSite();
  const price = (value: string | null | undefined) => (value ? format.money(value) : '—');
  return (
    <Page title={t('nav.models')}>
      <Typography.Paragraph type="secondary">{t('models.intro', { currency: format.currency })}</Typography.Paragraph>
      <Card>
        <ScrollRegion label={t('nav.models')}>
          <Table<PublicModel>
            data-testid="prices"
            rowKey="model"
            loading={isPending}
            dataSource={site?.models ?? []}
            pagination={false}
            style={{ minWidth: 640 }}
            locale={{ emptyText: <EmptyState text={t('models.empty')} /> }}
            columns={[
              { title: t('models.model'), dataIndex: 'model', render: (m: string) => <Typography.Text code copyable>{m}</Typography.Text> },
              {
                title: t('units.column'),
                key: 'unit',
                render: (_: unknown, m: PublicModel) =>
                  m.unit === 'token' ? unitName(t, m.unit) : `${unitName(t, m.unit)} (${unitPrice(t, m.unit)})`,
              },
              { title: t('models.input'), dataIndex: 'inputPerMillion', align: 'right', render: price },
              { title: t('models.output'), dataIndex: 'outputPerMillion', align: 'right', render: price },
              { title: t('models.cacheRead'), dataIndex: 'cacheReadPerMillion', align: 'right', render: price },
              { title: t('models.cacheWrite'), dataIndex: 'cacheWritePerMillion', align: 'right', render: price },
              { title: t('models.perRequest'), dataIndex: 'perRequest', align: 'right', render: (v: string) => (/^0(\.0*)?$/.test(v) ? '—' : price(v)) },
            ]}
          />
        </ScrollRegion>
      </Card>
    </Page>
  );
}
