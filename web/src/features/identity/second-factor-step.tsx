import { Button, Form, Input } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AuthText, AuthTitle } from '@/components/auth-layout';
import { ProblemAlert } from '@/components/problem-alert';
import { useSecondFactorSignIn } from './api';

/** The second step of signing in with two-factor on: the authenticator's code, or a recovery code. */
export function SecondFactorStep({ challenge, onDone, onCancel }: { challenge: string; onDone: () => void; onCancel: () => void }) {
  const { t } = useTranslation();
  const step = useSecondFactorSignIn();
  const [recovery, setRecovery] = useState(false);
  const submit = (v: { code: string }) =>
    step.mutate(recovery ? { challenge, recoveryCode: v.code.trim() } : { challenge, code: v.code.replace(/\s/g, '') }, { onSuccess: onDone });
  return (
    <>
      <AuthTitle>{t('identity.twoFactor.stepTitle')}</AuthTitle>
      <Form layout="vertical" requiredMark={false} onFinish={submit} data-testid="second-factor-form" key={recovery ? 'recovery' : 'code'}>
        <AuthText>{recovery ? t('identity.twoFactor.recoveryHint') : t('identity.twoFactor.codeHint')}</AuthText>
        <Form.Item
          name="code"
          label={recovery ? t('identity.twoFactor.recoveryCode') : t('identity.twoFactor.code')}
          rules={[{ required: true, message: t('identity.twoFactor.codeRequired') }]}
        >
          <Input
            autoFocus
            size="large"
            autoComplete="one-time-code"
            inputMode={recovery ? 'text' : 'numeric'}
            maxLength={recovery ? 40 : 7}
          />
        </Form.Item>
        {step.error && (
          <div style={{ marginBottom: 16 }}>
            <ProblemAlert error={step.error} />
          </div>
        )}
        <Button type="primary" htmlType="submit" size="large" block loading={step.isPending}>
          {t('identity.twoFactor.verify')}
        </Button>
      </Form>
      <Button type="link" onClick={() => setRecovery(!recovery)} style={{ alignSelf: 'center' }}>
        {recovery ? t('identity.twoFactor.useCode') : t('identity.twoFactor.useRecovery')}
      </Button>
      <Button type="link" onClick={onCancel} style={{ alignSelf: 'center' }}>
        {t('auth.backToSignIn')}
      </Button>
    </>
  );
}
