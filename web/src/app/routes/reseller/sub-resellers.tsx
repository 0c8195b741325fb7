import { App, Button, Flex, Form, Input, Modal, Space, Tag, Tooltip, Typography } from 'antd';
import { useQuery } from '@tanstack/react-query';
import { MailOutlined, PlusOutlined, WarningOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from '@/components/empty-state';
import { FormModal } from '@/components/form-modal';
import { Page } from '@/components/page';
import { PagedTable, useConfirm } from '@/components/paged-table';
import {
  fetchSubResellers,
  SubReseller,
  SUB_RESELLERS,
  useCreateSubReseller,
  useInviteSubResellerOwner,
  useSetSubResellerDiscount,
  useVerifySubResellerDomain,
} from '@/features/reseller/sub-resellers-api';
import { DomainStatusTag, DomainVerification } from '@/features/reseller/domain-verification';
import { StatusTag, TEXT_COLOURS, useCan } from '@/features/reseller/ui';
import { useFormat } from '@/hooks/use-format';

const PERCENT = /^\d{1,2}(\.\d{1,2})?$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const OWNER_COLOURS = { active: 'green', invited: 'blue', waiting_for_domain: 'gold' } as const;

/**
 * The reseller's sub-resellers: what each pays off the reseller's list, what each paid this month,
 * its first owner (invited by the reseller's owner: mailed, or waiting for a verified domain) and
 * the models whose price to it is lifted to the reseller's own cost.
 */
export default function SubResellersPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const can = useCan();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<SubReseller | null>(null);
  const [inviting, setInviting] = useState<SubReseller | null>(null);
  const [verifying, setVerifying] = useState<string | null>(null);
  const invite = useInviteSubResellerOwner();
  const { message } = App.useApp();
  const resend = async (s: SubReseller) => {
    const sent = await invite.mutateAsync({ tenantId: s.id, email: s.owner!.email }).catch((e: unknown) => {
      message.error(e instanceof Error ? e.message : t('common.failed'));
      return null;
    });
    if (sent) message.success(t(sent.status === 'invited' ? 'reseller.subResellers.owner.sent' : 'reseller.subResellers.owner.waitingHint'));
  };
  return (
    <Page
      title={t('reseller.nav.subResellers')}
      extra={
        can('create', 'SubReseller') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="sub-reseller-create">
            {t('reseller.subResellers.create')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary">{t('reseller.subResellers.intro')}</Typography.Paragraph>
      <PagedTable<SubReseller>
        testId="sub-resellers-table"
        queryKey={[SUB_RESELLERS, 'list']}
        fetch={fetchSubResellers}
        rowKey="id"
        searchPlaceholder={t('reseller.subResellers.search')}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: <EmptyState text={t('reseller.subResellers.none')} /> }}
        columns={[
          {
            title: t('reseller.subResellers.name'),
            render: (_, s) => (
              <Space direction="vertical" size={2}>
                <span>
                  {s.name} <Typography.Text type="secondary">({s.slug})</Typography.Text>
                </span>
                <DomainsCell sub={s} onVerify={can('create', 'SubReseller') ? () => setVerifying(s.id) : undefined} />
              </Space>
            ),
          },
          { title: t('reseller.subResellers.status'), render: (_, s) => <StatusTag status={s.status} /> },
          {
            title: t('reseller.subResellers.owner.title'),
            render: (_, s) => (
              <Space direction="vertical" size={4}>
                <OwnerCell sub={s} />
                {/* The invitation's actions sit with it (the actions column stays narrow). */}
                {can('create', 'SubReseller') && s.owner?.status !== 'active' && (
                  <Space size={4} wrap>
                    {s.owner && (
                      <Button size="small" icon={<MailOutlined />} loading={invite.isPending && invite.variables?.tenantId === s.id} onClick={() => resend(s)} data-testid={`sub-reseller-resend-${s.slug}`}>
                        {t('reseller.subResellers.owner.resend')}
                      </Button>
                    )}
                    <Button size="small" onClick={() => setInviting(s)} data-testid={`sub-reseller-invite-${s.slug}`}>
                      {t(s.owner ? 'reseller.subResellers.owner.replace' : 'reseller.subResellers.owner.invite')}
                    </Button>
                  </Space>
                )}
              </Space>
            ),
          },
          {
            title: t('reseller.subResellers.discount'),
            align: 'right',
            render: (_, s) => (
              <Space size={4}>
                {`${s.wholesaleDiscountPercent}%`}
                {s.floorLifts.length > 0 && (
                  <Tooltip
                    title={
                      <>
                        {t('reseller.subResellers.floorLifted')}
                        <ul style={{ margin: 0, paddingInlineStart: 18 }}>
                          {s.floorLifts.map((l) => (
                            <li key={l.model}>{t('reseller.subResellers.floorLiftFrom', { model: l.model, date: fmt.dateTime(l.from) })}</li>
                          ))}
                        </ul>
                      </>
                    }
                  >
                    <Tag color="gold" icon={<WarningOutlined />} style={{ color: TEXT_COLOURS.gold, marginInlineEnd: 0 }} data-testid={`sub-reseller-floor-${s.slug}`}>
                      {t('reseller.subResellers.floorLifts', { count: s.floorLifts.length })}
                    </Tag>
                  </Tooltip>
                )}
              </Space>
            ),
          },
          { title: t('reseller.subResellers.revenue'), align: 'right', render: (_, s) => fmt.money(s.revenueThisMonth) },
          {
            title: t('reseller.subResellers.actions'),
            render: (_, s) => (
              <Space wrap>
                {can('update', 'WholesaleDiscount') && (
                  <Button size="small" onClick={() => setEditing(s)} data-testid={`sub-reseller-discount-${s.slug}`}>
                    {t('reseller.subResellers.setDiscount')}
                  </Button>
                )}
              </Space>
            ),
          },
        ]}
      />
      <CreateSubReseller open={creating} onClose={() => setCreating(false)} />
      <SetDiscount target={editing} onClose={() => setEditing(null)} />
      <InviteOwner target={inviting} onClose={() => setInviting(null)} />
      <VerifyDomains tenantId={verifying} onClose={() => setVerifying(null)} />
    </Page>
  );
}

