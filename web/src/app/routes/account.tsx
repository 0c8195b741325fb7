import { App, Button, Card, Descriptions, Form, Input, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { ProblemAlert } from '@/components/problem-alert';
import { SessionView, useChangePassword, useEndSessions, useSessions, useUpdateProfile } from '@/features/account/api';
import { ScrollRegion } from '@/components/scroll-region';
import { useFormat } from '@/hooks/use-format';
import { useMe } from '@/features/auth/api';
import { PasswordRules } from '@/features/auth/password-rules';
import { PersonalDataCard } from '@/features/identity/personal-data-card';
import { TwoFactorCard } from '@/features/identity/two-factor-card';

export default function AccountPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { data: me } = useMe();
  const profile = useUpdateProfile();
  const password = useChangePassword();
  const [passwordForm] = Form.useForm();
  const newPassword: string = Form.useWatch('newPassword', passwordForm) ?? '';
  const sessions = useSessions();
  const endSessions = useEndSessions();
  const format = useFormat();
  if (!me) return null;
  const others = sessions.data?.items.filter((s) => !s.current).map((s) => s.id) ?? [];
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
          onFinish={(v: { displayName: string }) => profile.mutate({ displayName: (v.displayName || null) as never }, { onSuccess: () => void message.success(t('common.saved')) })}
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
      <Card
        title={t('account.sessions')}
        extra={
          others.length > 0 && (
            <Button loading={endSessions.isPending} onClick={() => endSessions.mutate(others)} data-testid="end-other-sessions">
              {t('account.endOtherSessions')}
            </Button>
          )
        }
      >
        <ProblemAlert error={sessions.error ?? endSessions.error} />
        <ScrollRegion label={t('account.sessions')}>
          <Table<SessionView>
            rowKey="id"
            size="small"
            loading={sessions.isPending}
            dataSource={sessions.data?.items}
            pagination={false}
            style={{ minWidth: 640 }}
            columns={[
              { title: t('account.device'), dataIndex: 'userAgent', render: (ua: string | null, s) => <>{describeAgent(ua) ?? t('account.unknownDevice')} {s.current && <Tag color="#237804">{t('account.thisSession')}</Tag>}</> },
              { title: t('account.ip'), dataIndex: 'ip', render: (ip: string | null) => ip ?? '—' },
              { title: t('account.lastActive'), dataIndex: 'lastActiveAt', render: (at: string) => format.dateTime(at) },
              { title: t('account.started'), dataIndex: 'startedAt', render: (at: string) => format.dateTime(at) },
              {
                title: <span className="sr-only">{t('common.actions')}</span>,
                key: 'end',
                render: (_, s) => (s.current ? null : <Button size="small" onClick={() => endSessions.mutate([s.id])}>{t('account.endSession')}</Button>),
              },
            ]}
          />
        </ScrollRegion>
      </Card>
      <TwoFactorCard />
      <PersonalDataCard mayDelete={me.roles.every((r) => r === 'user')} />
    </Page>
  );
}

/** "Chrome on Linux" from a user agent, roughly; the raw string is too long for a table. */
function describeAgent(ua: string | null): string | undefined {
  if (!ua) return undefined;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /openai|node|python|curl/i.exec(ua)?.[0];
  const system = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : undefined;
  return [browser ?? ua.slice(0, 40), system].filter(Boolean).join(' · ');
}
