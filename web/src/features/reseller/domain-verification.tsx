import { App, Button, Flex, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { Schemas } from '@/lib/api/client';
import { TEXT_COLOURS } from '@/features/reseller/ui';

export type Domain = Schemas['DomainView'];

/** A domain's state: verified (serves) or pending (serves once its record is found). */
export function DomainStatusTag({ domain }: { domain: Domain }) {
  const { t } = useTranslation();
  return domain.status === 'verified' ? (
    <Tag color="green" style={{ color: TEXT_COLOURS.green }}>
      {t('reseller.domains.verified')}
    </Tag>
  ) : (
    <Tag color="gold" style={{ color: TEXT_COLOURS.gold }}>
      {t('reseller.domains.pending')}
    </Tag>
  );
}

/**
 * How to prove a pending domain (the TXT record, or the HTTP token file), why the last check failed,
 * and a button that checks it now: for the reseller's own domains and for its sub-resellers'.
 * `check` answers the domain after the check (null when the request failed: its error is shown by
 * the caller).
 */
export function DomainVerification({ domain, checking, check }: { domain: Domain; checking: boolean; check: () => Promise<Domain | null> }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  if (domain.status !== 'pending' || !domain.verification) return null;
  const v = domain.verification;
  return (
    <Flex vertical gap={4} data-testid={`domain-verification-${domain.domain}`} style={{ minWidth: 0 }}>
      <Typography.Text type="secondary">{t('reseller.domains.howTo')}</Typography.Text>
      <Typography.Text>
        {t('reseller.domains.txtName')}: <Typography.Text code copyable style={{ wordBreak: 'break-all' }}>{v.txtName}</Typography.Text>
      </Typography.Text>
      <Typography.Text>
        {t('reseller.domains.txtValue')}: <Typography.Text code copyable style={{ wordBreak: 'break-all' }}>{v.txtValue}</Typography.Text>
      </Typography.Text>
      <Typography.Text type="secondary" style={{ wordBreak: 'break-all' }}>
        {t('reseller.domains.orHttp', { url: v.httpUrl })}
      </Typography.Text>
      {v.lastCheckError && <Typography.Text style={{ color: TEXT_COLOURS.gold, wordBreak: 'break-word' }}>{t('reseller.domains.lastCheck', { reason: v.lastCheckError })}</Typography.Text>}
      <div>
        <Button
          size="small"
          type="primary"
          loading={checking}
          onClick={async () => {
            const result = await check();
            if (!result) return;
            if (result.status === 'verified') message.success(t('reseller.domains.verifiedNow', { domain: domain.domain }));
            else message.warning(t('reseller.domains.notYet'));
          }}
        >
          {t('reseller.domains.verify')}
        </Button>
      </div>
    </Flex>
  );
}
