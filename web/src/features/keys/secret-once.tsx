import { Alert, Flex, Modal, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatDateTime } from '@/lib/time';

/** The secret of a new or rotated key: shown this once, with a copy button and a warning. */
export function SecretOnce({ secret, oldValidUntil, onClose }: { secret?: string; oldValidUntil?: string | null; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  return (
    <Modal open={Boolean(secret)} title={t('keys.secretTitle')} onOk={onClose} onCancel={onClose} cancelButtonProps={{ style: { display: 'none' } }} okText={t('keys.secretSaved')} maskClosable={false}>
      <Flex vertical gap={16}>
        <Alert type="warning" showIcon message={t('keys.secretWarning')} />
        <Typography.Paragraph
          copyable={{ text: secret, tooltips: [t('common.copy'), t('common.copied')] }}
          code
          data-testid="key-secret"
          style={{ wordBreak: 'break-all', fontSize: 15, margin: 0 }}
        >
          {secret}
        </Typography.Paragraph>
        {oldValidUntil && <Alert type="info" showIcon message={t('keys.oldSecretGrace', { time: formatDateTime(oldValidUntil, i18n.language) })} />}
      </Flex>
    </Modal>
  );
}
