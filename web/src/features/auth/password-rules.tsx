import { CheckCircleFilled, MinusCircleOutlined } from '@ant-design/icons';
import { Flex, Form, Input, Typography, theme } from 'antd';
import { useTranslation } from 'react-i18next';

/**
 * The api's password rule (auth.dto AcceptInvitationRequest): 12+ characters mixing three of
 * lower case, upper case, digits and symbols, or 16+ characters of anything. Shown before typing;
 * the api's own messages are shown when it refuses one anyway.
 */
export function passwordChecks(password: string) {
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  return { length: password.length >= 12, mix: classes >= 3 || password.length >= 16 };
}

export function PasswordRules({ password }: { password: string }) {
  const { t } = useTranslation();
  const { token } = theme.useToken();
  const checks = passwordChecks(password);
  const row = (ok: boolean, text: string) => (
    <Flex gap={8} align="center">
      {ok ? <CheckCircleFilled style={{ color: token.colorSuccess }} aria-hidden /> : <MinusCircleOutlined style={{ color: token.colorTextTertiary }} aria-hidden />}
      <Typography.Text type={ok ? 'success' : 'secondary'}>{text}</Typography.Text>
    </Flex>
  );
  return (
    <Flex vertical gap={4} aria-live="polite" data-testid="password-rules">
      <Typography.Text strong>{t('password.rulesTitle')}</Typography.Text>
      {row(checks.length, t('password.ruleLength'))}
      {row(checks.mix, t('password.ruleMix'))}
    </Flex>
  );
}

/**
 * A new password and its confirmation, with the rules shown above them (accept-invitation and
 * reset-password set a password the same way). Lives inside the page's antd Form.
 */
export function NewPasswordFields({ password }: { password: string }) {
  const { t } = useTranslation();
  return (
    <>
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
    </>
  );
}
