import { Module } from '@nestjs/common';
import { PricingRuntimeModule } from '../pricing/pricing-runtime.module';
import { KeysRuntimeModule } from './keys-runtime.module';
import { KeysController } from './keys.controller';
import { KeysRepository } from './keys.repository';
import { KeysService } from './keys.service';

@Module({
  imports: [KeysRuntimeModule, PricingRuntimeModule],
  controllers: [KeysController],
  providers: [KeysRepository, KeysService],
})
export class KeysModule {}
