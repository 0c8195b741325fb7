import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import Decimal from 'decimal.js';
import Stripe from 'stripe';

/** Currencies Stripe counts in whole units (no minor unit): amounts are sent as they are. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
/** Three-decimal currencies need Stripe's special rounding rules; we do not offer them. */
export const UNSUPPORTED_CURRENCIES = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** Decimals of a currency's minor unit at Stripe. */
export function currencyDecimals(currency: string): number {
  return ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
}

/** A decimal amount to Stripe's integer minor units; null when it has more decimals than the currency. */
export function toMinorUnits(amount: string, currency: string): number | null {
  const minor = new Decimal(amount).times(new Decimal(10).pow(currencyDecimals(currency)));
  if (!minor.isInteger() || !minor.lte(Number.MAX_SAFE_INTEGER)) return null;
  return minor.toNumber();
}

/**
 * Stripe clients for tenants' own keys (each reseller is paid into its own Stripe account). The
 * API base is STRIPE_API_URL (the real API, or a local Stripe-compatible server in tests), given to
 * the `stripe` SDK through its host, port and protocol options.
 */
@Injectable()
export class StripeGateway {
  private readonly base: URL;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.base = new URL(config.STRIPE_API_URL);
  }

  client(secretKey: string): Stripe {
    const protocol = this.base.protocol === 'http:' ? 'http' : 'https';
    return new Stripe(secretKey, {
      host: this.base.hostname,
      port: this.base.port || (protocol === 'http' ? 80 : 443),
      protocol,
      maxNetworkRetries: 1,
      timeout: this.config.PAYMENT_GATEWAY_TIMEOUT_MS,
      telemetry: false,
    });
  }
}
