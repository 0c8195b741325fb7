import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig, APP_CONFIG } from '@app/config';
import { assertRoleIsSubjectToRls, postgresOptions } from '@app/database';
import { DataSource } from 'typeorm';

/**
 * The read replica's pool (DATABASE_REPLICA_URL), or none. Opened after the primary (it takes the
 * primary's entities), as the same kind of role: one subject to row-level security, checked at
 * start exactly as DATABASE_URL is. Only reports read through it (`TenantDb.forReport`).
 */
@Injectable()
export class ReplicaDataSource implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReplicaDataSource.name);
  private source: DataSource | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly primary: DataSource,
  ) {}

  /** The replica's pool once open; null when none is configured. */
  get dataSource(): DataSource | null {
    return this.source;
  }

  async onApplicationBootstrap(): Promise<void> {
    const url = this.config.DATABASE_REPLICA_URL;
    if (!url) return;
    const source = new DataSource({
      ...postgresOptions({
        url,
        poolSize: this.config.DATABASE_POOL_SIZE,
        statementTimeoutMs: this.config.DATABASE_STATEMENT_TIMEOUT_MS,
        connectTimeoutMs: this.config.DATABASE_CONNECT_TIMEOUT_MS,
        applicationName: 'aigateway-api-replica',
      }),
      entities: this.primary.entityMetadatas.map((m) => m.target),
    } as never);
    await source.initialize();
    try {
      await assertRoleIsSubjectToRls(source, 'DATABASE_REPLICA_URL');
    } catch (error) {
      await source.destroy();
      throw error;
    }
    this.source = source;
    this.logger.log('reports read from the replica (DATABASE_REPLICA_URL)');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.source?.destroy().catch(() => undefined);
    this.source = null;
  }
}
