import { Global, Module } from '@nestjs/common';
import { TenantContext } from './tenant-context';
import { TenantDb } from './tenant-db';
import { TenantResolutionMiddleware } from './tenant-resolution.middleware';
import { TenantResolver } from './tenant-resolver';

@Global()
@Module({
  providers: [TenantContext, TenantDb, TenantResolver, TenantResolutionMiddleware],
  exports: [TenantContext, TenantDb, TenantResolver, TenantResolutionMiddleware],
})
export class TenancyModule {}