/** Its domains with their state, and the way to verify a pending one (the parent's owner). */
function DomainsCell({ sub, onVerify }: { sub: SubReseller; onVerify?: () => void }) {
  const { t } = useTranslation();
  if (sub.domains.length === 0) return null;
  return (
    <Space direction="vertical" size={2} data-testid={`sub-reseller-domains-${sub.slug}`}>
      {sub.domains.map((d) => (
        <Space key={d.id} size={4}>
          <Typography.Text type="secondary" ellipsis={{ tooltip: d.domain }} style={{ maxWidth: 220 }}>
            {d.domain}
          </Typography.Text>
          <DomainStatusTag domain={d} />
        </Space>
      ))}
      {onVerify && sub.domains.some((d) => d.status === 'pending') && (
        <Button size="small" type="link" style={{ padding: 0, height: 'auto' }} onClick={onVerify} data-testid={`sub-reseller-verify-${sub.slug}`}>
          {t('reseller.subResellers.verifyDomains')}
        </Button>
      )}
    </Space>
  );
}

/** Its owner, its pending invitation (mailed or waiting for a verified domain), or none yet. */
function OwnerCell({ sub }: { sub: SubReseller }) {
  const { t } = useTranslation();
  if (!sub.owner) return <Typography.Text type="secondary">{t('reseller.subResellers.owner.none')}</Typography.Text>;
  const colour = OWNER_COLOURS[sub.owner.status];
  return (
    <Space direction="vertical" size={0} data-testid={`sub-reseller-owner-${sub.slug}`}>
      <Typography.Text ellipsis={{ tooltip: sub.owner.email }} style={{ maxWidth: 240 }}>
        {sub.owner.email}
      </Typography.Text>
      <Tooltip title={sub.owner.status === 'waiting_for_domain' ? t('reseller.subResellers.owner.waitingHint') : undefined}>
        <Tag color={colour} style={{ color: TEXT_COLOURS[colour] }}>
          {t(`reseller.subResellers.owner.${sub.owner.status}`)}
        </Tag>
      </Tooltip>
    </Space>
  );
}

const EMAIL_RULE = (message: string) => ({ type: 'email' as const, message });

function CreateSubReseller({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateSubReseller();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <FormModal<{ slug: string; name: string; domain?: string; percent?: string; ownerEmail?: string }>
      open={open}
      title={t('reseller.subResellers.create')}
      okText={t('reseller.subResellers.createSubmit')}
      form={form}
      mutation={create}
      onClose={onClose}
      testId="sub-reseller-form"
      onFinish={async (v, done) => {
        const email = v.ownerEmail?.trim();
        const domain = v.domain?.trim().toLowerCase();
        await create.mutateAsync({
          slug: v.slug.trim(),
          name: v.name.trim(),
          ...(domain ? { domains: [domain] } : {}),
          wholesaleDiscountPercent: v.percent?.trim() || undefined,
          ...(email ? { owner: { email } } : {}),
        });
        message.success(t('reseller.subResellers.created'));
        done();
      }}
    >
      <Form.Item name="name" label={t('reseller.subResellers.name')} rules={[{ required: true, max: 200 }]}>
        <Input maxLength={200} />
      </Form.Item>
      <Form.Item name="slug" label={t('reseller.subResellers.slug')} rules={[{ required: true, pattern: SLUG, message: t('reseller.subResellers.slugRule') }]}>
        <Input maxLength={63} />
      </Form.Item>
      <Form.Item
        name="domain"
        label={t('reseller.subResellers.domain')}
        extra={t('reseller.subResellers.domainHint')}
        rules={[{ transform: (v?: string) => v?.trim().toLowerCase(), pattern: DOMAIN, message: t('reseller.subResellers.domainRule') }]}
      >
        <Input maxLength={253} placeholder="api.example.com" />
      </Form.Item>
      <PercentField />
      <Form.Item name="ownerEmail" label={t('reseller.subResellers.owner.email')} extra={t('reseller.subResellers.owner.emailHint')} rules={[EMAIL_RULE(t('reseller.emailRule'))]}>
        <Input type="email" autoComplete="off" maxLength={320} />
      </Form.Item>
    </FormModal>
  );
}

