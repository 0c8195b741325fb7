import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { SYSTEM_CONNECTION } from '@app/database';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Cross-tenant system work (settlement, reconciliation, bootstrap) on the system role's own
 * connection. Only the worker and the cli register that connection; the api cannot inject this.
 */
@Injectable()
export class SystemDb {
  constructor(@InjectDataSource(SYSTEM_CONNECTION) private readonly dataSource: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }
}
