import { App, Button, Card, Form, Input, Select, Space, Switch, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useOidcSettings, useRemoveOidcSettings, useSaveOidcSettings } from './api';

interface Values {
  enabled: boolean;
  displayName: string;
  issuerUrl: string;
  clientId: string;
  clientSecret?: string;
  createAccounts: boolean;
  allowedDomains: string[];
}

/**
 * The owner's single sign-on: their OpenID Connect provider. The client secret is write-only:
 * the field is empty and says whether one is stored; leaving it empty keeps it.
 */
export function OidcSettingsForm() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const confirm = useConfirm();
  const settings = useOidcSettings();
  const save = useSaveOidcSettings();
  const remove = useRemoveOidcSettings();
  const [form] = Form.useForm<Values>();
  if (!settings.data) return <ProblemAlert error={settings.error} />;
  const data = settings.data;
  const onFinish = (v: Values) => {
    const { clientSecret, ...rest } = v;
    save.mutate(
      { ...rest, ...(clientSecret ? { clientSecret } : {}) },
      {
        onSuccess: () => {
          form.setFieldValue('clientSecret', undefined);
          void message.success(t('common.saved'));
        },
      },
    );
  };
  return (
    <Card title={t('identity.oidc.title')} data-testid="oidc-settings-card">
      <Space direction="vertical" style={{ width: '100%', maxWidth: 520 }}>
        <Typography.Text type="secondary">{t('identity.oidc.intro')}</Typography.Text>
        <div>
          <Typography.Text strong>{t('identity.oidc.redirectUri')}</Typography.Text>
          <Typography.Paragraph copyable code style={{ marginTop: 4, wordBreak: 'break-all' }} data-testid="oidc-redirect-uri">
            {data.redirectUri}
          </Typography.Paragraph>
        </div>
        <Form<Values>
          form={form}
          key={data.updatedAt ?? 'new'}
          layout="vertical"
          requiredMark={false}
          initialValues={{ ...data, clientSecret: undefined }}
          onFinish={onFinish}
          data-testid="oidc-settings-form"
        >
          <Form.Item name="enabled" label={t('identity.oidc.enabled')} valuePropName="checked" extra={t('identity.oidc.enabledHint')}>
            <Switch />
          </Form.Item>
          <Form.Item name="displayName" label={t('identity.oidc.displayName')} extra={t('identity.oidc.displayNameHint')} rules={[{ required: true, max: 60, message: t('identity.oidc.required') }]}>
            <Input maxLength={60} />
          </Form.Item>
          <Form.Item name="issuerUrl" label={t('identity.oidc.issuerUrl')} extra={t('identity.oidc.issuerUrlHint')} rules={[{ required: true, type: 'url', message: t('identity.oidc.issuerUrlInvalid') }]}>
            <Input inputMode="url" placeholder="https://login.example.com" />
          </Form.Item>
          <Form.Item name="clientId" label={t('identity.oidc.clientId')} rules={[{ required: true, message: t('identity.oidc.required') }]}>
            <Input autoComplete="off" />
          </Form.Item>
          <Form.Item
            name="clientSecret"
            label={t('identity.oidc.clientSecret')}
            extra={data.clientSecretSet ? t('identity.oidc.clientSecretKept') : t('identity.oidc.clientSecretHint')}
            rules={data.clientSecretSet ? [] : [{ required: true, message: t('identity.oidc.required') }]}
          >
            <Input.Password autoComplete="new-password" placeholder={data.clientSecretSet ? '••••••••' : undefined} />
          </Form.Item>
          <Form.Item name="createAccounts" label={t('identity.oidc.createAccounts')} valuePropName="checked" extra={t('identity.oidc.createAccountsHint')}>
            <Switch />
          </Form.Item>
          <Form.Item name="allowedDomains" label={t('identity.settings.domains')} extra={t('identity.oidc.domainsHint')}>
            <Select mode="tags" tokenSeparators={[',', ' ']} open={false} suffixIcon={null} />
          </Form.Item>
          <ProblemAlert error={save.error ?? remove.error} />
          <Space wrap style={{ marginTop: 8 }}>
            <Button type="primary" htmlType="submit" loading={save.isPending}>
              {t('common.save')}
            </Button>
            {data.configured && (
              <Button
                danger
                loading={remove.isPending}
                onClick={async () => {
                  if (await confirm(t('identity.oidc.removeConfirm'))) remove.mutate();
                }}
              >
                {t('identity.oidc.remove')}
              </Button>
            )}
          </Space>
        </Form>
      </Space>
    </Card>
  );
}
