import { Alert, Button, Form, Input } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router-dom';
import { AuthLayout, AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useConfirmReset } from '@/features/auth/api';
import { PasswordRules } from '@/features/auth/password-rules';

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
          <PasswordRules password={password} />
          <Form.Item name="password" label={t('password.new')} rules={[{ required: true, message: t('auth.passwordRequired') }]} style={{ marginTop: 12 }}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
          <Form.Item
            name="confirm"
            label={t('password.confirm')}
            dependencies={['password']}
            rules={[
              { required: true, message: t('password.confirmRequired') },
              ({ getFieldValue }) => ({ validator: (_, v) => (v === getFieldValue('password') ? Promise.resolve() : Promise.reject(new Error(t('password.mismatch')))) }),
            ]}
          >
            <Input.Password autoComplete="new-password" />
          </Form.Item>
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
