import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, SYSTEM_ROLE } from './lib/rls';

const TABLES = ['channels', 'channel_keys', 'channel_model_costs'];

/**
 * Channels: the platform's upstream providers. They belong to no tenant, so the tenant predicate
 * does not apply; instead the application role reaches them only inside a platform-wide signed
 * scope (`tenancy.scope_is_all()`, entered only for platform staff), so a reseller's request sees
 * none even if an authorization bug let it ask. The routing table is read outside any scope by one
 * narrow definer function, `tenancy.channel_routing_table()`, owned by the system role; the worker
 * and cli use the system role directly. Upstream keys are stored only encrypted (AES-256-GCM).
 */
export class Channels1763769600500 implements MigrationInterface {
  name = 'Channels1763769600500';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE channels (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        provider text NOT NULL CHECK (provider IN ('openai', 'anthropic', 'gemini')),
        base_url text NOT NULL CHECK (base_url ~ '^https?://'),
        models jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(models) = 'array'),
        priority integer NOT NULL DEFAULT 0,
        weight integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 10000),
        pool text NOT NULL DEFAULT 'standard' CHECK (pool IN ('standard', 'spot')),
        connect_timeout_ms integer NOT NULL DEFAULT 5000 CHECK (connect_timeout_ms > 0),
        first_byte_timeout_ms integer NOT NULL DEFAULT 60000 CHECK (first_byte_timeout_ms > 0),
        total_timeout_ms integer NOT NULL DEFAULT 600000 CHECK (total_timeout_ms > 0),
        retry_budget integer NOT NULL DEFAULT 2 CHECK (retry_budget BETWEEN 0 AND 10),
        status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled', 'auto_disabled')),
        status_reason text,
        status_changed_at timestamptz,
        check_failures integer NOT NULL DEFAULT 0,
        last_check_at timestamptz,
        last_check_latency_ms integer,
        last_check_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX channels_name_key ON channels (lower(name))`);

    await queryRunner.query(`
      CREATE TABLE channel_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        position integer NOT NULL,
        ciphertext text NOT NULL,
        last4 text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
        disabled_reason text,
        disabled_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX channel_keys_channel_idx ON channel_keys (channel_id, position)`);

    // Upstream prices per million tokens, for margin reports (NUMERIC, never floats).
    await queryRunner.query(`
      CREATE TABLE channel_model_costs (
        channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        model text NOT NULL,
        input_per_million numeric(30, 9) NOT NULL CHECK (input_per_million >= 0),
        output_per_million numeric(30, 9) NOT NULL CHECK (output_per_million >= 0),
        cached_input_per_million numeric(30, 9) NOT NULL CHECK (cached_input_per_million >= 0),
        PRIMARY KEY (channel_id, model)
      )`);

    for (const table of TABLES) {
      await queryRunner.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await queryRunner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await queryRunner.query(
        `CREATE POLICY platform_all ON ${table} AS PERMISSIVE FOR ALL TO ${APP_ROLE}
           USING ((SELECT tenancy.scope_is_all())) WITH CHECK ((SELECT tenancy.scope_is_all()))`,
      );
      await queryRunner.query(`CREATE POLICY system_all ON ${table} AS PERMISSIVE FOR ALL TO ${SYSTEM_ROLE} USING (true) WITH CHECK (true)`);
      await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${APP_ROLE}, ${SYSTEM_ROLE}`);
    }

    // What each api instance loads into memory to route: every channel with its keys (still
    // encrypted; only processes holding CHANNEL_ENCRYPTION_KEYS can read them). Nothing else.
    await queryRunner.query(`
      CREATE FUNCTION tenancy.channel_routing_table()
      RETURNS TABLE (id uuid, name text, provider text, base_url text, models jsonb, priority integer, weight integer,
                     pool text, connect_timeout_ms integer, first_byte_timeout_ms integer, total_timeout_ms integer,
                     retry_budget integer, status text, updated_at timestamptz, keys jsonb)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT c.id, c.name, c.provider, c.base_url, c.models, c.priority, c.weight, c.pool, c.connect_timeout_ms,
               c.first_byte_timeout_ms, c.total_timeout_ms, c.retry_budget, c.status, c.updated_at,
               coalesce((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'ciphertext', k.ciphertext, 'last4', k.last4, 'status', k.status)
                                          ORDER BY k.position)
                           FROM public.channel_keys k WHERE k.channel_id = c.id), '[]'::jsonb)
        FROM public.channels c
      $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION tenancy.channel_routing_table() OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.channel_routing_table() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.channel_routing_table() TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM ${SYSTEM_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.channel_routing_table()`);
    for (const table of [...TABLES].reverse()) await queryRunner.query(`DROP TABLE ${table}`);
  }
}
