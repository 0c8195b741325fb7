import { createHash, randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface EpayOrder {
  pid: string;
  type: string | undefined;
  out_trade_no: string;
  notify_url: string;
  return_url: string;
  name: string;
  money: string;
  trade_no: string;
}

export interface FakeEpay {
  url: string;
  /** Orders the customer opened on submit.php, by out_trade_no (only correctly signed ones). */
  orders: Map<string, EpayOrder>;
  /** submit.php requests whose signature did not verify. */
  refused: number;
  /** The signed notification the gateway sends to notify_url once the order is paid (query parameters). */
  notification(outTradeNo: string, over?: Record<string, string>, key?: string): URLSearchParams;
  close(): Promise<void>;
}

/** The Epay signature: non-empty parameters but sign and sign_type, sorted, `k=v&...` + key, MD5 lowercase. */
export function fakeEpaySign(params: Record<string, string | undefined>, key: string): string {
  const base = Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHash('md5').update(base + key).digest('hex');
}

/**
 * A local Epay (彩虹易支付) gateway for one merchant: `submit.php` checks the order's signature and
 * records it (answering the cashier page), `api.php?act=query` answers the merchant query when pid
 * and key match, and `notification()` builds the signed GET parameters the gateway sends to
 * notify_url with `trade_status=TRADE_SUCCESS`.
 */
export async function startFakeEpay(merchant: { pid: string; key: string }): Promise<FakeEpay> {
  const orders = new Map<string, EpayOrder>();
  const state = { refused: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://epay.local');
    const q = Object.fromEntries(url.searchParams);
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname.endsWith('/submit.php')) {
      if (q.pid !== merchant.pid || q.sign !== fakeEpaySign(q, merchant.key) || q.sign_type !== 'MD5') {
        state.refused++;
        return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<h3>签名校验失败</h3>');
      }
      orders.set(q.out_trade_no, {
        pid: q.pid,
        type: q.type,
        out_trade_no: q.out_trade_no,
        notify_url: q.notify_url,
        return_url: q.return_url,
        name: q.name,
        money: q.money,
        trade_no: `2026${randomBytes(8).toString('hex')}`,
      });
      return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<h3>收银台</h3>');
    }
    if (url.pathname.endsWith('/api.php') && q.act === 'query') {
      if (q.pid !== merchant.pid || q.key !== merchant.key) return json({ code: -3, msg: 'KEY校验失败' });
      return json({ code: 1, pid: merchant.pid, key: merchant.key, active: 1, money: '0.00', type: 1, orders: orders.size });
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    orders,
    get refused() {
      return state.refused;
    },
    notification(outTradeNo, over = {}, key = merchant.key) {
      const order = orders.get(outTradeNo);
      if (!order) throw new Error(`no order ${outTradeNo} was opened on the gateway`);
      const params: Record<string, string> = {
        pid: order.pid,
        trade_no: order.trade_no,
        out_trade_no: order.out_trade_no,
        type: order.type ?? 'alipay',
        name: order.name,
        money: order.money,
        trade_status: 'TRADE_SUCCESS',
        ...over,
      };
      params.sign = fakeEpaySign(params, key);
      params.sign_type = 'MD5';
      return new URLSearchParams(params);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } as FakeEpay;
}
