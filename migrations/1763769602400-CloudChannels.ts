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
                     FROM public.channel_model_costs m WHERE m.channel_id = c.id), '{}'::jsonb)`;

/**
 * Channels to the cloud upstreams (issue 24): types `azure`, `bedrock` and `vertex`, and a
 * `settings` object per channel for what is not secret (Azure's api-version, Bedrock's region,
 * Vertex's project and location, an OpenAI-compatible channel's preset). The routing table carries
 * the settings, so the proxy builds upstream requests from memory as before.
 */
export class CloudChannels1763769602400 implements MigrationInterface {
  name = 'CloudChannels1763769602400';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_provider_check`);
    await queryRunner.query(
      `ALTER TABLE channels ADD CONSTRAINT channels_provider_check CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai-responses', 'azure', 'bedrock', 'vertex'))`,
    );
    await queryRunner.query(`ALTER TABLE channels ADD COLUMN settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object')`);
    await this.define(queryRunner, `${COLUMNS}, c.settings FROM public.channels c`, ', costs jsonb, settings jsonb');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.define(queryRunner, `${COLUMNS} FROM public.channels c`, ', costs jsonb');
    await queryRunner.query(`ALTER TABLE channels DROP COLUMN settings`);
    await queryRunner.query(`DELETE FROM channels WHERE provider IN ('azure', 'bedrock', 'vertex')`);
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_provider_check`);
    await queryRunner.query(`ALTER TABLE channels ADD CONSTRAINT channels_provider_check CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai-responses'))`);
  }

  private async define(queryRunner: QueryRunner, body: string, extraColumns: string): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.channel_routing_table()`);
    await queryRunner.query(`
      CREATE FUNCTION tenancy.channel_routing_table()
      RETURNS TABLE (id uuid, name text, provider text, base_url text, models jsonb, priority integer, weight integer,
                     pool text, connect_timeout_ms integer, first_byte_timeout_ms integer, total_timeout_ms integer,
                     retry_budget integer, status text, updated_at timestamptz, keys jsonb${extraColumns})
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ${body} $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION tenancy.channel_routing_table() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.channel_routing_table() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.channel_routing_table() TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM ${SYSTEM_ROLE}`);
  }
}
