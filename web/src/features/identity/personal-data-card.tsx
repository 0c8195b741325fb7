import { Button, Card, Form, Input, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { ProblemAlert } from '@/components/problem-alert';
import { useConfirm } from '@/components/paged-table';
import { saveBlob } from '@/lib/download';
import { useDeleteAccount, useExportPersonalData } from './api';

/** The account page's personal-data section: download everything kept about you; delete your account (customers). */
export function PersonalDataCard({ mayDelete }: { mayDelete: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const confirm = useConfirm();
  const exportData = useExportPersonalData();
  const remove = useDeleteAccount();
  return (
    <Card title={t('identity.personalData.title')} data-testid="personal-data-card">
      <Space direction="vertical" style={{ maxWidth: 480 }}>
        <Typography.Text type="secondary">{t('identity.personalData.exportHint')}</Typography.Text>
        <Button
          loading={exportData.isPending}
          onClick={() =>
            exportData.mutate(undefined, {
              onSuccess: (data) => saveBlob('personal-data.json', new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' })),
            })
          }
        >
          {t('identity.personalData.export')}
        </Button>
        <ProblemAlert error={exportData.error} />
        {mayDelete && (
          <>
            <Typography.Title level={5} style={{ marginTop: 16 }}>
              {t('identity.personalData.deleteTitle')}
            </Typography.Title>
            <Typography.Text type="secondary">{t('identity.personalData.deleteHint')}</Typography.Text>
            <Form
              layout="vertical"
              requiredMark={false}
              onFinish={async (v: { password: string }) => {
                if (!(await confirm(t('identity.personalData.deleteConfirm')))) return;
                remove.mutate(v.password, { onSuccess: () => navigate('/sign-in', { replace: true }) });
              }}
            >
              <Form.Item name="password" label={t('auth.password')} rules={[{ required: true, message: t('auth.passwordRequired') }]}>
                <Input.Password autoComplete="current-password" />
              </Form.Item>
              <Button danger htmlType="submit" loading={remove.isPending}>
                {t('identity.personalData.delete')}
              </Button>
            </Form>
            <ProblemAlert error={remove.error} />
          </>
        )}
      </Space>
    </Card>
  );
}
