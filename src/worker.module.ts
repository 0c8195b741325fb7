import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { queueMetricProviders, QueueMetrics } from '@app/queue';
import { CoreModule } from './core.module';
import { ChannelsWorkerModule } from './modules/channels/channels-worker.module';
import { MailWorkerModule } from './modules/mail/mail-worker.module';
import { MaintenanceModule } from './modules/maintenance/maintenance.module';
import { MeteringModule } from './modules/metering/metering.module';
import { SettlementWorkerModule } from './modules/settlement/settlement-worker.module';
import { WebhooksWorkerModule } from './modules/webhooks/webhooks-worker.module';

/** BullMQ processors and schedulers; its only HTTP routes are health and metrics. */
@Module({})
export class WorkerModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forProcess('worker', config), MailWorkerModule, MaintenanceModule, ChannelsWorkerModule, MeteringModule, SettlementWorkerModule, WebhooksWorkerModule],
      providers: [...queueMetricProviders, QueueMetrics],
    };
  }
}
