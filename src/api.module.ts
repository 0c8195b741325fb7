import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { TenantResolutionMiddleware } from '@app/tenancy';
import { CoreModule } from './core.module';

@Module({})
export class ApiModule implements NestModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [CoreModule.forProcess('api', config)],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TenantResolutionMiddleware).exclude('health/{*path}', 'metrics').forRoutes('{*path}');
  }
}
