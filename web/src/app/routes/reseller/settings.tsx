import { Alert, App, Button, Card, Checkbox, Flex, Form, Input, InputNumber, List, Modal, Select, Space, Switch, Tabs, Tag, Typography } from 'antd';
import { DeleteOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import {
  Branding,
  CODES,
  fetchCodes,
  RedemptionCode,
  useCodeMutations,
  usePaymentMutations,
  usePaymentSettings,
  useSetTenantThreshold,
  useTenant,
  useTenantMutations,
  useTenantThreshold,
} from '@/features/reseller/api';
import { DomainStatusTag, DomainVerification } from '@/features/reseller/domain-verification';
import { POSITIVE_AMOUNT, StatusTag, str, TEXT_COLOURS, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';
import { saveBlob } from '@/lib/download';

function BrandingTab({ tenantId }: { tenantId: string }) {
  const { t } = useTranslation();
  const tenant = useTenant(tenantId, true);
  const { update, addDomain, removeDomain, verifyDomain } = useTenantMutations(tenantId);
  const confirm = useConfirm();
  const { message } = App.useApp();
  const [domain, setDomain] = useState('');
  if (!tenant.data) return <ProblemAlert error={tenant.error} />;
  const b = tenant.data.branding;
  return (
    <Flex vertical gap={16}>
      <Card size="small" title={t('reseller.settings.branding')}>
        <Form
          layout="vertical"
          initialValues={{ name: tenant.data.name, ...b, languages: b.languages ?? ['en', 'zh-CN'] }}
          onFinish={async (v: Branding & { name: string }) => {
            const { name, ...branding } = v;
            const clean = Object.fromEntries(Object.entries(branding).filter(([, value]) => value !== '' && value !== undefined && value !== null)) as Branding;
            await update.mutateAsync({ name, branding: clean });
            message.success(t('common.saved'));
          }}
          data-testid="branding-form"
        >
          {update.error && <ProblemAlert error={update.error} />}
          <Form.Item name="name" label={t('reseller.settings.name')} rules={[{ required: true }]}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="displayName" label={t('reseller.settings.displayName')}>
            <Input maxLength={100} />
          </Form.Item>
          <Form.Item name="logoUrl" label={t('reseller.settings.logoUrl')} rules={[{ type: 'url' }]}>
            <Input placeholder="https://" />
          </Form.Item>
          <Form.Item name="themeColor" label={t('reseller.settings.themeColor')} rules={[{ pattern: /^#[0-9a-fA-F]{6}$/, message: '#RRGGBB' }]}>
            <Input placeholder="#1f6feb" style={{ maxWidth: 160 }} />
          </Form.Item>
          <Form.Item name="supportEmail" label={t('reseller.settings.supportEmail')} rules={[{ type: 'email' }]}>
            <Input />
          </Form.Item>
          <Form.Item name="supportUrl" label={t('reseller.settings.supportUrl')} rules={[{ type: 'url' }]}>
            <Input placeholder="https://" />
          </Form.Item>
          <Form.Item name="languages" label={t('reseller.settings.languages')}>
            <Checkbox.Group options={[{ value: 'en', label: 'English' }, { value: 'zh-CN', label: '简体中文' }]} />
          </Form.Item>
          <Form.Item name="defaultLanguage" label={t('reseller.settings.defaultLanguage')}>
            <Select style={{ maxWidth: 200 }} allowClear options={[{ value: 'en', label: 'English' }, { value: 'zh-CN', label: '简体中文' }]} />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={update.isPending}>
            {t('common.save')}
          </Button>
        </Form>
      </Card>
      <Card size="small" title={t('reseller.settings.domains')}>
        {(addDomain.error || removeDomain.error || verifyDomain.error) && <ProblemAlert error={addDomain.error ?? removeDomain.error ?? verifyDomain.error} />}
        <List
          dataSource={tenant.data.domains}
          renderItem={(d) => (
            <List.Item
              actions={
                d.isPrimary
                  ? []
                  : [
                      <Button
                        key="remove"
                        size="small"
                        danger
                        icon={<DeleteOutlined />}
                        aria-label={t('reseller.settings.removeDomain', { domain: d.domain })}
                        onClick={async () => (await confirm(t('reseller.settings.removeDomainConfirm', { domain: d.domain }))) && removeDomain.mutate(d.id)}
                      />,
                    ]
              }
            >
              <Flex vertical gap={4} style={{ minWidth: 0, width: '100%' }}>
                <Space wrap>
                  <Typography.Text code>{d.domain}</Typography.Text>
                  {d.isPrimary && <Tag color="blue">{t('reseller.settings.primary')}</Tag>}
                  <DomainStatusTag domain={d} />
                </Space>
                <DomainVerification domain={d} checking={verifyDomain.isPending && verifyDomain.variables === d.id} check={() => verifyDomain.mutateAsync(d.id).catch(() => null)} />
              </Flex>
            </List.Item>
          )}
        />
        <Space.Compact style={{ width: '100%', maxWidth: 420, marginTop: 8 }}>
          <Input value={domain} onChange={(e) => setDomain(e.target.value)} placeholder="console.example.com" aria-label={t('reseller.settings.newDomain')} />
          <Button
            onClick={async () => {
              await addDomain.mutateAsync(domain.trim().toLowerCase());
              setDomain('');
            }}
            disabled={!domain.trim()}
            loading={addDomain.isPending}
          >
            {t('reseller.settings.addDomain')}
          </Button>
        </Space.Compact>
      </Card>
    </Flex>
  );
}

function ThresholdTab({ tenantId }: { tenantId: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const threshold = useTenantThreshold(tenantId, true);
  const set = useSetTenantThreshold(tenantId);
  const { message } = App.useApp();
  const d = threshold.data;
  return (
    <Card size="small" title={t('reseller.settings.threshold')}>
      {(threshold.error || set.error) && <ProblemAlert error={threshold.error ?? set.error} />}
      <Typography.Paragraph type="secondary">{t('reseller.settings.thresholdHint', { amount: d ? fmt.money(d.effectiveThreshold) : '—' })}</Typography.Paragraph>
      {d && (
        <Form
          layout="inline"
          initialValues={{ threshold: d.threshold ?? '' }}
          onFinish={async (v: { threshold: string }) => {
            await set.mutateAsync(v.threshold.trim() === '' ? null : v.threshold.trim());
            message.success(t('common.saved'));
          }}
        >
          <Form.Item name="threshold" label={t('reseller.settings.defaultThreshold', { currency: fmt.currency })} rules={[{ pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
            <Input inputMode="decimal" placeholder={t('reseller.settings.platformDefault')} style={{ width: 160 }} />
          </Form.Item>
          <Button htmlType="submit" loading={set.isPending}>
            {t('common.save')}
          </Button>
        </Form>
      )}
    </Card>
  );
}

function PaymentsTab() {
  const { t } = useTranslation();
  const settings = usePaymentSettings(true);
  const { update, test } = usePaymentMutations();
  const { message } = App.useApp();
  const s = settings.data;
  if (!s) return <ProblemAlert error={settings.error} />;
  return (
    <Form
      layout="vertical"
      initialValues={{ minAmount: s.minAmount, maxAmount: s.maxAmount, stripe: { enabled: s.stripe.enabled, currency: s.stripe.currency }, epay: { enabled: s.epay.enabled, merchantId: str(s.epay.merchantId), gatewayUrl: str(s.epay.gatewayUrl) } }}
      onFinish={async (v: { minAmount: string; maxAmount: string; stripe: Record<string, unknown>; epay: Record<string, unknown> }) => {
        const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, value]) => value !== '' && value !== undefined && value !== null));
        await update.mutateAsync({ minAmount: v.minAmount, maxAmount: v.maxAmount, stripe: drop(v.stripe), epay: drop(v.epay) });
        message.success(t('common.saved'));
      }}
    >
      <Flex vertical gap={16}>
        {update.error && <ProblemAlert error={update.error} />}
        {test.error && <ProblemAlert error={test.error} />}
        {test.data && <Alert type={(test.data as { ok?: boolean }).ok ? 'success' : 'warning'} showIcon message={JSON.stringify(test.data)} />}
        <Card size="small" title="Stripe" extra={<Button size="small" onClick={() => test.mutate('stripe')} loading={test.isPending}>{t('reseller.settings.test')}</Button>}>
          <Form.Item name={['stripe', 'enabled']} label={t('reseller.settings.enabled')} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item name={['stripe', 'secretKey']} label={t('reseller.settings.stripeKey', { last4: str(s.stripe.secretKeyLast4) ?? '—' })}>
            <Input.Password autoComplete="off" placeholder={t('reseller.settings.unchanged')} />
          </Form.Item>
          <Form.Item name={['stripe', 'webhookSecret']} label={t('reseller.settings.stripeWebhookSecret', { set: s.stripe.webhookSecretSet ? '✓' : '—' })}>
            <Input.Password autoComplete="off" placeholder={t('reseller.settings.unchanged')} />
          </Form.Item>
          <Typography.Text type="secondary">{t('reseller.settings.webhookUrl')}: </Typography.Text>
          <Typography.Text code copyable>{s.stripe.webhookUrl}</Typography.Text>
        </Card>
        <Card size="small" title="Epay" extra={<Button size="small" onClick={() => test.mutate('epay')} loading={test.isPending}>{t('reseller.settings.test')}</Button>}>
          <Form.Item name={['epay', 'enabled']} label={t('reseller.settings.enabled')} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item name={['epay', 'merchantId']} label={t('reseller.settings.merchantId')}>
            <Input />
          </Form.Item>
          <Form.Item name={['epay', 'key']} label={t('reseller.settings.merchantKey', { set: s.epay.keySet ? '✓' : '—' })}>
            <Input.Password autoComplete="off" placeholder={t('reseller.settings.unchanged')} />
          </Form.Item>
          <Form.Item name={['epay', 'gatewayUrl']} label={t('reseller.settings.gatewayUrl')}>
            <Input placeholder="https://" />
          </Form.Item>
          <Typography.Text type="secondary">{t('reseller.settings.notifyUrl')}: </Typography.Text>
          <Typography.Text code copyable>{s.epay.notifyUrl}</Typography.Text>
        </Card>
        <Card size="small" title={t('reseller.settings.limits')}>
          <Flex gap={16} wrap>
            <Form.Item name="minAmount" label={t('reseller.settings.minAmount')} rules={[{ pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
              <Input inputMode="decimal" style={{ width: 160 }} />
            </Form.Item>
            <Form.Item name="maxAmount" label={t('reseller.settings.maxAmount')} rules={[{ pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
              <Input inputMode="decimal" style={{ width: 160 }} />
            </Form.Item>
          </Flex>
        </Card>
        <div>
          <Button type="primary" htmlType="submit" loading={update.isPending}>
            {t('common.save')}
          </Button>
        </div>
      </Flex>
    </Form>
  );
}

function CodesTab() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const { issue, disable } = useCodeMutations();
  const confirm = useConfirm();
  const [issued, setIssued] = useState<{ codes: string[]; csv: string }>();
  return (
    <Flex vertical gap={16}>
      <Card size="small" title={t('reseller.settings.issueCodes')}>
        <Form
          layout="inline"
          initialValues={{ count: 10 }}
          onFinish={async (v: { amount: string; count: number }) => {
            const created = await issue.mutateAsync({ amount: v.amount.trim(), count: v.count });
            setIssued({ codes: created.codes.map((c) => c.code), csv: created.csv });
          }}
        >
          {issue.error && <ProblemAlert error={issue.error} />}
          <Form.Item name="amount" label={t('reseller.settings.codeAmount', { currency: fmt.currency })} rules={[{ required: true, pattern: POSITIVE_AMOUNT, message: t('reseller.amountRule') }]}>
            <Input inputMode="decimal" style={{ width: 120 }} />
          </Form.Item>
          <Form.Item name="count" label={t('reseller.settings.codeCount')} rules={[{ required: true }]}>
            <InputNumber min={1} max={1000} />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={issue.isPending}>
            {t('reseller.settings.issue')}
          </Button>
        </Form>
      </Card>
      <PagedTable<RedemptionCode>
        testId="codes-table"
        queryKey={[CODES, 'list']}
        fetch={fetchCodes}
        rowKey="id"
        locale={{ emptyText: <EmptyState text={t('reseller.settings.noCodes')} /> }}
        columns={[
          { title: t('reseller.settings.code'), render: (_, c) => <Typography.Text code>{c.codeHint}</Typography.Text> },
          { title: t('reseller.settings.codeAmountShort'), align: 'right', render: (_, c) => fmt.money(c.amount) },
          { title: t('reseller.withdrawals.status'), render: (_, c) => <StatusTag status={c.status} /> },
          { title: t('reseller.topups.created'), render: (_, c) => fmt.dateTime(c.createdAt) },
          {
            title: t('common.actions'),
            render: (_, c) =>
              c.status === 'active' && (
                <Button size="small" danger onClick={async () => (await confirm(t('reseller.settings.disableCode', { code: c.codeHint }))) && disable.mutate(c.id)}>
                  {t('reseller.members.disable')}
                </Button>
              ),
          },
        ]}
      />
      <Modal
        open={Boolean(issued)}
        title={t('reseller.settings.issuedTitle')}
        onCancel={() => setIssued(undefined)}
        onOk={() => setIssued(undefined)}
        okText={t('reseller.webhooks.secretSaved')}
        cancelButtonProps={{ style: { display: 'none' } }}
        maskClosable={false}
      >
        <Flex vertical gap={12}>
          <Alert type="warning" showIcon message={t('reseller.settings.issuedWarning')} />
          <Button onClick={() => issued && saveBlob('prepaid-codes.csv', new Blob([issued.csv], { type: 'text/csv' }))}>{t('reseller.settings.downloadCsv')}</Button>
          <Typography.Paragraph code copyable={{ text: issued?.codes.join('\n') }} style={{ whiteSpace: 'pre-wrap', maxHeight: 240, overflow: 'auto', margin: 0 }}>
            {issued?.codes.join('\n')}
          </Typography.Paragraph>
        </Flex>
      </Modal>
    </Flex>
  );
}

/** Tenant settings: branding and domains, the low-balance threshold, payments and prepaid codes (each tab for whoever may use it). */
export default function SettingsPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const can = useCan();
  const tenantId = me?.tenant.id ?? '';
  const tabs = [
    can('update', 'Tenant') && { key: 'branding', label: t('reseller.settings.brandingTab'), children: <BrandingTab tenantId={tenantId} /> },
    can('read', 'LowBalanceSettings') && { key: 'threshold', label: t('reseller.settings.thresholdTab'), children: <ThresholdTab tenantId={tenantId} /> },
    can('read', 'PaymentSettings') && { key: 'payments', label: t('reseller.settings.paymentsTab'), children: <PaymentsTab /> },
    can('read', 'RedemptionCode') && { key: 'codes', label: t('reseller.settings.codesTab'), children: <CodesTab /> },
  ].filter((tab): tab is { key: string; label: string; children: JSX.Element } => Boolean(tab));
  return (
    <Page title={t('reseller.nav.settings')}>
      <Tabs items={tabs} destroyInactiveTabPane />
    </Page>
  );
}
