import { DynamicModule, Module, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig, APP_CONFIG, requireSettings } from '@app/config';
import { DataSource } from 'typeorm';
import { postgresOptions } from './data-source-options';
import { assertRoleIsSubjectToRls } from './role-check';
import { SYSTEM_CONNECTION } from './tokens';

class ApplicationRoleCheck implements OnApplicationBootstrap {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    await assertRoleIsSubjectToRls(this.dataSource, 'DATABASE_URL');
  }
}

@Module({})
export class DatabaseModule {
  /**
   * The application-role connection (every process) and, with `system: true`, the system-role
   * connection for cross-tenant work (worker and cli only: the api never holds it).
   */
  static forRoot(options: { processName: string; system?: boolean }): DynamicModule {
    const imports = [
      TypeOrmModule.forRootAsync({
        inject: [APP_CONFIG],
        useFactory: (config: AppConfig) => ({
          ...postgresOptions({
            url: config.DATABASE_URL,
            poolSize: config.DATABASE_POOL_SIZE,
            statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
            connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
            applicationName: `aigateway-${options.processName}`,
          }),
          autoLoadEntities: true,
        }),
      }),
    ];
    if (options.system) {
      imports.push(
        TypeOrmModule.forRootAsync({
          name: SYSTEM_CONNECTION,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            // The name must be in the options too, or shutdown looks for the default connection.
            name: SYSTEM_CONNECTION,
            ...postgresOptions({
              url: requireSettings(config, ['DATABASE_SYSTEM_URL'], `the ${options.processName}`).DATABASE_SYSTEM_URL,
              poolSize: Math.max(2, Math.ceil(config.DATABASE_POOL_SIZE / 4)),
              statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
              connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
              applicationName: `aigateway-${options.processName}-system`,
            }),
            autoLoadEntities: true,
          }),
        }),
      );
    }
    return {
      module: DatabaseModule,
      global: true,
      imports,
      providers: [ApplicationRoleCheck],
      exports: [TypeOrmModule],
    };
  }
}

