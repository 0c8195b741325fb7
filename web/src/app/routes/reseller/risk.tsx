import { App, Button, Card, Checkbox, Flex, Form, Input, Modal, Segmented, Select, Switch, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { fetchRiskFlags, RISK, RiskFlag, RiskRule, RiskRuleInput, useRiskMutations, useRiskRules } from '@/features/risk/api';
import { useFormat } from '@/hooks/use-format';

type Status = 'open' | 'resolved' | 'all';

/** Risk rules (the owner turns them on, sets thresholds and actions) and the flags they raised, with their review. */
export default function RiskPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const tenantId = me?.tenant.id;
  const canEdit = Boolean(me?.ability.can('update', 'Risk'));
  const [status, setStatus] = useState<Status>('open');
  const [resolving, setResolving] = useState<RiskFlag>();
  const fmt = useFormat();
  const value = (flag: RiskFlag, v: string) => (flag.rule === 'new_customer_spend' || flag.rule === 'balance_drop' ? fmt.money(v) : v);

  return (
    <Page title={t('risk.nav.title')}>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('risk.intro')}
      </Typography.Paragraph>
      {tenantId && <RulesForm tenantId={tenantId} canEdit={canEdit} />}
      <Card title={t('risk.flags.title')} extra={<Segmented<Status> value={status} onChange={setStatus} options={(['open', 'resolved', 'all'] as const).map((s) => ({ value: s, label: t(`risk.flags.filter.${s}`) }))} />}>
        {tenantId && (
          <PagedTable<RiskFlag>
            testId="risk-flags-table"
            queryKey={[RISK, 'flags', tenantId, status]}
            fetch={(request) => fetchRiskFlags(tenantId, status === 'all' ? undefined : status, request)}
            rowKey="id"
            scroll={{ x: 'max-content' }}
            locale={{ emptyText: <EmptyState text={t('risk.flags.none')} /> }}
            columns={[
              {
                title: t('risk.flags.rule'),
                render: (_, f) => (
                  <Flex vertical>
                    <span>{t(`risk.rules.${f.rule}.name`)}</span>
                    <Typography.Text type="secondary" style={{ whiteSpace: 'nowrap' }}>{fmt.dateTime(f.createdAt)}</Typography.Text>
                  </Flex>
                ),
              },
              {
                title: t('risk.flags.subject'),
                render: (_, f) => (
                  <Flex vertical>
                    <Typography.Text ellipsis={{ tooltip: f.customerEmail }} style={{ maxWidth: 220 }}>
                      {f.customerEmail ?? f.customerId}
                    </Typography.Text>
                    {f.subjectType === 'key' && (
                      <Typography.Text type="secondary" style={{ whiteSpace: 'nowrap' }}>
                        {t('risk.flags.key', { name: f.keyName ?? '', prefix: f.keyPrefix ?? '' })}
                      </Typography.Text>
                    )}
                  </Flex>
                ),
              },
              { title: t('risk.flags.observed'), render: (_, f) => t('risk.flags.overThreshold', { observed: value(f, f.observed), threshold: value(f, f.threshold) }) },
              {
                title: t('risk.flags.window'),
                responsive: ['xl'],
                render: (_, f) => (
                  <Flex vertical>
                    <span>{fmt.dateTime(f.windowStart)}</span>
                    <Typography.Text type="secondary">{t('risk.flags.until', { time: fmt.dateTime(f.windowEnd) })}</Typography.Text>
                  </Flex>
                ),
              },
              {
                title: t('risk.flags.action'),
                render: (_, f) => (
                  <Flex vertical gap={4} align="start">
                    <Flex wrap gap={4}>
                      <Tag color={f.action === 'flag' ? undefined : '#ad4e00'}>{t(`risk.actions.${f.action}`)}</Tag>
                      {f.status === 'resolved' && <Tag color="#237804">{t('risk.flags.filter.resolved')}</Tag>}
                    </Flex>
                    {f.suspendedKeyIds.length > 0 && <Typography.Text type="secondary">{t('risk.flags.suspendedKeys', { count: f.suspendedKeyIds.length })}</Typography.Text>}
                    {f.status === 'open' && canEdit && (
                      <Button size="small" type="primary" onClick={() => setResolving(f)} data-testid={`risk-resolve-${f.id}`}>
                        {t('risk.flags.resolve')}
                      </Button>
                    )}
                  </Flex>
                ),
              },
            ]}
          />
        )}
      </Card>
      {tenantId && <ResolveFlag tenantId={tenantId} flag={resolving} onClose={() => setResolving(undefined)} />}
    </Page>
  );
}

