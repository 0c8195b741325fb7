import { Global, Module } from '@nestjs/common';
import { ReplicaDataSource } from './replica-data-source';
import { TenantContext } from './tenant-context';
import { TenantDb } from './tenant-db';
import { TenantResolver } from './tenant-resolver';

@Global()
@Module({
  providers: [TenantContext, TenantDb, TenantResolver, ReplicaDataSource],
  exports: [TenantContext, TenantDb, TenantResolver, ReplicaDataSource],
})
export class TenancyModule {}
