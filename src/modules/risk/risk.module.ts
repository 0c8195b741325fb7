import { Module } from '@nestjs/common';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { RiskController } from './risk.controller';
import { RiskRepository } from './risk.repository';
import { RiskService } from './risk.service';

/** The risk rules and flags API (api). Metering evaluates the rules (RiskCoreModule, worker). */
@Module({
  imports: [KeysRuntimeModule],
  controllers: [RiskController],
  providers: [RiskService, RiskRepository],
})
export class RiskModule {}
