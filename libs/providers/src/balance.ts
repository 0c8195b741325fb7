import { joinUrl } from './adapters/common';
import { presetById } from './presets';
import { UpstreamRequest, UpstreamTarget } from './types';

/** An upstream account's balance as the provider reports it (its own currency, a decimal string). */
export interface UpstreamBalance {
  amount: string;
  currency: string;
}

/**
 * The request that reads a channel's balance with its key, for the presets whose service has one:
 * DeepSeek `GET /user/balance` (at the host's root, beside /v1), Kimi `GET {base}/users/me/balance`,
 * OpenRouter `GET {base}/credits`. Null for every other channel.
 */
export function balanceRequest(target: Pick<UpstreamTarget, 'baseUrl' | 'apiKey' | 'settings'>): UpstreamRequest | null {
  const kind = presetById(target.settings?.preset)?.balance;
  if (!kind) return null;
  const headers = { authorization: `Bearer ${target.apiKey}`, accept: 'application/json' };
  const base = target.baseUrl.replace(/\/+$/, '');
  switch (kind) {
    case 'deepseek':
      return { method: 'GET', url: joinUrl(base.replace(/\/v1$/, ''), '/user/balance'), headers, body: '' };
    case 'kimi':
      return { method: 'GET', url: joinUrl(base, '/users/me/balance'), headers, body: '' };
    case 'openrouter':
      return { method: 'GET', url: joinUrl(base, '/credits'), headers, body: '' };
  }
}

const DECIMAL = /^-?\d{1,20}(\.\d{1,9})?$/;

function decimal(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) value = value.toFixed(9).replace(/\.?0+$/, '');
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return DECIMAL.test(trimmed) ? trimmed : null;
}

/** Subtracts two decimal strings exactly (at most 9 decimals). */
function minus(a: string, b: string): string {
  const scale = (s: string) => {
    const [i, f = ''] = s.split('.');
    const neg = i.startsWith('-');
    const units = BigInt(i.replace('-', '') + f.padEnd(9, '0'));
    return neg ? -units : units;
  };
  const units = scale(a) - scale(b);
  const abs = units < 0n ? -units : units;
  const text = abs.toString().padStart(10, '0');
  const out = `${text.slice(0, -9)}.${text.slice(-9)}`.replace(/\.?0+$/, '');
  return units < 0n ? `-${out}` : out;
}

/** The balance in a balance answer, or null when the answer is not the provider's shape. */
export function parseBalance(preset: string | undefined, text: string, baseUrl = ''): UpstreamBalance | null {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  switch (presetById(preset)?.balance) {
    case 'deepseek': {
      // {"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"110.00",...}]}
      const infos = Array.isArray(body.balance_infos) ? (body.balance_infos as Array<Record<string, unknown>>) : [];
      const first = infos[0];
      const amount = decimal(first?.total_balance);
      const currency = typeof first?.currency === 'string' && /^[A-Z]{3}$/.test(first.currency) ? first.currency : null;
      if (amount === null || !currency) return body.is_available === false && !infos.length ? { amount: '0', currency: 'CNY' } : null;
      return { amount, currency };
    }
    case 'kimi': {
      // {"code":0,"data":{"available_balance":49.58,"voucher_balance":46.58,"cash_balance":3.0},"status":true}
      const amount = decimal((body.data as Record<string, unknown> | undefined)?.available_balance);
      return amount === null ? null : { amount, currency: /moonshot\.ai/.test(baseUrl) ? 'USD' : 'CNY' };
    }
    case 'openrouter': {
      // {"data":{"total_credits":50,"total_usage":42.5}}
      const data = body.data as Record<string, unknown> | undefined;
      const total = decimal(data?.total_credits);
      const used = decimal(data?.total_usage);
      return total === null || used === null ? null : { amount: minus(total, used), currency: 'USD' };
    }
    default:
      return null;
  }
}

/** Whether a balance means the account can pay for nothing more. */
export function balanceExhausted(balance: UpstreamBalance): boolean {
  return !/[1-9]/.test(balance.amount) || balance.amount.startsWith('-');
}
