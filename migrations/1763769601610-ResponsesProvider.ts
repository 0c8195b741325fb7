import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A channel may be of type `openai-responses` (issue 23): an OpenAI-compatible upstream that also
 * serves the Responses API, to which /v1/responses is passed through instead of translated.
 */
export class ResponsesProvider1763769601610 implements MigrationInterface {
  name = 'ResponsesProvider1763769601610';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_provider_check`);
    await queryRunner.query(`ALTER TABLE channels ADD CONSTRAINT channels_provider_check CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai-responses'))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`UPDATE channels SET provider = 'openai' WHERE provider = 'openai-responses'`);
    await queryRunner.query(`ALTER TABLE channels DROP CONSTRAINT channels_provider_check`);
    await queryRunner.query(`ALTER TABLE channels ADD CONSTRAINT channels_provider_check CHECK (provider IN ('openai', 'anthropic', 'gemini'))`);
  }
}
