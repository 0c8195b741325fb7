import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export interface StripeRecordedRequest {
  method: string;
  path: string;
  apiKey: string | null;
  idempotencyKey: string | null;
  form: Record<string, string>;
}

export interface FakeCheckoutSession {
  id: string;
  object: 'checkout.session';
  mode: 'payment';
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  payment_intent: string | null;
  url: string;
  expires_at: number;
  success_url: string;
  cancel_url: string;
}

export interface FakeStripe {
  url: string;
  requests: StripeRecordedRequest[];
  sessions: Map<string, FakeCheckoutSession>;
  /** Secret keys the fake accepts (others: 401 like Stripe). */
  acceptKeys: Set<string>;
  /** The next this-many Checkout Session creations fail with a 500 (Stripe down). */
  failures: number;
  /** The session as paid, and the signed `checkout.session.completed` event Stripe would send. */
  pay(sessionId: string, webhookSecret: string, over?: { amount_total?: number; currency?: string; created?: number }): { payload: string; signature: string; event: Stripe.Event };
  /** A signed `charge.refunded` for the session's payment, with the cumulative amount refunded. */
  refund(sessionId: string, webhookSecret: string, amountRefunded: number): { payload: string; signature: string; event: Stripe.Event };
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/**
 * A local Stripe speaking its wire format: form-encoded requests with `Authorization: Bearer sk_...`
 * and `Idempotency-Key`, JSON responses and Stripe's error object. The `stripe` SDK reaches it
 * through its host, port and protocol options (STRIPE_API_URL). It implements what AIGateway
 * calls: POST /v1/checkout/sessions and GET /v1/balance; events are built and signed as Stripe
 * signs them (`t=...,v1=...` over the raw payload).
 */
export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: StripeRecordedRequest[] = [];
  const sessions = new Map<string, FakeCheckoutSession>();
  const byIdempotencyKey = new Map<string, FakeCheckoutSession>();
  const acceptKeys = new Set<string>();
  const state = { failures: 0 };
  let base = '';

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://stripe.local');
    const form = Object.fromEntries(new URLSearchParams(body));
    const apiKey = (req.headers.authorization ?? '').replace(/^Bearer /, '') || null;
    const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
    requests.push({ method: req.method ?? '', path: url.pathname, apiKey, idempotencyKey, form });
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') }).end(JSON.stringify(json));
    };
    if (!apiKey || !acceptKeys.has(apiKey)) {
      return send(401, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${apiKey?.slice(0, 8) ?? ''}****` } });
    }
    if (req.method === 'GET' && url.pathname === '/v1/balance') {
      return send(200, { object: 'balance', livemode: false, available: [{ amount: 0, currency: 'usd', source_types: { card: 0 } }], pending: [] });
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      if (state.failures > 0) {
        state.failures--;
        return send(500, { error: { type: 'api_error', message: 'Something went wrong on our end.' } });
      }
      if (idempotencyKey && byIdempotencyKey.has(idempotencyKey)) return send(200, byIdempotencyKey.get(idempotencyKey));
      const unitAmount = Number(form['line_items[0][price_data][unit_amount]']);
      const quantity = Number(form['line_items[0][quantity]'] ?? '1');
      const currency = form['line_items[0][price_data][currency]'];
      if (form.mode !== 'payment' || !Number.isSafeInteger(unitAmount) || !currency) {
        return send(400, { error: { type: 'invalid_request_error', message: 'Missing required param: line_items[0][price_data].' } });
      }
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(form)) {
        const m = /^metadata\[(.+)\]$/.exec(k);
        if (m) metadata[m[1]] = v;
      }
      const sessionId = id('cs_test');
      const session: FakeCheckoutSession = {
        id: sessionId,
        object: 'checkout.session',
        mode: 'payment',
        status: 'open',
        payment_status: 'unpaid',
        amount_total: unitAmount * quantity,
        currency,
        client_reference_id: form.client_reference_id ?? null,
        metadata,
        payment_intent: null,
        url: `${base}/pay/${sessionId}`,
        expires_at: Number(form.expires_at ?? Math.floor(Date.now() / 1000) + 86400),
        success_url: form.success_url,
        cancel_url: form.cancel_url,
      };
      sessions.set(sessionId, session);
      if (idempotencyKey) byIdempotencyKey.set(idempotencyKey, session);
      return send(200, session);
    }
    return send(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname}).` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const signed = (event: Record<string, unknown>, secret: string) => {
    const payload = JSON.stringify(event);
    return { payload, signature: Stripe.webhooks.generateTestHeaderString({ payload, secret }), event: event as unknown as Stripe.Event };
  };

  const fake: FakeStripe = {
    url: base,
    requests,
    sessions,
    acceptKeys,
    get failures() {
      return state.failures;
    },
    set failures(value: number) {
      state.failures = value;
    },
    pay(sessionId, webhookSecret, over = {}) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      session.status = 'complete';
      session.payment_status = 'paid';
      session.payment_intent ??= id('pi');
      const object = { ...session, amount_total: over.amount_total ?? session.amount_total, currency: over.currency ?? session.currency };
      return signed(
        { id: id('evt'), object: 'event', api_version: '2026-10-28', created: over.created ?? Math.floor(Date.now() / 1000), type: 'checkout.session.completed', livemode: false, data: { object } },
        webhookSecret,
      );
    },
    refund(sessionId, webhookSecret, amountRefunded) {
      const session = sessions.get(sessionId);
      if (!session?.payment_intent) throw new Error(`session ${sessionId} was not paid`);
      const charge = {
        id: `ch_${session.payment_intent.slice(3)}`,
        object: 'charge',
        amount: session.amount_total,
        amount_refunded: amountRefunded,
        currency: session.currency,
        payment_intent: session.payment_intent,
        refunded: amountRefunded === session.amount_total,
        paid: true,
        status: 'succeeded',
      };
      return signed({ id: id('evt'), object: 'event', api_version: '2026-10-28', created: Math.floor(Date.now() / 1000), type: 'charge.refunded', livemode: false, data: { object: charge } }, webhookSecret);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return fake;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