function RulesForm({ tenantId, canEdit }: { tenantId: string; canEdit: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const rules = useRiskRules(tenantId);
  const { setRules } = useRiskMutations(tenantId);
  const [form] = Form.useForm<{ rules: RiskRuleInput[] }>();
  useEffect(() => {
    if (rules.data) form.setFieldsValue({ rules: rules.data.rules.map(({ rule, enabled, threshold, action }) => ({ rule, enabled, threshold, action }) as RiskRuleInput) });
  }, [rules.data, form]);
  if (rules.error) return <ProblemAlert error={rules.error} />;
  const list: RiskRule[] = rules.data?.rules ?? [];
  return (
    <Card title={t('risk.rulesTitle')} loading={rules.isLoading}>
      <Form
        form={form}
        layout="vertical"
        disabled={!canEdit}
        onFinish={async (v) => {
          await setRules.mutateAsync(v.rules.map((r) => ({ ...r, threshold: String(r.threshold).trim() })));
          message.success(t('risk.saved'));
        }}
      >
        {setRules.error && <ProblemAlert error={setRules.error} />}
        <Flex vertical gap={12}>
          {list.map((r, i) => (
            <Card key={r.rule} size="small" data-testid={`risk-rule-${r.rule}`}>
              <Form.Item name={['rules', i, 'rule']} hidden>
                <Input />
              </Form.Item>
              <Flex justify="space-between" align="start" gap={12}>
                <Flex vertical>
                  <Typography.Text strong>{t(`risk.rules.${r.rule}.name`)}</Typography.Text>
                  <Typography.Text type="secondary">{t(`risk.rules.${r.rule}.help`)}</Typography.Text>
                </Flex>
                <Form.Item name={['rules', i, 'enabled']} valuePropName="checked" style={{ margin: 0 }}>
                  <Switch aria-label={t('risk.enabledFor', { rule: t(`risk.rules.${r.rule}.name`) })} />
                </Form.Item>
              </Flex>
              <Flex wrap gap={12} style={{ marginTop: 12 }}>
                <Form.Item
                  name={['rules', i, 'threshold']}
                  label={t(`risk.rules.${r.rule}.threshold`)}
                  style={{ margin: 0, minWidth: 160, flex: '1 1 160px' }}
                  rules={[{ required: true, pattern: r.thresholdKind === 'count' ? /^[1-9][0-9]*$/ : /^(?=.*[1-9])[0-9]+(\.[0-9]{1,9})?$/, message: t(`risk.thresholdRule.${r.thresholdKind}`) }]}
                >
                  <Input inputMode={r.thresholdKind === 'count' ? 'numeric' : 'decimal'} />
                </Form.Item>
                <Form.Item name={['rules', i, 'action']} label={t('risk.action')} style={{ margin: 0, minWidth: 200, flex: '1 1 200px' }}>
                  <Select options={r.actions.map((a) => ({ value: a, label: t(`risk.actions.${a}`) }))} />
                </Form.Item>
              </Flex>
            </Card>
          ))}
          {canEdit && (
            <Flex justify="end">
              <Button type="primary" htmlType="submit" loading={setRules.isPending} data-testid="risk-save">
                {t('risk.save')}
              </Button>
            </Flex>
          )}
        </Flex>
      </Form>
    </Card>
  );
}

function ResolveFlag({ tenantId, flag, onClose }: { tenantId: string; flag?: RiskFlag; onClose: () => void }) {
  const { t } = useTranslation();
  const { resolve } = useRiskMutations(tenantId);
  const [form] = Form.useForm<{ reactivateKeys: boolean; note?: string }>();
  return (
    <Modal open={Boolean(flag)} title={t('risk.resolve.title')} okText={t('risk.flags.resolve')} cancelText={t('common.cancel')} onCancel={onClose} onOk={() => form.submit()} confirmLoading={resolve.isPending} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={{ reactivateKeys: (flag?.suspendedKeyIds.length ?? 0) > 0 }}
        onFinish={async (v) => {
          await resolve.mutateAsync({ flagId: flag!.id, reactivateKeys: Boolean(v.reactivateKeys), note: v.note?.trim() || undefined });
          onClose();
        }}
      >
        {resolve.error && <ProblemAlert error={resolve.error} />}
        <Typography.Paragraph>{t('risk.resolve.hint')}</Typography.Paragraph>
        {(flag?.suspendedKeyIds.length ?? 0) > 0 && (
          <Form.Item name="reactivateKeys" valuePropName="checked">
            <Checkbox data-testid="risk-reactivate">{t('risk.resolve.reactivate', { count: flag!.suspendedKeyIds.length })}</Checkbox>
          </Form.Item>
        )}
        <Form.Item name="note" label={t('risk.resolve.note')}>
          <Input.TextArea maxLength={500} rows={3} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
