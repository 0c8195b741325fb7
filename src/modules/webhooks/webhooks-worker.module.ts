import { Module } from '@nestjs/common';
import { webhookMetricProviders } from './webhook.metrics';
import { SystemDb } from '@app/tenancy';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookRelay } from './webhook-relay';
import { WebhookSecrets } from './webhook-secrets';
import { WebhooksRepository } from './webhooks.repository';

/** Worker only: the outbox relay, the sweeper and the delivery processor. */
@Module({ providers: [...webhookMetricProviders, SystemDb, WebhooksRepository, WebhookSecrets, WebhookDeliveryProcessor, WebhookRelay] })
export class WebhooksWorkerModule {}
