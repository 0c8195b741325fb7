import { Alert } from 'antd';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { KeysTable } from '@/features/keys/keys-table';
import { useSite } from '@/hooks/use-site';

export default function KeysPage() {
  const { t } = useTranslation();
  const { data: site } = useSite();
  return (
    <Page title={t('nav.keys')}>
      <Alert type="info" showIcon message={t('keys.intro')} />
      <KeysTable models={site?.models?.map((m) => m.model) ?? []} />
    </Page>
  );
}
