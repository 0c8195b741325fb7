import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { SYSTEM_CONNECTION } from '@app/database';
import { reportPool } from '@app/observability';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Cross-tenant system work (settlement, reconciliation, bootstrap) on the system role's own
 * connection. Only the worker and the cli register that connection; the api cannot inject this.
 */
@Injectable()
export class SystemDb implements OnModuleDestroy {
  private readonly unreportPool: () => void;

  constructor(@InjectDataSource(SYSTEM_CONNECTION) private readonly dataSource: DataSource) {
    this.unreportPool = reportPool(() => {
      const pool = (dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
      return pool ? { pool: 'system', total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
    });
  }

  onModuleDestroy(): void {
    this.unreportPool();
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }
}
