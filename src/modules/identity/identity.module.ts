import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { LedgerModule } from '../ledger/ledger.module';
import { IdentitySettingsController, PersonalDataController, SignUpController } from './identity.controller';
import { IdentityRepository } from './identity.repository';
import { IdentitySettingsService } from './identity-settings.service';
import { PersonalDataService } from './personal-data.service';
import { SignUpService } from './sign-up.service';
import { OidcClients } from './oidc/oidc-clients';
import { OidcSettingsController, OidcSignInController } from './oidc/oidc.controller';
import { OidcRepository } from './oidc/oidc.repository';
import { OidcSettingsService } from './oidc/oidc-settings.service';
import { OidcSignInService } from './oidc/oidc-sign-in.service';

/** Identity for a public product: self sign-up, the owner's identity settings, OpenID Connect sign-in, personal data export and erasure. */
@Module({
  imports: [AuthModule, LedgerModule, KeysRuntimeModule],
  controllers: [SignUpController, IdentitySettingsController, OidcSettingsController, OidcSignInController, PersonalDataController],
  providers: [IdentityRepository, IdentitySettingsService, SignUpService, PersonalDataService, OidcRepository, OidcClients, OidcSettingsService, OidcSignInService],
  exports: [IdentityRepository, OidcRepository],
})
export class IdentityModule {}
