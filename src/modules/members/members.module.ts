import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { CustomersModule } from '../customers/customers.module';
import { TenantsModule } from '../tenants/tenants.module';
import { MembersController } from './members.controller';
import { MembersRepository } from './members.repository';
import { MembersService } from './members.service';
import { ResellerOnboardingController } from './reseller-onboarding.controller';

@Module({
  imports: [AuthModule, TenantsModule, CustomersModule, KeysRuntimeModule],
  controllers: [MembersController, ResellerOnboardingController],
  providers: [MembersRepository, MembersService],
  exports: [MembersService],
})
export class MembersModule {}
