import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, SYSTEM_ROLE } from './lib/rls';

const WITH_COSTS = `
  SELECT c.id, c.name, c.provider, c.base_url, c.models, c.priority, c.weight, c.pool, c.connect_timeout_ms,
         c.first_byte_timeout_ms, c.total_timeout_ms, c.retry_budget, c.status, c.updated_at,
         coalesce((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'ciphertext', k.ciphertext, 'last4', k.last4, 'status', k.status)
                                    ORDER BY k.position)
                     FROM public.channel_keys k WHERE k.channel_id = c.id), '[]'::jsonb),
         coalesce((SELECT jsonb_object_agg(m.model, jsonb_build_object('input', m.input_per_million::text, 'output', m.output_per_million::text,
                                                                      'cachedInput', m.cached_input_per_million::text))
                     FROM public.channel_model_costs m WHERE m.channel_id = c.id), '{}'::jsonb)
  FROM public.channels c`;

/**
 * The routing table also carries each channel's upstream cost per model, so the proxy prices the
 * upstream cost of a request from memory and puts it in the usage event (margin reports), still
 * without a PostgreSQL query per request.
 */
export class RoutingCosts1763769600700 implements MigrationInterface {
  name = 'RoutingCosts1763769600700';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await this.define(queryRunner, WITH_COSTS, ', costs jsonb');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.define(queryRunner, WITH_COSTS.replace(/,\s*coalesce\(\(SELECT jsonb_object_agg[\s\S]*?'\{\}'::jsonb\)/, ''), '');
  }

  private async define(queryRunner: QueryRunner, body: string, extraColumn: string): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.channel_routing_table()`);
    await queryRunner.query(`
      CREATE FUNCTION tenancy.channel_routing_table()
      RETURNS TABLE (id uuid, name text, provider text, base_url text, models jsonb, priority integer, weight integer,
                     pool text, connect_timeout_ms integer, first_byte_timeout_ms integer, total_timeout_ms integer,
                     retry_budget integer, status text, updated_at timestamptz, keys jsonb${extraColumn})
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ${body} $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION tenancy.channel_routing_table() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.channel_routing_table() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.channel_routing_table() TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM ${SYSTEM_ROLE}`);
  }
}
