import { App, Button, Card, Form, Input, Select, Switch } from 'antd';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { useIdentitySettings, useSaveIdentitySettings } from './api';

interface Values {
  signUpEnabled: boolean;
  signUpDomains: string[];
  signUpBonus: string;
  requireStaffTwoFactor: boolean;
}

/** The owner's identity settings: self sign-up (domains, bonus) and two-factor for staff. */
export function IdentitySettingsForm() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const settings = useIdentitySettings();
  const save = useSaveIdentitySettings();
  if (!settings.data) return <ProblemAlert error={settings.error} />;
  return (
    <Card>
      <Form<Values>
        layout="vertical"
        style={{ maxWidth: 520 }}
        initialValues={settings.data}
        onFinish={(v) => save.mutate({ ...v, signUpBonus: v.signUpBonus.trim() || '0' }, { onSuccess: () => void message.success(t('common.saved')) })}
        data-testid="identity-settings-form"
      >
        <Form.Item name="signUpEnabled" label={t('identity.settings.signUpEnabled')} valuePropName="checked" extra={t('identity.settings.signUpEnabledHint')}>
          <Switch />
        </Form.Item>
        <Form.Item name="signUpDomains" label={t('identity.settings.domains')} extra={t('identity.settings.domainsHint')}>
          <Select mode="tags" tokenSeparators={[',', ' ']} open={false} suffixIcon={null} />
        </Form.Item>
        <Form.Item
          name="signUpBonus"
          label={t('identity.settings.bonus')}
          extra={t('identity.settings.bonusHint')}
          rules={[{ pattern: /^\d{1,21}(\.\d{1,9})?$/, message: t('identity.settings.bonusInvalid') }]}
        >
          <Input inputMode="decimal" style={{ maxWidth: 200 }} />
        </Form.Item>
        <Form.Item name="requireStaffTwoFactor" label={t('identity.settings.requireStaffTwoFactor')} valuePropName="checked" extra={t('identity.settings.requireStaffTwoFactorHint')}>
          <Switch />
        </Form.Item>
        <ProblemAlert error={save.error} />
        <Button type="primary" htmlType="submit" loading={save.isPending} style={{ marginTop: 8 }}>
          {t('common.save')}
        </Button>
      </Form>
    </Card>
  );
}
