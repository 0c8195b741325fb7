import { Module } from '@nestjs/common';
import { WebhookSecrets } from './webhook-secrets';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** The api side: endpoint management, the delivery log, redelivery (jobs go to the worker). */
@Module({ controllers: [WebhooksController], providers: [WebhooksRepository, WebhookSecrets, WebhooksService] })
export class WebhooksModule {}
