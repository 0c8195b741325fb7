import { theme } from 'antd';
import { useTranslation } from 'react-i18next';
import { Chart } from '@/components/chart';
import type { UsageGroup } from './api';

/** Spend (bars) and requests (line) per day. Spend is plotted as a number: the chart's shape only; every shown amount is formatted from the string. */
export function UsageChart({ days, groups, money }: { days: string[]; groups: UsageGroup[]; money: (v: string) => string }) {
  const { t } = useTranslation();
  const { token } = theme.useToken();
  const byDay = new Map(groups.map((g) => [String(g.key ?? '').slice(0, 10), g]));
  return (
    <Chart
      label={t('usage.chartLabel')}
      option={{
        color: [token.colorPrimary, token.colorWarning],
        tooltip: {
          trigger: 'axis',
          formatter: (params: unknown) => {
            const [first] = params as Array<{ dataIndex: number }>;
            const day = days[first.dataIndex];
            const group = byDay.get(day);
            return `${day}<br/>${t('usage.spend')}: ${money(group?.spend ?? '0')}<br/>${t('usage.requests')}: ${group?.requests ?? 0}`;
          },
        },
        legend: { data: [t('usage.spend'), t('usage.requests')], bottom: 0 },
        grid: { left: 8, right: 8, top: 16, bottom: 40, containLabel: true },
        xAxis: { type: 'category', data: days.map((d) => d.slice(5)) },
        yAxis: [
          { type: 'value', name: '', splitLine: { lineStyle: { type: 'dashed' } } },
          { type: 'value', name: '', minInterval: 1 },
        ],
        series: [
          { name: t('usage.spend'), type: 'bar', data: days.map((d) => Number(byDay.get(d)?.spend ?? 0)), barMaxWidth: 24 },
          { name: t('usage.requests'), type: 'line', yAxisIndex: 1, smooth: true, data: days.map((d) => byDay.get(d)?.requests ?? 0) },
        ],
      }}
    />
  );
}
