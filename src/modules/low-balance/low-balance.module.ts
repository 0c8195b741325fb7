import { Module } from '@nestjs/common';
import { LowBalanceCoreModule } from './low-balance-core.module';
import { CustomerThresholdController, TenantThresholdController } from './low-balance.controller';
import { LowBalanceService } from './low-balance.service';

/** Api: the routes that set low-balance thresholds. */
@Module({
  imports: [LowBalanceCoreModule],
  controllers: [CustomerThresholdController, TenantThresholdController],
  providers: [LowBalanceService],
})
export class LowBalanceModule {}
