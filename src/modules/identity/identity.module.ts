import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { LedgerModule } from '../ledger/ledger.module';
import { IdentitySettingsController, PersonalDataController, SignUpController } from './identity.controller';
import { IdentityRepository } from './identity.repository';
import { IdentitySettingsService } from './identity-settings.service';
import { PersonalDataService } from './personal-data.service';
import { SignUpService } from './sign-up.service';

/** Identity for a public product: self sign-up, the owner's identity settings, personal data export and erasure. */
@Module({
  imports: [AuthModule, LedgerModule, KeysRuntimeModule],
  controllers: [SignUpController, IdentitySettingsController, PersonalDataController],
  providers: [IdentityRepository, IdentitySettingsService, SignUpService, PersonalDataService],
  exports: [IdentityRepository],
})
export class IdentityModule {}
