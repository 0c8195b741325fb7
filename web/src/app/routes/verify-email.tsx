import { Alert, Button, Spin } from 'antd';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { AuthLayout, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useVerifyEmail } from '@/features/identity/api';
import { useFormat } from '@/hooks/use-format';

/** The page of the mailed verification link: activates the account (a second visit says it is done). */
export default function VerifyEmailPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const token = params.get('token');
  const verify = useVerifyEmail();
  const format = useFormat();
  const navigate = useNavigate();
  useEffect(() => {
    if (token && verify.isIdle) verify.mutate(token);
  }, [token, verify]);

  const bonus = verify.data && Number(verify.data.bonus) > 0 ? verify.data.bonus : null;
  return (
    <AuthLayout>
      <AuthTitle>{t('identity.verify.title')}</AuthTitle>
      {!token ? (
        <Alert type="error" showIcon message={t('reset.noToken')} />
      ) : verify.isSuccess ? (
        <>
          <Alert
            type="success"
            showIcon
            data-testid="verify-done"
            message={t('identity.verify.done', { email: verify.data.email })}
            description={bonus ? t('identity.verify.bonus', { amount: format.money(bonus) }) : undefined}
          />
          <Button type="primary" size="large" block onClick={() => navigate('/sign-in')}>
            {t('auth.signIn')}
          </Button>
        </>
      ) : verify.isError ? (
        <ProblemAlert error={verify.error} />
      ) : (
        <Spin />
      )}
    </AuthLayout>
  );
}