function PercentField({ required }: { required?: boolean }) {
  const { t } = useTranslation();
  return (
    <Form.Item name="percent" label={t('reseller.subResellers.discount')} extra={t('reseller.subResellers.discountHint')} rules={[{ required, pattern: PERCENT, message: t('reseller.subResellers.percentRule') }]}>
      <Input inputMode="decimal" suffix="%" />
    </Form.Item>
  );
}

function SetDiscount({ target, onClose }: { target: SubReseller | null; onClose: () => void }) {
  const { t } = useTranslation();
  const set = useSetSubResellerDiscount();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <FormModal<{ percent: string }>
      open={Boolean(target)}
      title={t('reseller.subResellers.setDiscountOf', { name: target?.name ?? '' })}
      okText={t('reseller.subResellers.save')}
      form={form}
      mutation={set}
      onClose={onClose}
      initialValues={{ percent: target?.wholesaleDiscountPercent }}
      testId="sub-reseller-discount-form"
      onFinish={async (v, done) => {
        await set.mutateAsync({ tenantId: target!.id, percent: v.percent.trim() });
        message.success(t('reseller.subResellers.saved'));
        done();
      }}
    >
      <PercentField required />
    </FormModal>
  );
}

/** Invites the first owner, or another address instead of the pending one (asked first: the pending link stops working). */
function InviteOwner({ target, onClose }: { target: SubReseller | null; onClose: () => void }) {
  const { t } = useTranslation();
  const invite = useInviteSubResellerOwner();
  const confirm = useConfirm();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  return (
    <FormModal<{ email: string }>
      open={Boolean(target)}
      title={t('reseller.subResellers.owner.inviteOf', { name: target?.name ?? '' })}
      okText={t('reseller.subResellers.owner.send')}
      form={form}
      mutation={invite}
      onClose={onClose}
      testId="sub-reseller-owner-form"
      onFinish={async (v, done) => {
        const email = v.email.trim().toLowerCase();
        const pending = target?.owner?.email;
        if (pending && pending !== email && !(await confirm(t('reseller.subResellers.owner.replaceConfirm', { email: pending }), t('reseller.subResellers.owner.replaceHint')))) return;
        const sent = await invite.mutateAsync({ tenantId: target!.id, email });
        message.success(t(sent.status === 'invited' ? 'reseller.subResellers.owner.sent' : 'reseller.subResellers.owner.waitingHint'));
        done();
      }}
    >
      <Typography.Paragraph type="secondary">{t('reseller.subResellers.owner.emailHint')}</Typography.Paragraph>
      <Form.Item name="email" label={t('reseller.subResellers.owner.inviteEmail')} rules={[{ required: true, ...EMAIL_RULE(t('reseller.emailRule')) }]}>
        <Input type="email" autoComplete="off" maxLength={320} />
      </Form.Item>
    </FormModal>
  );
}

/**
 * A sub-reseller's pending domains, each with the record that proves it and a check: its owner
 * cannot sign in before a domain serves, so the parent does this. Verified, a waiting invitation
 * of its first owner is mailed.
 */
function VerifyDomains({ tenantId, onClose }: { tenantId: string | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const verify = useVerifySubResellerDomain();
  // The row as the list holds it now (refreshed after each check).
  const list = useQuery({ queryKey: [SUB_RESELLERS, 'list', 'verify'], queryFn: () => fetchSubResellers({ page: 1, pageSize: 1000 }), enabled: tenantId !== null });
  const sub = list.data?.items.find((s) => s.id === tenantId);
  return (
    <Modal open={tenantId !== null} title={t('reseller.subResellers.verifyTitle', { name: sub?.name ?? '' })} onCancel={onClose} footer={null} destroyOnClose>
      <Flex vertical gap={16}>
        <Typography.Text type="secondary">{t('reseller.subResellers.verifyIntro')}</Typography.Text>
        {sub?.domains.map((d) => (
          <Flex key={d.id} vertical gap={4}>
            <Space wrap>
              <Typography.Text code>{d.domain}</Typography.Text>
              <DomainStatusTag domain={d} />
            </Space>
            <DomainVerification
              domain={d}
              checking={verify.isPending && verify.variables?.domainId === d.id}
              check={async () => {
                const result = await verify.mutateAsync({ tenantId: sub.id, domainId: d.id }).catch((e: unknown) => {
                  message.error(e instanceof Error ? e.message : t('common.failed'));
                  return null;
                });
                if (result?.owner?.status === 'invited' && sub.owner?.status === 'waiting_for_domain') message.info(t('reseller.subResellers.owner.sent'));
                return result?.domain ?? null;
              }}
            />
          </Flex>
        ))}
      </Flex>
    </Modal>
  );
}
