import { Alert, App, Button, Card, Form, Input, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import { useConfirm } from '@/components/paged-table';
import { useConfirmEnrolment, useDisableTwoFactor, useStartEnrolment, useTwoFactorStatus } from './api';

/** The account page's two-factor section: on/off, enrolment with a QR code, recovery codes shown once. */
export function TwoFactorCard() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const confirmDialog = useConfirm();
  const status = useTwoFactorStatus();
  const start = useStartEnrolment();
  const confirm = useConfirmEnrolment();
  const disable = useDisableTwoFactor();
  const [codes, setCodes] = useState<string[] | null>(null);
  const enabled = status.data?.enabled ?? false;

  return (
    <Card
      title={t('identity.twoFactor.title')}
      extra={status.data && <Tag color={enabled ? '#237804' : undefined}>{enabled ? t('identity.twoFactor.on') : t('identity.twoFactor.off')}</Tag>}
      data-testid="two-factor-card"
    >
      {status.data?.required && !enabled && <Alert type="warning" showIcon message={t('identity.twoFactor.required')} style={{ marginBottom: 16 }} />}
      {codes && (
        <Alert
          type="success"
          showIcon
          style={{ marginBottom: 16 }}
          message={t('identity.twoFactor.codesTitle')}
          description={
            <>
              <Typography.Paragraph>{t('identity.twoFactor.codesHint')}</Typography.Paragraph>
              <pre data-testid="recovery-codes" style={{ fontSize: 14, lineHeight: 1.7, margin: '0 0 8px', padding: '8px 12px', background: '#fff', borderRadius: 6, columns: 2, maxWidth: 320 }}>
                {codes.join('\n')}
              </pre>
              <Typography.Paragraph copyable={{ text: codes.join('\n') }}>{t('identity.twoFactor.copyCodes')}</Typography.Paragraph>
              <Button onClick={() => setCodes(null)}>{t('identity.twoFactor.codesSaved')}</Button>
            </>
          }
        />
      )}
      {!enabled && !start.data && (
        <Space direction="vertical">
          <Typography.Text type="secondary">{t('identity.twoFactor.intro')}</Typography.Text>
          <Button type="primary" loading={start.isPending} onClick={() => start.mutate()} data-testid="two-factor-start">
            {t('identity.twoFactor.start')}
          </Button>
          <ProblemAlert error={start.error} />
        </Space>
      )}
      {!enabled && start.data && (
        <Space direction="vertical" style={{ maxWidth: 420 }}>
          <Typography.Text>{t('identity.twoFactor.scan')}</Typography.Text>
          <img src={start.data.qrCodeDataUrl} width={200} height={200} alt={t('identity.twoFactor.qrAlt')} />
          <Typography.Text type="secondary">{t('identity.twoFactor.manual')}</Typography.Text>
          <Typography.Text code copyable data-testid="two-factor-secret" style={{ wordBreak: 'break-all' }}>
            {start.data.secret}
          </Typography.Text>
          <Form
            layout="inline"
            onFinish={(v: { code: string }) =>
              confirm.mutate(v.code.replace(/\s/g, ''), {
                onSuccess: (r) => {
                  setCodes(r.recoveryCodes);
                  start.reset();
                  void message.success(t('identity.twoFactor.enabled'));
                },
              })
            }
          >
            <Form.Item name="code" label={t('identity.twoFactor.code')} rules={[{ required: true, message: t('identity.twoFactor.codeRequired') }]}>
              <Input autoComplete="one-time-code" inputMode="numeric" maxLength={7} style={{ width: 120 }} />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={confirm.isPending}>
              {t('identity.twoFactor.confirm')}
            </Button>
          </Form>
          <ProblemAlert error={confirm.error} />
        </Space>
      )}
      {enabled && (
        <Space direction="vertical" style={{ maxWidth: 420 }}>
          <Typography.Text type="secondary">{t('identity.twoFactor.codesLeft', { count: status.data?.recoveryCodesLeft ?? 0 })}</Typography.Text>
          {!status.data?.required && (
            <Form
              layout="inline"
              onFinish={async (v: { code: string }) => {
                if (!(await confirmDialog(t('identity.twoFactor.disableConfirm')))) return;
                const input = /^\s*\d{3}\s?\d{3}\s*$/.test(v.code) ? { code: v.code.replace(/\s/g, '') } : { recoveryCode: v.code.trim() };
                disable.mutate(input, { onSuccess: () => void message.success(t('identity.twoFactor.disabled')) });
              }}
            >
              <Form.Item name="code" label={t('identity.twoFactor.codeOrRecovery')} rules={[{ required: true, message: t('identity.twoFactor.codeRequired') }]}>
                <Input autoComplete="one-time-code" style={{ width: 160 }} />
              </Form.Item>
              <Button danger htmlType="submit" loading={disable.isPending}>
                {t('identity.twoFactor.disable')}
              </Button>
            </Form>
          )}
          <ProblemAlert error={disable.error} />
        </Space>
      )}
    </Card>
  );
}
