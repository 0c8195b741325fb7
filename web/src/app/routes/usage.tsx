import { DownloadOutlined } from '@ant-design/icons';
import { App, Button, Card, DatePicker, Flex, Segmented, Select, Table, Typography } from 'antd';
import dayjs, { Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { ScrollRegion } from '@/components/scroll-region';
import { useKeys } from '@/features/keys/api';
import { daysBetween, useUsage, usageCsv, UsageGroup, UsageGrouping } from '@/features/usage/api';
import { UsageChart } from '@/features/usage/usage-chart';
import { useFormat } from '@/hooks/use-format';
import { useSite } from '@/hooks/use-site';
import { saveBlob } from '@/lib/download';

export default function UsagePage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const format = useFormat();
  const { data: site } = useSite();
  const keys = useKeys(1, 100);
  const [groupBy, setGroupBy] = useState<UsageGrouping>('day');
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(29, 'day').startOf('day'), dayjs().endOf('day')]);
  const [keyId, setKeyId] = useState<string>();
  const [model, setModel] = useState<string>();
  const filter = {
    from: range[0].startOf('day').toISOString(),
    to: range[1].add(1, 'day').startOf('day').toISOString(),
    ...(keyId ? { keyId } : {}),
    ...(model ? { model } : {}),
  };
  const usage = useUsage(groupBy, filter);
  const byDay = useUsage('day', filter);
  const days = useMemo(
    () => daysBetween(new Date(`${range[0].format('YYYY-MM-DD')}T00:00:00Z`), new Date(`${range[1].add(1, 'day').format('YYYY-MM-DD')}T00:00:00Z`)),
    [range],
  );
  const groups = usage.data?.groups ?? [];
  const keyName = new Map(keys.data?.items.map((k) => [k.id, `${k.name} (${k.prefix}…)`]));
  const label = (g: UsageGroup) => {
    const key = g.key as string | null;
    if (groupBy === 'day') return format.date(key);
    if (groupBy === 'key') return key ? (keyName.get(key) ?? key) : t('usage.noKey');
    return key ?? '—';
  };

  const download = async () => {
    try {
      saveBlob(`usage-${range[0].format('YYYYMMDD')}-${range[1].format('YYYYMMDD')}.csv`, await usageCsv(filter));
    } catch {
      void message.error(t('common.failed'));
    }
  };

  return (
    <Page
      title={t('nav.usage')}
      extra={
        <Button icon={<DownloadOutlined />} onClick={() => void download()} data-testid="usage-csv">
          {t('usage.downloadCsv')}
        </Button>
      }
    >
      <Card>
        <Flex gap={12} wrap align="center">
          <DatePicker.RangePicker
            value={range}
            allowClear={false}
            onChange={(value) => value?.[0] && value[1] && setRange([value[0], value[1]])}
            disabledDate={(d) => d.isAfter(dayjs(), 'day')}
            aria-label={t('usage.range')}
          />
          <Select
            allowClear
            placeholder={t('usage.allKeys')}
            aria-label={t('usage.key')}
            value={keyId}
            onChange={setKeyId}
            style={{ minWidth: 200 }}
            options={keys.data?.items.map((k) => ({ value: k.id, label: `${k.name} (${k.prefix}…)` }))}
          />
          <Select
            allowClear
            showSearch
            placeholder={t('usage.allModels')}
            aria-label={t('usage.model')}
            value={model}
            onChange={setModel}
            style={{ minWidth: 200 }}
            options={site?.models.map((m) => ({ value: m.model, label: m.model }))}
          />
          <Segmented
            value={groupBy}
            onChange={(v) => setGroupBy(v as UsageGrouping)}
            options={[
              { value: 'day', label: t('usage.byDay') },
              { value: 'model', label: t('usage.byModel') },
              { value: 'key', label: t('usage.byKey') },
            ]}
          />
        </Flex>
      </Card>
      <ProblemAlert error={usage.error} />
      <Card title={t('usage.chartTitle')}>
        <UsageChart days={days} groups={byDay.data?.groups ?? []} money={format.money} />
      </Card>
      <Card
        title={t('usage.tableTitle')}
        extra={<Typography.Text type="secondary">{t('usage.total', { spend: format.money(usage.data?.totals.spend ?? '0'), requests: usage.data?.totals.requests ?? 0 })}</Typography.Text>}
      >
        <ScrollRegion label={t('usage.tableTitle')}>
          <Table<UsageGroup>
            data-testid="usage-table"
            rowKey={(g) => String(g.key)}
            loading={usage.isPending}
            dataSource={groups}
            
            pagination={{ pageSize: 31, hideOnSinglePage: true }}
            locale={{ emptyText: <EmptyState text={t('usage.empty')} /> }}
            columns={[
              { title: t(`usage.${groupBy === 'key' ? 'key' : groupBy}`), key: 'group', render: (_, g) => label(g) },
              { title: t('usage.requests'), dataIndex: 'requests', align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.inputTokens'), dataIndex: 'inputTokens', responsive: ['md'], align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.outputTokens'), dataIndex: 'outputTokens', responsive: ['md'], align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.cachedTokens'), key: 'cache', responsive: ['lg'], align: 'right', render: (_, g) => format.number(g.cacheReadTokens + g.cacheWriteTokens) },
              { title: t('usage.spend'), dataIndex: 'spend', align: 'right', render: (s: string) => <span data-testid="usage-spend">{format.money(s)}</span> },
            ]}
          />
        </ScrollRegion>
      </Card>
    </Page>
  );
}
