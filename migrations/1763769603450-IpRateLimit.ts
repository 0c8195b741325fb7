import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Requests per minute per client address on /v1, a tenant's setting (issue 26): NULL is the
 * platform default (INFERENCE_IP_RPM), 0 no limit.
 */
export class IpRateLimit1763769603450 implements MigrationInterface {
  name = 'IpRateLimit1763769603450';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE tenant_limits ADD COLUMN ip_rpm integer CHECK (ip_rpm >= 0)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE tenant_limits DROP COLUMN ip_rpm`);
  }
}
