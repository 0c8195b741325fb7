import { Module } from '@nestjs/common';
import { ChannelsRuntimeModule } from '../channels/runtime/channels-runtime.module';
import { PricingRuntimeModule } from '../pricing/pricing-runtime.module';
import { TenantsModule } from '../tenants/tenants.module';
import { ConsoleStatic } from './console-static';
import { SiteController } from './site.controller';
import { SiteService } from './site.service';

/** The browser console: its files at /console/ and the public site description it starts from. */
@Module({
  imports: [TenantsModule, PricingRuntimeModule, ChannelsRuntimeModule],
  controllers: [SiteController],
  providers: [SiteService, ConsoleStatic],
})
export class ConsoleModule {}
