import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A user's preferred console language (`en` or `zh-CN`; null: the tenant's default). The users
 * table keeps its RLS, policies and grants; the new column needs none of its own.
 */
export class UserPreferences1763769601300 implements MigrationInterface {
  name = 'UserPreferences1763769601300';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users ADD COLUMN preferred_language text CHECK (preferred_language IN ('en', 'zh-CN'))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users DROP COLUMN preferred_language`);
  }
}
