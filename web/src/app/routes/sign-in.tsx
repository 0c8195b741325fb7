import { Alert, Button, Form, Input } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { AuthLayout, AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useRequestReset, useSignIn } from '@/features/auth/api';
import { secondFactorChallenge } from '@/features/identity/api';
import { SecondFactorStep } from '@/features/identity/second-factor-step';
import { useSite } from '@/hooks/use-site';
import { resetRestore } from '../session-gate';

/** The failures the OIDC callback names in ?oidc_error= (see the api's OidcFailure). */
const OIDC_ERRORS = [
  'oidc_not_enabled',
  'oidc_rate_limited',
  'oidc_unavailable',
  'oidc_provider_unavailable',
  'oidc_sign_in_failed',
  'oidc_denied',
  'oidc_email_not_verified',
  'oidc_domain_not_allowed',
  'oidc_no_account',
  'account_disabled',
  'tenant_disabled',
  'tenant_mismatch',
  'cookie_session_needs_https',
];

export function SignInPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const signIn = useSignIn();
  const requestReset = useRequestReset();
  const [forgot, setForgot] = useState(false);
  const next = params.get('next');
  const { data: site } = useSite();
  const location = useLocation();
  // Single sign-on with two-factor on: the callback hands the challenge over in the fragment (never sent to a server).
  const [oidcChallenge, setOidcChallenge] = useState(() => new URLSearchParams(location.hash.slice(1)).get('oidc_challenge'));
  const challenge = secondFactorChallenge(signIn.error) ?? oidcChallenge;
  const oidcError = params.get('oidc_error');

  const onSignedIn = () => {
    resetRestore();
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
  };
  const onSignIn = async (values: { email: string; password: string }) => {
    await signIn.mutateAsync(values);
    onSignedIn();
  };

  if (challenge) {
    return (
      <AuthLayout>
        <SecondFactorStep
          challenge={challenge}
          onDone={onSignedIn}
          onCancel={() => {
            signIn.reset();
            setOidcChallenge(null);
            navigate({ search: location.search, hash: '' }, { replace: true });
          }}
        />
      </AuthLayout>
    );
  }

  if (forgot) {
    return (
      <AuthLayout>
        <AuthTitle>{t('auth.resetTitle')}</AuthTitle>
        {requestReset.isSuccess ? (
          <Alert type="success" showIcon message={t('auth.resetSent')} />
        ) : (
          <Form layout="vertical" requiredMark={false} onFinish={(v: { email: string }) => requestReset.mutate(v)}>
            <AuthText>{t('auth.resetHint')}</AuthText>
            <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, type: 'email', message: t('auth.emailRequired') }]}>
              <Input autoComplete="email" />
            </Form.Item>
            <ProblemAlert error={requestReset.error} />
            <Button type="primary" htmlType="submit" block loading={requestReset.isPending}>
              {t('auth.sendResetLink')}
            </Button>
          </Form>
        )}
        <Button type="link" onClick={() => setForgot(false)}>
          {t('auth.backToSignIn')}
        </Button>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout>
      <AuthTitle>{t('auth.signInTitle')}</AuthTitle>
      {params.get('expired') && <Alert type="warning" showIcon message={t('auth.sessionEnded')} data-testid="session-ended" />}
      {oidcError && (
        <Alert
          type="error"
          showIcon
          message={t(OIDC_ERRORS.includes(oidcError) ? `identity.oidc.errors.${oidcError}` : 'identity.oidc.errors.unknown')}
          data-testid="oidc-error"
        />
      )}
      {site?.oidc.enabled && (
        <>
          <Button size="large" block href={`/api/v1/auth/oidc/start${next && next.startsWith('/') && !next.startsWith('//') ? `?next=${encodeURIComponent(`/console${next}`)}` : ''}`} data-testid="oidc-sign-in">
            {t('identity.oidc.signInWith', { name: site.oidc.name })}
          </Button>
          <div style={{ textAlign: 'center' }}>
            <AuthText>{t('identity.oidc.or')}</AuthText>
          </div>
        </>
      )}
      <Form layout="vertical" requiredMark={false} onFinish={(v) => void onSignIn(v).catch(() => undefined)} data-testid="sign-in-form">
        <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, type: 'email', message: t('auth.emailRequired') }]}>
          <Input autoComplete="username" size="large" />
        </Form.Item>
        <Form.Item name="password" label={t('auth.password')} rules={[{ required: true, message: t('auth.passwordRequired') }]}>
          <Input.Password autoComplete="current-password" size="large" />
        </Form.Item>
        {signIn.error && (
          <div style={{ marginBottom: 16 }}>
            <ProblemAlert error={signIn.error} />
          </div>
        )}
        <Button type="primary" htmlType="submit" size="large" block loading={signIn.isPending}>
          {t('auth.signIn')}
        </Button>
      </Form>
      <Button type="link" onClick={() => setForgot(true)} style={{ alignSelf: 'center' }}>
        {t('auth.forgotPassword')}
      </Button>
      {site?.signUp.open && (
        <Link to="/sign-up" style={{ alignSelf: 'center' }} data-testid="sign-up-link">
          {t('identity.signUp.link')}
        </Link>
      )}
    </AuthLayout>
  );
}
