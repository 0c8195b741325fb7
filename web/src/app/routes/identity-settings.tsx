import { Space } from 'antd';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { OidcSettingsForm } from '@/features/identity/oidc-settings-form';
import { IdentitySettingsForm } from '@/features/identity/settings-form';

export default function IdentitySettingsPage() {
  const { t } = useTranslation();
  return (
    <Page title={t('identity.nav.settings')}>
      <Space direction="vertical" size="large" style={{ width: '100%' }}>
        <IdentitySettingsForm />
        <OidcSettingsForm />
      </Space>
    </Page>
  );
}
