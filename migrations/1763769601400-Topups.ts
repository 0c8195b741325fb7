import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls } from './lib/rls';

/**
 * Top-ups (issue 21): customers pay their tenant online (Stripe Checkout, an Epay-compatible
 * gateway for Alipay and WeChat Pay) or redeem a prepaid code; the wallet is credited once.
 *
 * - `payment_settings`: one row per tenant: which providers are on, their credentials (sealed under
 *   CHANNEL_ENCRYPTION_KEYS, bound to the tenant and the field, never returned), the currency Stripe
 *   charges in, and the smallest and largest order.
 * - `topups`: one row per order. `provider_reference` is the provider's id of the payment (the
 *   Checkout Session, the Epay trade number), unique per provider: one payment can only ever be
 *   tied to one order. `refunded_amount` follows the provider's cumulative refunds.
 * - `topup_events`: the append-only history of an order's status changes (the application may only
 *   read and add).
 * - `redemption_codes`: prepaid codes, stored as SHA-256 of the normalised code only; a code is
 *   redeemed by one conditional UPDATE, so at most one redemption ever wins.
 */
export class Topups1763769601400 implements MigrationInterface {
  name = 'Topups1763769601400';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE payment_settings (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        stripe_enabled boolean NOT NULL DEFAULT false,
        stripe_secret_key_ciphertext text,
        stripe_secret_key_last4 text,
        stripe_webhook_secret_ciphertext text,
        stripe_currency text NOT NULL DEFAULT 'usd' CHECK (stripe_currency ~ '^[a-z]{3}$'),
        epay_enabled boolean NOT NULL DEFAULT false,
        epay_merchant_id text CHECK (length(epay_merchant_id) BETWEEN 1 AND 64),
        epay_key_ciphertext text,
        epay_gateway_url text CHECK (length(epay_gateway_url) <= 2048 AND epay_gateway_url ~ '^https?://'),
        min_amount numeric(30, 9) NOT NULL DEFAULT 1 CHECK (min_amount > 0),
        max_amount numeric(30, 9) NOT NULL DEFAULT 10000 CHECK (max_amount >= min_amount),
        updated_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payment_settings_stripe_complete CHECK (NOT stripe_enabled OR (stripe_secret_key_ciphertext IS NOT NULL AND stripe_webhook_secret_ciphertext IS NOT NULL)),
        CONSTRAINT payment_settings_epay_complete CHECK (NOT epay_enabled OR (epay_merchant_id IS NOT NULL AND epay_key_ciphertext IS NOT NULL AND epay_gateway_url IS NOT NULL))
      )`);
    await enableTenantRls(queryRunner, 'payment_settings');

    await queryRunner.query(`
      CREATE TABLE topups (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL,
        amount numeric(30, 9) NOT NULL CHECK (amount > 0),
        currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        provider text NOT NULL CHECK (provider IN ('stripe', 'epay')),
        method text CHECK (method IN ('alipay', 'wxpay')),
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed', 'expired', 'refunded')),
        provider_reference text CHECK (length(provider_reference) <= 255),
        provider_payment_id text CHECK (length(provider_payment_id) <= 255),
        pay_url text CHECK (length(pay_url) <= 8192),
        refunded_amount numeric(30, 9) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
        created_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz,
        expires_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id),
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE,
        CONSTRAINT topups_paid_at CHECK ((status IN ('paid', 'refunded')) = (paid_at IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX topups_provider_reference_key ON topups (provider, provider_reference) WHERE provider_reference IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX topups_payment_id_idx ON topups (tenant_id, provider_payment_id) WHERE provider_payment_id IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX topups_tenant_idx ON topups (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX topups_customer_idx ON topups (tenant_id, customer_id, created_at DESC)`);
    await queryRunner.query(`CREATE INDEX topups_pending_idx ON topups (expires_at) WHERE status = 'pending'`);
    // A policy per command (the RLS structure test requires them all), but the application never
    // deletes an order: they go only with their tenant or customer.
    await enableTenantRls(queryRunner, 'topups');

    await queryRunner.query(`
      CREATE TABLE topup_events (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        topup_id uuid NOT NULL,
        from_status text,
        to_status text NOT NULL,
        reason text CHECK (length(reason) <= 500),
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant_id, topup_id) REFERENCES topups (tenant_id, id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX topup_events_topup_idx ON topup_events (topup_id, created_at)`);
    await enableTenantRls(queryRunner, 'topup_events', { commands: ['select', 'insert'] });
    await queryRunner.query(`COMMENT ON TABLE topup_events IS 'append-only'`);

    await queryRunner.query(`
      CREATE TABLE redemption_codes (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        batch_id uuid NOT NULL,
        code_hash bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
        code_hint text NOT NULL CHECK (length(code_hint) <= 8),
        amount numeric(30, 9) NOT NULL CHECK (amount > 0),
        expires_at timestamptz,
        disabled_at timestamptz,
        disabled_by uuid,
        redeemed_by uuid REFERENCES users (id) ON DELETE SET NULL,
        redeemed_at timestamptz,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT redemption_codes_redeemed CHECK (redeemed_at IS NOT NULL OR redeemed_by IS NULL)
      )`);
    await queryRunner.query(`CREATE INDEX redemption_codes_tenant_idx ON redemption_codes (tenant_id, created_at DESC, id DESC)`);
    await enableTenantRls(queryRunner, 'redemption_codes');
    await queryRunner.query(`REVOKE DELETE, TRUNCATE ON payment_settings, topups, redemption_codes FROM ${APP_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE redemption_codes`);
    await queryRunner.query(`DROP TABLE topup_events`);
    await queryRunner.query(`DROP TABLE topups`);
    await queryRunner.query(`DROP TABLE payment_settings`);
  }
}
