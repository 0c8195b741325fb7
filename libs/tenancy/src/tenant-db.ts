import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ClsService } from 'nestjs-cls';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaDataSource } from './replica-data-source';
import { TenantScope } from './tenant.types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTIVE_TRANSACTION = 'tenantTransaction';

interface ActiveTransaction {
  scope: TenantScope;
  manager: EntityManager;
}

export class MissingTenantScopeError extends Error {
  constructor(detail: string) {
    super(`Tenant-scoped work needs a scope: ${detail}`);
  }
}

function assertScope(scope: TenantScope | undefined): asserts scope is TenantScope {
  // TypeORM silently drops undefined from a where clause; a scope must never be partial.
  if (!scope || typeof scope.tenantId !== 'string' || !UUID.test(scope.tenantId)) {
    throw new MissingTenantScopeError('tenantId must be a UUID');
  }
  for (const id of scope.also ?? []) {
    if (!UUID.test(id)) throw new MissingTenantScopeError('every id in `also` must be a UUID');
  }
}

function sameScope(a: TenantScope, b: TenantScope): boolean {
  const set = (s: TenantScope) => [...new Set([s.tenantId, ...(s.also ?? [])])].sort().join(',');
  return a.tenantId === b.tenantId && Boolean(a.all) === Boolean(b.all) && set(a) === set(b);
}

/**
 * The one way to reach tenant data. Each unit of work runs in a transaction that first enters its
 * scope through `tenancy.enter_scope` (transaction-local, signed, set once) and hands that
 * transaction's EntityManager to the work. Repositories take the manager as an argument; a
 * repository injected with @InjectRepository would run outside the scope and see nothing.
 */
@Injectable()
export class TenantDb {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cls: ClsService,
    @Optional() private readonly replica?: ReplicaDataSource,
  ) {}

  /** Runs `work` in a transaction scoped to `scope`; nested calls with the same scope share it. */
  async run<T>(scope: TenantScope, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    assertScope(scope);
    const active = this.cls.isActive() ? this.cls.get<ActiveTransaction | undefined>(ACTIVE_TRANSACTION) : undefined;
    if (active) {
      if (!sameScope(active.scope, scope)) {
        throw new MissingTenantScopeError('a transaction cannot change its scope; finish it first');
      }
      return work(active.manager);
    }
    return this.cls.run({ ifNested: 'inherit' }, () =>
      this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT tenancy.enter_scope($1::uuid, $2::uuid[], $3::boolean)', [
          scope.tenantId,
          [...(scope.also ?? [])],
          Boolean(scope.all),
        ]);
        this.cls.set<ActiveTransaction>(ACTIVE_TRANSACTION, { scope, manager });
        return work(manager);
      }),
    );
  }

  /** Runs `work` in the scope the auth layer set for this request; fails closed without one. */
  forRequest<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.run(this.requestScope(), work);
  }

  /**
   * A report's reads (statements, usage summaries and records, exports, top customers): on the
   * read replica when DATABASE_REPLICA_URL is set, in a read-only transaction scoped exactly as on
   * the primary (the same `tenancy.enter_scope`, so row-level security holds there too); otherwise,
   * or inside a transaction already open, the same as `forRequest`. A report never writes.
   */
  forReport<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const source = this.replica?.dataSource;
    const active = this.cls.isActive() ? this.cls.get<ActiveTransaction | undefined>(ACTIVE_TRANSACTION) : undefined;
    if (!source || active) return this.forRequest(work);
    const scope = this.requestScope();
    assertScope(scope);
    return source.transaction(async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      await manager.query('SELECT tenancy.enter_scope($1::uuid, $2::uuid[], $3::boolean)', [scope.tenantId, [...(scope.also ?? [])], Boolean(scope.all)]);
      return work(manager);
    });
  }

  private requestScope(): TenantScope {
    const scope = this.cls.isActive() ? this.cls.get<TenantScope | undefined>('scope') : undefined;
    if (!scope) throw new MissingTenantScopeError('no authenticated scope in this request');
    return scope;
  }
}
