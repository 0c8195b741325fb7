import { App, Button, Card, Descriptions, Form, Input, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { useChangePassword, useUpdateProfile } from '@/features/account/api';
import { useMe } from '@/features/auth/api';
import { PasswordRules } from '@/features/auth/password-rules';

export default function AccountPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { data: me } = useMe();
  const profile = useUpdateProfile();
  const password = useChangePassword();
  const [passwordForm] = Form.useForm();
  const newPassword: string = Form.useWatch('newPassword', passwordForm) ?? '';
  if (!me) return null;
  return (
    <Page title={t('nav.account')}>
      <Card title={t('account.profile')}>
        <Descriptions column={1} size="small" style={{ marginBottom: 16 }}>
          <Descriptions.Item label={t('auth.email')}>{me.user.email}</Descriptions.Item>
          <Descriptions.Item label={t('account.organisation')}>{me.tenant.name}</Descriptions.Item>
          <Descriptions.Item label={t('account.roles')}>
            {me.roles.map((r) => (
              <Tag key={r}>{t(`roles.${r}`, { defaultValue: r })}</Tag>
            ))}
          </Descriptions.Item>
        </Descriptions>
        <Form
          layout="vertical"
          initialValues={{ displayName: me.user.displayName ?? '' }}
          onFinish={(v: { displayName: string }) => profile.mutate({ displayName: v.displayName || null }, { onSuccess: () => void message.success(t('common.saved')) })}
          style={{ maxWidth: 420 }}
        >
          <Form.Item name="displayName" label={t('account.displayName')}>
            <Input maxLength={200} autoComplete="name" />
          </Form.Item>
          <ProblemAlert error={profile.error} />
          <Button htmlType="submit" loading={profile.isPending}>
            {t('common.save')}
          </Button>
        </Form>
      </Card>
      <Card title={t('account.password')}>
        <Form
          form={passwordForm}
          layout="vertical"
          style={{ maxWidth: 420 }}
          onFinish={(v: { currentPassword: string; newPassword: string }) =>
            password.mutate(
              { currentPassword: v.currentPassword, newPassword: v.newPassword },
              {
                onSuccess: (result) => {
                  passwordForm.resetFields();
                  void message.success(t('account.passwordChanged', { count: result.sessionsEnded }));
                },
              },
            )
          }
        >
          <Form.Item name="currentPassword" label={t('account.currentPassword')} rules={[{ required: true, message: t('auth.passwordRequired') }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <PasswordRules password={newPassword} />
          <Form.Item name="newPassword" label={t('password.new')} rules={[{ required: true, message: t('auth.passwordRequired') }]} style={{ marginTop: 12 }}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
          <Typography.Paragraph type="secondary">{t('account.passwordSignsOutOthers')}</Typography.Paragraph>
          <ProblemAlert error={password.error} />
          <Button type="primary" htmlType="submit" loading={password.isPending}>
            {t('account.changePassword')}
          </Button>
        </Form>
      </Card>
    </Page>
  );
}
