import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Domain ownership verification: a domain a reseller adds is `pending` with a random token and
 * serves (the Host resolves to its tenant) only once verified by a DNS TXT record or an HTTP token
 * file. Domains that exist already stay verified. Uniqueness holds among verified domains only, so a
 * pending claim cannot squat on another reseller's domain; a tenant claims a domain once.
 */
export class DomainVerification1763769603650 implements MigrationInterface {
  name = 'DomainVerification1763769603650';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tenant_domains
        ADD COLUMN status text NOT NULL DEFAULT 'verified' CHECK (status IN ('pending', 'verified')),
        ADD COLUMN verification_token text CHECK (verification_token IS NULL OR length(verification_token) BETWEEN 16 AND 128),
        ADD COLUMN verified_at timestamptz,
        ADD COLUMN last_checked_at timestamptz,
        ADD COLUMN last_check_error text CHECK (last_check_error IS NULL OR length(last_check_error) <= 500),
        ADD COLUMN primary_requested boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`UPDATE tenant_domains SET verified_at = created_at WHERE verified_at IS NULL`);
    // Emails and links use the primary domain: it must serve.
    await queryRunner.query(`
      ALTER TABLE tenant_domains
        ADD CONSTRAINT tenant_domains_primary_verified CHECK (status = 'verified' OR NOT is_primary),
        ADD CONSTRAINT tenant_domains_pending_token CHECK (status = 'verified' OR verification_token IS NOT NULL)`);
    await queryRunner.query(`DROP INDEX tenant_domains_domain_key`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenant_domains_verified_domain_key ON tenant_domains (domain) WHERE status = 'verified'`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenant_domains_tenant_domain_key ON tenant_domains (tenant_id, domain)`);
    await queryRunner.query(`CREATE INDEX tenant_domains_pending_idx ON tenant_domains (last_checked_at NULLS FIRST) WHERE status = 'pending'`);
    await this.resolveDomain(queryRunner, `AND d.status = 'verified'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.resolveDomain(queryRunner, '');
    await queryRunner.query(`DELETE FROM tenant_domains WHERE status = 'pending'`);
    await queryRunner.query(`DROP INDEX tenant_domains_pending_idx`);
    await queryRunner.query(`DROP INDEX tenant_domains_tenant_domain_key`);
    await queryRunner.query(`DROP INDEX tenant_domains_verified_domain_key`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenant_domains_domain_key ON tenant_domains (domain)`);
    await queryRunner.query(`
      ALTER TABLE tenant_domains
        DROP CONSTRAINT tenant_domains_pending_token, DROP CONSTRAINT tenant_domains_primary_verified,
        DROP COLUMN primary_requested, DROP COLUMN last_check_error, DROP COLUMN last_checked_at,
        DROP COLUMN verified_at, DROP COLUMN verification_token, DROP COLUMN status`);
  }

  /** Host resolution (the narrow definer function of TenantsAndUsers), with an extra condition. */
  private async resolveDomain(queryRunner: QueryRunner, condition: string): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.resolve_domain(text)`);
    await queryRunner.query(`
      CREATE FUNCTION tenancy.resolve_domain(p_domain text)
      RETURNS TABLE (tenant_id uuid, slug text, type text, status text, name text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT t.id, t.slug, t.type, t.status, t.name
        FROM public.tenant_domains d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.domain = lower(p_domain) ${condition}
      $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO aigateway_system`);
    await queryRunner.query(`ALTER FUNCTION tenancy.resolve_domain(text) OWNER TO aigateway_system`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.resolve_domain(text) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.resolve_domain(text) TO aigateway_app`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM aigateway_system`);
  }
}
