import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { CoreModule } from './core.module';
import { AuditModule } from './modules/audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { ChannelsModule } from './modules/channels/channels.module';
import { ConsoleModule } from './modules/console/console.module';
import { ChannelsRuntimeModule } from './modules/channels/runtime/channels-runtime.module';
import { CustomersModule } from './modules/customers/customers.module';
import { ContentLogsModule } from './modules/content-logs/content-logs.module';
import { MailModule } from './modules/mail/mail.module';
import { LedgerModule } from './modules/ledger/ledger.module';
import { MembersModule } from './modules/members/members.module';
import { PricingModule } from './modules/pricing/pricing.module';
import { LimitsModule } from './modules/limits/limits.module';
import { RiskModule } from './modules/risk/risk.module';
import { InferenceModule } from './modules/inference/inference.module';
import { KeysModule } from './modules/keys/keys.module';
import { TenantsModule } from './modules/tenants/tenants.module';
import { UsersModule } from './modules/users/users.module';
import { WithdrawalsModule } from './modules/withdrawals/withdrawals.module';
import { LowBalanceModule } from './modules/low-balance/low-balance.module';
import { SettlementModule } from './modules/settlement/settlement.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';
import { TopupsModule } from './modules/topups/topups.module';
import { IdentityModule } from './modules/identity/identity.module';

@Module({})
export class ApiModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [CoreModule.forProcess('api', config), UsersModule, MailModule, AuditModule, AuthModule, TenantsModule, MembersModule, CustomersModule, PricingModule, LimitsModule, RiskModule, KeysModule, ChannelsModule, ChannelsRuntimeModule, LedgerModule, InferenceModule, WithdrawalsModule, LowBalanceModule, SettlementModule, WebhooksModule, TopupsModule, ContentLogsModule, IdentityModule, ConsoleModule],
    };
  }
}
