import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SYSTEM_CONNECTION } from '@app/database';
import { SystemDb } from '@app/tenancy';
import { DemoUpstreamService } from './cli/demo-upstream.service';
import { PlatformSetupService } from './cli/platform-setup.service';
import { CoreModule } from './core.module';
import { AuditEntry } from './modules/audit/audit-entry.entity';
import { AuditService } from './modules/audit/audit.service';
import { ChannelEvents } from './modules/channels/channel-events';
import { ChannelKeyRotation } from './modules/channels/channel-key-rotation';
import { ChannelSecrets } from './modules/channels/channel-secrets';
import { ChannelsRepository } from './modules/channels/channels.repository';
import { KeysRepository } from './modules/keys/keys.repository';
import { BalanceService } from './modules/ledger/balance.service';
import { LedgerRepository } from './modules/ledger/ledger.repository';
import { LedgerService } from './modules/ledger/ledger.service';
import { LowBalanceAlerts } from './modules/low-balance/low-balance-alerts';
import { LowBalanceRepository } from './modules/low-balance/low-balance.repository';
import { DeadLetterReplay } from './modules/metering/dead-letter-replay';
import { UsageWriter } from './modules/metering/usage-writer';
import { RiskCoreModule } from './modules/risk/risk-core.module';
import { PricingRepository } from './modules/pricing/pricing.repository';
import { TenantDomain } from './modules/tenants/tenant-domain.entity';
import { Tenant } from './modules/tenants/tenant.entity';
import { PasswordHasher } from './modules/users/password-hasher';
import { UserRole } from './modules/users/user-role.entity';
import { UsageRecordsRepository } from './modules/usage/usage-records.repository';
import { User } from './modules/users/user.entity';

const ENTITIES = [Tenant, TenantDomain, User, UserRole, AuditEntry];

@Module({})
export class CliModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        CoreModule.forProcess('cli', config),
        TypeOrmModule.forFeature(ENTITIES),
        TypeOrmModule.forFeature(ENTITIES, SYSTEM_CONNECTION),
        // The metering writer evaluates the tenants' risk rules in each batch.
        RiskCoreModule,
      ],
      providers: [
        SystemDb,
        PasswordHasher,
        PlatformSetupService,
        ChannelsRepository,
        ChannelSecrets,
        ChannelEvents,
        ChannelKeyRotation,
        // seed-demo's inference half (DemoUpstreamService): prices, keys and the ledger's credit.
        DemoUpstreamService,
        PricingRepository,
        KeysRepository,
        AuditService,
        LedgerRepository,
        BalanceService,
        LedgerService,
        LowBalanceRepository,
        LowBalanceAlerts,
        // metering replay-dead-letters: the metering writer, as the worker runs it.
        UsageRecordsRepository,
        UsageWriter,
        DeadLetterReplay,
      ],
    };
  }
}
