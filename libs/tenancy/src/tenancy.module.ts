import { Global, Module } from '@nestjs/common';
import { TenantContext } from './tenant-context';
import { TenantDb } from './tenant-db';
import { TenantResolver } from './tenant-resolver';

@Global()
@Module({
  providers: [TenantContext, TenantDb, TenantResolver],
  exports: [TenantContext, TenantDb, TenantResolver],
})
export class TenancyModule {}
