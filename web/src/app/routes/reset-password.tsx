import { Alert, Button, Form } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { AuthLayout, AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useConfirmReset } from '@/features/auth/api';
import { NewPasswordFields } from '@/features/auth/password-rules';

export default function ResetPasswordPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const confirm = useConfirmReset();
  const [form] = Form.useForm();
  const password: string = Form.useWatch('password', form) ?? '';
  const token = params.get('token');

  return (
    <AuthLayout>
      <AuthTitle>{t('reset.title')}</AuthTitle>
      {!token ? (
        <Alert type="error" showIcon message={t('reset.noToken')} />
      ) : confirm.isSuccess ? (
        <Alert type="success" showIcon message={t('reset.done')} action={<Link to="/sign-in">{t('auth.signIn')}</Link>} data-testid="reset-done" />
      ) : (
        <Form form={form} layout="vertical" requiredMark={false} onFinish={(v: { password: string }) => confirm.mutate({ token, password: v.password })}>
          <NewPasswordFields password={password} />
          {confirm.error && (
            <div style={{ marginBottom: 16 }}>
              <ProblemAlert error={confirm.error} />
            </div>
          )}
          <Button type="primary" htmlType="submit" block size="large" loading={confirm.isPending}>
            {t('reset.submit')}
          </Button>
        </Form>
      )}
    </AuthLayout>
  );
}
