import { Alert, Button, Form, Input } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { AuthLayout, AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useAcceptInvitation } from '@/features/auth/api';
import { NewPasswordFields } from '@/features/auth/password-rules';
import { resetRestore } from '../session-gate';

export default function AcceptInvitationPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const accept = useAcceptInvitation();
  const [form] = Form.useForm();
  const password: string = Form.useWatch('password', form) ?? '';
  const token = params.get('token');

  return (
    <AuthLayout>
      <AuthTitle>{t('invitation.title')}</AuthTitle>
      {!token ? (
        <Alert type="error" showIcon message={t('invitation.noToken')} />
      ) : (
        <Form
          form={form}
          layout="vertical"
          requiredMark={false}
          onFinish={(v: { password: string; displayName?: string }) =>
            accept.mutate(
              { token, password: v.password, displayName: v.displayName || undefined },
              {
                onSuccess: () => {
                  resetRestore();
                  navigate('/dashboard', { replace: true });
                },
              },
            )
          }
        >
          <AuthText>{t('invitation.intro')}</AuthText>
          <Form.Item name="displayName" label={t('account.displayName')}>
            <Input autoComplete="name" maxLength={200} />
          </Form.Item>
          <NewPasswordFields password={password} />
          {accept.error && (
            <div style={{ marginBottom: 16 }}>
              <ProblemAlert error={accept.error} />
            </div>
          )}
          <Button type="primary" htmlType="submit" block size="large" loading={accept.isPending}>
            {t('invitation.submit')}
          </Button>
        </Form>
      )}
    </AuthLayout>
  );
}
