import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { CoreModule } from './core.module';
import { AuditModule } from './modules/audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { MailModule } from './modules/mail/mail.module';
import { LedgerModule } from './modules/ledger/ledger.module';
import { MembersModule } from './modules/members/members.module';
import { TenantsModule } from './modules/tenants/tenants.module';
import { UsersModule } from './modules/users/users.module';

@Module({})
export class ApiModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [CoreModule.forProcess('api', config), UsersModule, MailModule, AuditModule, AuthModule, TenantsModule, MembersModule, LedgerModule],
    };
  }
}
