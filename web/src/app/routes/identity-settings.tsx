import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { IdentitySettingsForm } from '@/features/identity/settings-form';

export default function IdentitySettingsPage() {
  const { t } = useTranslation();
  return (
    <Page title={t('identity.nav.settings')}>
      <IdentitySettingsForm />
    </Page>
  );
}
