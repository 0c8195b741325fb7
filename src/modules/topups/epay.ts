import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The Epay (彩虹易支付) merchant protocol, which most Chinese resellers' Alipay and WeChat Pay
 * gateways speak:
 * - signature: every parameter except `sign` and `sign_type` and the empty ones, sorted by name
 *   (ASCII), joined as `k=v&k=v`, the merchant key appended, MD5, lowercase hex;
 * - `submit.php`: the page the customer is sent to (GET with the signed parameters);
 * - `api.php?act=query` (merchant) and `api.php?act=order` (one order): JSON with `code` 1 on success;
 * - the payment notification: GET (or form POST) to `notify_url` with `trade_status=TRADE_SUCCESS`,
 *   answered with the plain text `success`.
 */
export type EpayParams = Record<string, string | undefined>;

export function epaySign(params: EpayParams, key: string): string {
  const base = Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHash('md5').update(`${base}${key}`, 'utf8').digest('hex');
}

/** Constant-time comparison of the parameters' signature with the one they carry. */
export function epayVerify(params: EpayParams, key: string): boolean {
  const given = params.sign;
  if (typeof given !== 'string' || !/^[0-9a-f]{32}$/i.test(given)) return false;
  return timingSafeEqual(Buffer.from(given.toLowerCase()), Buffer.from(epaySign(params, key)));
}

/** The gateway URL with `path` under it (`https://pay.example.com/` + `submit.php`). */
export function epayEndpoint(gatewayUrl: string, path: string): URL {
  const base = gatewayUrl.endsWith('/') ? gatewayUrl : `${gatewayUrl}/`;
  return new URL(path, base);
}

/** Where the customer pays: submit.php with the signed order. */
export function epayPayUrl(
  gatewayUrl: string,
  merchantId: string,
  key: string,
  order: { outTradeNo: string; money: string; name: string; notifyUrl: string; returnUrl: string; type?: string },
): string {
  const params: EpayParams = {
    pid: merchantId,
    type: order.type,
    out_trade_no: order.outTradeNo,
    notify_url: order.notifyUrl,
    return_url: order.returnUrl,
    name: order.name,
    money: order.money,
  };
  const url = epayEndpoint(gatewayUrl, 'submit.php');
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  url.searchParams.set('sign', epaySign(params, key));
  url.searchParams.set('sign_type', 'MD5');
  return url.toString();
}
