import { App, Button, Checkbox, Dropdown, Form, Input, Modal, Space, Tag, Typography } from 'antd';
import { MoreOutlined, UserAddOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import { ProblemAlert } from '@/components/problem-alert';
import { useMe } from '@/features/auth/api';
import { fetchMembers, Member, MEMBERS, Role, useInviteMember, useMemberAction, useSetRoles } from '@/features/reseller/api';
import { StatusTag, str, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

/** The roles a reseller's staff can hold (a reseller has no operator or tech; customers are on the customers page). */
const STAFF_ROLES: Role[] = ['owner', 'finance', 'sales'];

/** Members and their roles: owner and operator invite and disable; only the owner grants and revokes roles. */
export default function MembersPage() {
  const { t } = useTranslation();
  const { data: me } = useMe();
  const can = useCan();
  const fmt = useFormat();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const tenantId = me?.tenant.id ?? '';
  const [inviting, setInviting] = useState(false);
  const [editing, setEditing] = useState<Member>();
  const action = useMemberAction(tenantId);
  const canAssign = can('assign', 'RoleAssignment');
  const grantable = me?.roles.includes('owner') ? STAFF_ROLES : STAFF_ROLES.filter((r) => r !== 'owner');

  const act = async (m: Member, kind: 'disable' | 'enable' | 'remove') => {
    if (kind !== 'enable' && !(await confirm(t(`reseller.members.${kind}Confirm`, { email: m.email })))) return;
    try {
      await action.mutateAsync({ userId: m.id, action: kind });
      message.success(t('common.saved'));
    } catch (error) {
      message.error((error as Error).message);
    }
  };

  return (
    <Page
      title={t('reseller.nav.members')}
      extra={
        can('invite', 'Member') && (
          <Button type="primary" icon={<UserAddOutlined />} onClick={() => setInviting(true)} data-testid="member-invite">
            {t('reseller.members.invite')}
          </Button>
        )
      }
    >
      <PagedTable<Member>
        testId="members-table"
        queryKey={[MEMBERS, tenantId]}
        fetch={(request) => fetchMembers(tenantId, { ...request, staff: true })}
        rowKey="id"
        searchPlaceholder={t('reseller.members.search')}
        columns={[
          {
            title: t('reseller.members.member'),
            render: (_, m) => (
              <Space direction="vertical" size={0}>
                <span>{str(m.displayName) ?? m.email}</span>
                {str(m.displayName) && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{m.email}</Typography.Text>}
              </Space>
            ),
          },
          { title: t('reseller.members.roles'), render: (_, m) => m.roles.map((r) => <Tag key={r}>{t(`roles.${r}`)}</Tag>) },
          { title: t('reseller.members.status'), render: (_, m) => <StatusTag status={m.status} /> },
          { title: t('reseller.members.lastLogin'), render: (_, m) => fmt.dateTime(str(m.lastLoginAt)) },
          {
            title: t('common.actions'),
            render: (_, m) => {
              const items = [
                ...(canAssign ? [{ key: 'roles', label: t('reseller.members.editRoles') }] : []),
                ...(can('disable', 'Member') && m.status !== 'disabled' ? [{ key: 'disable', label: t('reseller.members.disable'), danger: true }] : []),
                ...(can('enable', 'Member') && m.status === 'disabled' ? [{ key: 'enable', label: t('reseller.members.enable') }] : []),
                ...(can('delete', 'Member') ? [{ key: 'remove', label: t('reseller.members.remove'), danger: true }] : []),
              ];
              if (items.length === 0 || m.id === me?.user.id) return null;
              return (
                <Dropdown
                  trigger={['click']}
                  menu={{
                    items,
                    onClick: ({ key }) => (key === 'roles' ? setEditing(m) : act(m, key as 'disable' | 'enable' | 'remove')),
                  }}
                >
                  <Button size="small" icon={<MoreOutlined />} aria-label={t('reseller.members.actionsFor', { email: m.email })} data-testid={`member-actions-${m.email}`} />
                </Dropdown>
              );
            },
          },
        ]}
      />
      <InviteMember open={inviting} onClose={() => setInviting(false)} tenantId={tenantId} roles={grantable} />
      <EditRoles member={editing} onClose={() => setEditing(undefined)} tenantId={tenantId} />
    </Page>
  );
}

function RoleChecks({ roles }: { roles: Role[] }) {
  const { t } = useTranslation();
  return <Checkbox.Group options={roles.map((r) => ({ value: r, label: t(`roles.${r}`) }))} />;
}

function InviteMember({ open, onClose, tenantId, roles }: { open: boolean; onClose: () => void; tenantId: string; roles: Role[] }) {
  const { t } = useTranslation();
  const invite = useInviteMember(tenantId);
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <Modal open={open} title={t('reseller.members.invite')} okText={t('reseller.members.send')} cancelText={t('common.cancel')} onCancel={onClose} onOk={() => form.submit()} confirmLoading={invite.isPending} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={{ roles: ['sales'] }}
        data-testid="member-form"
        onFinish={async (v: { email: string; displayName?: string; roles: Role[] }) => {
          await invite.mutateAsync({ email: v.email, displayName: v.displayName || undefined, roles: v.roles });
          message.success(t('reseller.members.invited', { email: v.email }));
          onClose();
        }}
      >
        {invite.error && <ProblemAlert error={invite.error} />}
        <Form.Item name="email" label={t('reseller.customers.email')} rules={[{ required: true, type: 'email', message: t('reseller.emailRule') }]}>
          <Input type="email" autoComplete="off" />
        </Form.Item>
        <Form.Item name="displayName" label={t('reseller.customers.name')}>
          <Input maxLength={200} />
        </Form.Item>
        <Form.Item name="roles" label={t('reseller.members.roles')} rules={[{ required: true, type: 'array', min: 1, message: t('reseller.members.rolesRule') }]}>
          <RoleChecks roles={roles} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function EditRoles({ member, onClose, tenantId }: { member?: Member; onClose: () => void; tenantId: string }) {
  const { t } = useTranslation();
  const setRoles = useSetRoles(tenantId);
  const confirm = useConfirm();
  const [form] = Form.useForm();
  return (
    <Modal open={Boolean(member)} title={t('reseller.members.editRolesOf', { email: member?.email })} okText={t('common.save')} cancelText={t('common.cancel')} onCancel={onClose} onOk={() => form.submit()} confirmLoading={setRoles.isPending} destroyOnClose>
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={{ roles: member?.roles.filter((r) => r !== 'user') }}
        onFinish={async (v: { roles: Role[] }) => {
          const revoked = member!.roles.filter((r) => r !== 'user' && !v.roles.includes(r));
          if (revoked.length > 0 && !(await confirm(t('reseller.members.revokeConfirm', { roles: revoked.map((r) => t(`roles.${r}`)).join(', '), email: member!.email })))) return;
          const keep = member!.roles.includes('user') ? [...v.roles, 'user' as Role] : v.roles;
          await setRoles.mutateAsync({ userId: member!.id, roles: keep });
          onClose();
        }}
      >
        {setRoles.error && <ProblemAlert error={setRoles.error} />}
        <Form.Item name="roles" label={t('reseller.members.roles')} rules={[{ required: true, type: 'array', min: 1, message: t('reseller.members.rolesRule') }]}>
          <RoleChecks roles={STAFF_ROLES} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
