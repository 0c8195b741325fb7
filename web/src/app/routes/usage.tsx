import { DownloadOutlined } from '@ant-design/icons';
import { Button, Card, DatePicker, Flex, Segmented, Table, Typography } from 'antd';
import dayjs, { Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { ScrollRegion } from '@/components/scroll-region';
import { useMe } from '@/features/auth/api';
import { daysBetween, useMyUsage, UsageGroup } from '@/features/usage/api';
import { UsageChart } from '@/features/usage/usage-chart';
import { useFormat } from '@/hooks/use-format';
import { downloadCsv } from '@/lib/csv';

export default function UsagePage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { data: me } = useMe();
  const [groupBy, setGroupBy] = useState<'day' | 'model'>('day');
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(29, 'day').startOf('day'), dayjs().endOf('day')]);
  const from = range[0].startOf('day').toDate();
  const to = range[1].add(1, 'day').startOf('day').toDate();
  const usage = useMyUsage(me?.user.id, groupBy, from.toISOString(), to.toISOString());
  const byDay = useMyUsage(me?.user.id, 'day', from.toISOString(), to.toISOString());
  const days = useMemo(() => daysBetween(new Date(`${range[0].format('YYYY-MM-DD')}T00:00:00Z`), new Date(`${range[1].add(1, 'day').format('YYYY-MM-DD')}T00:00:00Z`)), [range]);
  const groups = usage.data?.groups ?? [];

  const download = () =>
    downloadCsv(
      `usage-${groupBy}-${range[0].format('YYYYMMDD')}-${range[1].format('YYYYMMDD')}.csv`,
      [groupBy, 'requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', `spend_${format.currency}`],
      groups.map((g) => [String(g.key ?? ''), g.requests, g.inputTokens, g.outputTokens, g.cacheReadTokens, g.cacheWriteTokens, g.spend]),
    );

  return (
    <Page
      title={t('nav.usage')}
      extra={
        <Button icon={<DownloadOutlined />} onClick={download} disabled={groups.length === 0} data-testid="usage-csv">
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
          <Segmented
            value={groupBy}
            onChange={(v) => setGroupBy(v as 'day' | 'model')}
            options={[
              { value: 'day', label: t('usage.byDay') },
              { value: 'model', label: t('usage.byModel') },
            ]}
          />
        </Flex>
      </Card>
      <ProblemAlert error={usage.error} />
      <Card title={t('usage.chartTitle')}>
        <UsageChart days={days} groups={byDay.data?.groups ?? []} money={format.money} />
      </Card>
      <Card title={t('usage.tableTitle')} extra={<Typography.Text type="secondary">{t('usage.total', { spend: format.money(usage.data?.totals.spend ?? '0'), requests: usage.data?.totals.requests ?? 0 })}</Typography.Text>}>
        <ScrollRegion label={t('usage.tableTitle')}>
          <Table<UsageGroup>
            data-testid="usage-table"
            rowKey={(g) => String(g.key)}
            loading={usage.isPending}
            dataSource={groups}
            style={{ minWidth: 720 }}
            pagination={{ pageSize: 31, hideOnSinglePage: true }}
            locale={{ emptyText: t('usage.empty') }}
            columns={[
              { title: groupBy === 'day' ? t('usage.day') : t('usage.model'), dataIndex: 'key', render: (k) => (groupBy === 'day' ? format.date(String(k)) : String(k)) },
              { title: t('usage.requests'), dataIndex: 'requests', align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.inputTokens'), dataIndex: 'inputTokens', align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.outputTokens'), dataIndex: 'outputTokens', align: 'right', render: (n: number) => format.number(n) },
              { title: t('usage.cachedTokens'), key: 'cache', align: 'right', render: (_, g) => format.number(g.cacheReadTokens + g.cacheWriteTokens) },
              { title: t('usage.spend'), dataIndex: 'spend', align: 'right', render: (s: string) => <span data-testid="usage-spend">{format.money(s)}</span> },
            ]}
          />
        </ScrollRegion>
      </Card>
    </Page>
  );
}
