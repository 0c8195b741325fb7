import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, SYSTEM_ROLE } from './lib/rls';

const COLUMNS = `
  SELECT c.id, c.name, c.provider, c.base_url, c.models, c.priority, c.weight, c.pool, c.connect_timeout_ms,
         c.first_byte_timeout_ms, c.total_timeout_ms, c.retry_budget, c.status, c.updated_at,
         coalesce((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'ciphertext', k.ciphertext, 'last4', k.last4, 'status', k.status)
                                    ORDER BY k.position)
                     FROM public.channel_keys k WHERE k.channel_id = c.id), '[]'::jsonb),
         coalesce((SELECT jsonb_object_agg(m.model, jsonb_build_object('input', m.input_per_million::text, 'output', m.output_per_million::text,
                                                                      'cachedInput', m.cached_input_per_million::text))
                     FROM public.channel_model_costs m WHERE m.channel_id = c.id), '{}'::jsonb),
         c.settings`;

const BASE_RETURNS = `id uuid, name text, provider text, base_url text, models jsonb, priority integer, weight integer,
                     pool text, connect_timeout_ms integer, first_byte_timeout_ms integer, total_timeout_ms integer,
                     retry_budget integer, status text, updated_at timestamptz, keys jsonb, costs jsonb, settings jsonb`;

/**
 * Per-channel limits and the channel's own balance (issue 24): requests and tokens per minute and
 * a daily spend cap in the upstream's cost (nano-units, the day in UTC), enforced in Redis when the
 * router picks a channel; the balance an upstream reports (DeepSeek, Kimi, OpenRouter) with when it
 * was read; and a fourth status, `quota_exhausted`, for a channel whose upstream account ran out
 * (skipped until an operator enables it again). The routing table carries the limits.
 */
export class ChannelLimits1763769603200 implements MigrationInterface {
  name = 'ChannelLimits1763769603200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE channels
        ADD COLUMN rpm_limit integer CHECK (rpm_limit > 0),
        ADD COLUMN tpm_limit integer CHECK (tpm_limit > 0),
        ADD COLUMN daily_spend_cap_units bigint CHECK (daily_spend_cap_units >= 0),
        ADD COLUMN balance numeric(30, 9),
        ADD COLUMN balance_currency text CHECK (balance_currency ~ '^[A-Z]{3}$'),
        ADD COLUMN balance_checked_at timestamptz,
        ADD COLUMN balance_error text`);
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_status_check`);
    await queryRunner.query(`ALTER TABLE channels ADD CONSTRAINT channels_status_check CHECK (status IN ('enabled', 'disabled', 'auto_disabled', 'quota_exhausted'))`);
    await this.define(queryRunner, `${COLUMNS}, c.rpm_limit, c.tpm_limit, c.daily_spend_cap_units::text FROM public.channels c`, ', rpm_limit integer, tpm_limit integer, daily_spend_cap_units text');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.define(queryRunner, `${COLUMNS} FROM public.channels c`, '');
    await queryRunner.query(`UPDATE channels SET status = 'auto_disabled' WHERE status = 'quota_exhausted'`);
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_status_check`);
    await queryRunner.query(`ALTER TABLE channels ADD CONSTRAINT channels_status_check CHECK (status IN ('enabled', 'disabled', 'auto_disabled'))`);
    await queryRunner.query(`
      ALTER TABLE channels DROP COLUMN rpm_limit, DROP COLUMN tpm_limit, DROP COLUMN daily_spend_cap_units,
        DROP COLUMN balance, DROP COLUMN balance_currency, DROP COLUMN balance_checked_at, DROP COLUMN balance_error`);
  }

  private async define(queryRunner: QueryRunner, body: string, extraColumns: string): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.channel_routing_table()`);
    await queryRunner.query(`
      CREATE FUNCTION tenancy.channel_routing_table()
      RETURNS TABLE (${BASE_RETURNS}${extraColumns})
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ${body} $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION tenancy.channel_routing_table() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.channel_routing_table() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.channel_routing_table() TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM ${SYSTEM_ROLE}`);
  }
}
