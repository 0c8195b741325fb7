import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookRelay } from './webhook-relay';
import { WebhookSecrets } from './webhook-secrets';
import { WebhooksRepository } from './webhooks.repository';

/** Worker only: the outbox relay, the sweeper and the delivery processor. */
@Module({ providers: [SystemDb, WebhooksRepository, WebhookSecrets, WebhookDeliveryProcessor, WebhookRelay] })
export class WebhooksWorkerModule {}
