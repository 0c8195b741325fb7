import { Module } from '@nestjs/common';
import { LimitsRuntimeModule } from './limits-runtime.module';
import { LimitsController } from './limits.controller';
import { LimitsService } from './limits.service';

@Module({
  imports: [LimitsRuntimeModule],
  controllers: [LimitsController],
  providers: [LimitsService],
})
export class LimitsModule {}
