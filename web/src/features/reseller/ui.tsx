import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import { useMe } from '@/features/auth/api';

/** What the signed-in person may do (the same CASL rules the API enforces). */
export function useCan() {
  const { data: me } = useMe();
  return (action: string, subject: string) => Boolean(me?.ability.can(action, subject));
}

const STATUS_COLOURS: Record<string, string> = {
  active: 'green',
  invited: 'blue',
  disabled: 'default',
  requested: 'gold',
  approved: 'blue',
  rejected: 'red',
  paid: 'green',
  pending: 'gold',
  failed: 'red',
  expired: 'default',
  refunded: 'purple',
};

export const TEXT_COLOURS: Record<string, string> = { green: '#135200', blue: '#002c8c', gold: '#613400', red: '#820014', purple: '#22075e' };

/** A status as a coloured tag, in the viewer's language. */
export function StatusTag({ status }: { status: string }) {
  const { t } = useTranslation();
  const colour = STATUS_COLOURS[status];
  // antd's preset tag text is too light on its tint (WCAG contrast): the text is darkened.
  return (
    <Tag color={colour} style={TEXT_COLOURS[colour] ? { color: TEXT_COLOURS[colour] } : undefined}>
      {t(`reseller.status.${status}`, { defaultValue: status })}
    </Tag>
  );
}

/** A decimal amount typed by a person: digits, an optional sign, at most 9 decimals. */
export const AMOUNT = /^-?\d{1,12}(\.\d{1,9})?$/;
export const POSITIVE_AMOUNT = /^\d{1,12}(\.\d{1,9})?$/;

/** margin / retail in percent, exactly, to two decimals ("—" when retail is zero). */
export function marginPercent(margin: string, retail: string): string {
  const units = (v: string) => {
    const [whole, fraction = ''] = v.replace('-', '').split('.');
    const n = BigInt(whole + fraction.padEnd(9, '0').slice(0, 9));
    return v.startsWith('-') ? -n : n;
  };
  const r = units(retail);
  if (r === 0n) return '—';
  const basis = (units(margin) * 10000n) / r;
  const negative = basis < 0n;
  const abs = negative ? -basis : basis;
  return `${negative ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}%`;
}

/** A nullable string the OpenAPI document leaves untyped. */
export function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
