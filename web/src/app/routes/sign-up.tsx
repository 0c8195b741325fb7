import { Alert, Button, Form, Input } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { AuthLayout, AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { NewPasswordFields } from '@/features/auth/password-rules';
import { useRegister } from '@/features/identity/api';
import { useSite } from '@/hooks/use-site';

/** Self sign-up: shown only where the tenant's owner opened it (GET /api/v1/site says so). */
export default function SignUpPage() {
  const { t } = useTranslation();
  const { data: site } = useSite();
  const register = useRegister();
  const [form] = Form.useForm();
  const password: string = Form.useWatch('password', form) ?? '';
  const domains = site?.signUp.domains ?? [];

  return (
    <AuthLayout>
      <AuthTitle>{t('identity.signUp.title')}</AuthTitle>
      {site && !site.signUp.open ? (
        <Alert type="info" showIcon message={t('identity.signUp.closed')} data-testid="sign-up-closed" />
      ) : register.isSuccess ? (
        <Alert type="success" showIcon message={t('identity.signUp.sent')} description={t('identity.signUp.sentHint')} data-testid="sign-up-sent" />
      ) : (
        <Form form={form} layout="vertical" requiredMark={false} onFinish={(v: { email: string; password: string; displayName?: string }) => register.mutate({ email: v.email, password: v.password, displayName: v.displayName || undefined })} data-testid="sign-up-form">
          {domains.length > 0 && <AuthText>{t('identity.signUp.domains', { domains: domains.join(', ') })}</AuthText>}
          <Form.Item name="displayName" label={t('identity.signUp.name')}>
            <Input autoComplete="name" maxLength={200} />
          </Form.Item>
          <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, type: 'email', message: t('auth.emailRequired') }]}>
            <Input autoComplete="email" />
          </Form.Item>
          <NewPasswordFields password={password} />
          {register.error && (
            <div style={{ marginBottom: 16 }}>
              <ProblemAlert error={register.error} />
            </div>
          )}
          <Button type="primary" htmlType="submit" block size="large" loading={register.isPending}>
            {t('identity.signUp.submit')}
          </Button>
        </Form>
      )}
      <Link to="/sign-in" style={{ alignSelf: 'center' }}>
        {t('identity.signUp.haveAccount')}
      </Link>
    </AuthLayout>
  );
}
