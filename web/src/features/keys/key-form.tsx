import { DatePicker, Form, Input, InputNumber, Modal, Select, Typography } from 'antd';
import dayjs, { Dayjs } from 'dayjs';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';
import type { Key, KeyLimits } from './api';

interface Values {
  name: string;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
  rphLimit?: number | null;
  rpdLimit?: number | null;
  tphLimit?: number | null;
  tpdLimit?: number | null;
  spendLimit?: string | null;
  ipAllowlist?: string[];
  allowedModels?: string[];
  expiresAt?: Dayjs | null;
}

/** Create or edit a key: name, limits, IP allow-list, allowed models, expiry. */
export function KeyForm({
  open,
  initial,
  models,
  pending,
  error,
  onSubmit,
  onCancel,
}: {
  open: boolean;
  initial?: Key;
  models: string[];
  pending: boolean;
  error: unknown;
  onSubmit: (body: KeyLimits & { name: string }) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const nullable = <T,>(value: T | undefined | null | '') => (value === undefined || value === '' ? null : value);
  return (
    <Modal
      open={open}
      title={initial ? t('keys.editTitle') : t('keys.createTitle')}
      okText={initial ? t('common.save') : t('keys.create')}
      onOk={() => form.submit()}
      onCancel={onCancel}
      confirmLoading={pending}
      destroyOnClose
    >
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={
          initial
            ? {
                name: initial.name,
                rpmLimit: initial.rpmLimit as unknown as number | null,
                tpmLimit: initial.tpmLimit as unknown as number | null,
                rphLimit: initial.rphLimit as unknown as number | null,
                rpdLimit: initial.rpdLimit as unknown as number | null,
                tphLimit: initial.tphLimit as unknown as number | null,
                tpdLimit: initial.tpdLimit as unknown as number | null,
                spendLimit: initial.spendLimit as unknown as string | null,
                ipAllowlist: initial.ipAllowlist ?? [],
                allowedModels: initial.allowedModels ?? [],
                expiresAt: initial.expiresAt ? dayjs(initial.expiresAt as unknown as string) : null,
              }
            : { ipAllowlist: [], allowedModels: [] }
        }
        onFinish={(v) =>
          onSubmit({
            name: v.name,
            rpmLimit: nullable(v.rpmLimit) as never,
            tpmLimit: nullable(v.tpmLimit) as never,
            rphLimit: nullable(v.rphLimit) as never,
            rpdLimit: nullable(v.rpdLimit) as never,
            tphLimit: nullable(v.tphLimit) as never,
            tpdLimit: nullable(v.tpdLimit) as never,
            spendLimit: nullable(v.spendLimit) as never,
            ipAllowlist: v.ipAllowlist && v.ipAllowlist.length > 0 ? v.ipAllowlist : null,
            allowedModels: v.allowedModels && v.allowedModels.length > 0 ? v.allowedModels : null,
            expiresAt: (v.expiresAt ? v.expiresAt.toISOString() : null) as never,
          })
        }
      >
        <Form.Item name="name" label={t('keys.name')} rules={[{ required: true, message: t('keys.nameRequired') }]}>
          <Input placeholder={t('keys.namePlaceholder')} maxLength={100} />
        </Form.Item>
        <Form.Item name="spendLimit" label={t('keys.spendLimit')} extra={t('keys.spendLimitHint')} rules={[{ pattern: /^\d+(\.\d{1,9})?$/, message: t('keys.spendLimitInvalid') }]}>
          <Input inputMode="decimal" allowClear />
        </Form.Item>
        <Form.Item name="rpmLimit" label={t('keys.rpmLimit')}>
          <InputNumber min={1} precision={0} style={{ width: '100%' }} />
        </Form.Item>
        <Form.Item name="tpmLimit" label={t('keys.tpmLimit')}>
          <InputNumber min={1} precision={0} style={{ width: '100%' }} />
        </Form.Item>
        <Typography.Text strong>{t('limits.keyWindows')}</Typography.Text>
        <Typography.Paragraph type="secondary" style={{ marginBottom: 8 }}>
          {t('limits.keyWindowsHint')}
        </Typography.Paragraph>
        <div style={{ display: 'grid', gridTemplateColumns: 'repeat(2, minmax(0, 1fr))', columnGap: 12 }} data-testid="key-windows">
          {(
            [
              ['rphLimit', 'rph'],
              ['rpdLimit', 'rpd'],
              ['tphLimit', 'tph'],
              ['tpdLimit', 'tpd'],
            ] as const
          ).map(([name, field]) => (
            <Form.Item key={name} name={name} label={t(`limits.${field}`)}>
              <InputNumber min={1} precision={0} style={{ width: '100%' }} />
            </Form.Item>
          ))}
        </div>
        <Form.Item name="ipAllowlist" label={t('keys.ipAllowlist')} extra={t('keys.ipAllowlistHint')}>
          <Select mode="tags" tokenSeparators={[',', ' ']} open={false} suffixIcon={null} />
        </Form.Item>
        <Form.Item name="allowedModels" label={t('keys.allowedModels')} extra={t('keys.allowedModelsHint')}>
          <Select mode="multiple" options={models.map((m) => ({ value: m, label: m }))} allowClear />
        </Form.Item>
        <Form.Item name="expiresAt" label={t('keys.expiresAt')}>
          <DatePicker showTime style={{ width: '100%' }} disabledDate={(d) => d.isBefore(dayjs(), 'day')} />
        </Form.Item>
        <ProblemAlert error={error} />
      </Form>
    </Modal>
  );
}
