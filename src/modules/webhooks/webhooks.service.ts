import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { QueueName, WebhookDeliveryJob, WebhooksJob } from '@app/queue';
import { TenantDb } from '@app/tenancy';
import { Queue } from 'bullmq';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  WebhookDeliveryPage,
  WebhookDeliveryQuery,
  WebhookDeliveryView,
  WebhookPage,
  WebhookView,
  WebhookWithSecretView,
  RotateWebhookSecretRequest,
  WEBHOOK_SECRET_DEFAULT_GRACE_SECONDS,
} from './dto/webhook.dto';
import { deliveryJobOptions } from './webhook-jobs';
import { WebhookSecrets } from './webhook-secrets';
import { generateWebhookSecret } from './webhook-signature';
import { webhookUrlProblem } from './webhook-url';
import { WebhookErrorCode, webhookError } from './webhooks.exceptions';
import { WEBHOOK_ENDPOINT } from './webhooks.permissions';
import { EndpointChanges, WebhooksRepository } from './webhooks.repository';

type EndpointAction = 'read' | 'update' | 'delete';

/** What the audit log keeps of an endpoint: never the secret. */
const audited = (e: WebhookView) => ({ url: e.url, events: e.events, enabled: e.enabled, description: e.description });

@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    private readonly audit: AuditService,
    @InjectQueue(QueueName.Webhooks) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(query: { page?: number; pageSize?: number }): Promise<WebhookPage> {
    const { page, pageSize, offset } = pageOf(query);
    const tenantId = this.auth.principal.tenantId;
    const { items, total } = await this.tenantDb.forRequest((m) => this.repository.listEndpoints(m, tenantId, offset, pageSize));
    return { items, total, page, pageSize };
  }

  get(id: string): Promise<WebhookView> {
    return this.tenantDb.forRequest((m) => this.endpoint(m, id, 'read'));
  }

  async create(input: CreateWebhookRequest): Promise<WebhookWithSecretView> {
    const principal = this.auth.principal;
    this.assertAllowedUrl(input.url);
    const secret = generateWebhookSecret();
    const id = uuidv7();
    const created = await this.tenantDb.forRequest(async (m) => {
      await this.repository.insertEndpoint(m, {
        id,
        tenantId: principal.tenantId,
        url: input.url,
        events: [...input.events].sort(),
        enabled: input.enabled ?? true,
        description: input.description || null,
        secretCiphertext: this.secrets.seal(id, secret),
        createdBy: principal.userId,
      });
      const endpoint = (await this.repository.endpoint(m, id))!;
      await this.audit.record(m, { tenantId: endpoint.tenantId, action: 'webhook.created', subjectType: WEBHOOK_ENDPOINT, subjectId: id, after: audited(endpoint) });
      return endpoint;
    });
    return { ...created, secret };
  }

  async update(id: string, input: UpdateWebhookRequest): Promise<WebhookView> {
    if (input.url !== undefined) this.assertAllowedUrl(input.url);
    const changes: EndpointChanges = {
      url: input.url,
      events: input.events ? [...input.events].sort() : undefined,
      enabled: input.enabled,
      description: input.description === undefined ? undefined : input.description || null,
    };
    return this.change(id, 'update', 'webhook.updated', (m, endpoint) => this.repository.updateEndpoint(m, endpoint.id, changes));
  }

  async remove(id: string): Promise<void> {
    await this.tenantDb.forRequest(async (m) => {
      const endpoint = await this.endpoint(m, id, 'delete', true);
      await this.repository.deleteEndpoint(m, id);
      await this.audit.record(m, { tenantId: endpoint.tenantId, action: 'webhook.deleted', subjectType: WEBHOOK_ENDPOINT, subjectId: id, before: audited(endpoint) });
    });
  }

  /**
   * A new secret, signing at once; the old one keeps signing next to it for the grace period
   * (default a day), so the receiver can switch without missing a delivery.
   */
  async rotateSecret(id: string, input: RotateWebhookSecretRequest = {}): Promise<WebhookWithSecretView> {
    const secret = generateWebhookSecret();
    const grace = input.gracePeriodSeconds ?? WEBHOOK_SECRET_DEFAULT_GRACE_SECONDS;
    const endpoint = await this.change(id, 'update', 'webhook.secret_rotated', (m, endpoint) =>
      this.repository.rotateSecret(m, endpoint.id, this.secrets.seal(endpoint.id, secret), grace),
    );
    return { ...endpoint, secret };
  }

  async deliveries(id: string, query: WebhookDeliveryQuery): Promise<WebhookDeliveryPage> {
    const { page, pageSize, offset } = pageOf(query);
    const { items, total } = await this.tenantDb.forRequest(async (m) => {
      await this.endpoint(m, id, 'read');
      return this.repository.deliveries(m, id, query.status, offset, pageSize);
    });
    return { items, total, page, pageSize };
  }

  /** The same event again, as a new delivery with its own attempts (the receiver sees the same webhook-id). */
  async redeliver(id: string, deliveryId: string): Promise<WebhookDeliveryView> {
    return this.newDelivery(id, 'webhook.redelivered', async (m, endpoint) => {
      const original = await this.repository.delivery(m, endpoint.id, deliveryId);
      if (!original) throw AppException.notFound('webhook delivery');
      if (original.status === 'pending') throw webhookError(WebhookErrorCode.DeliveryPending);
      return { eventId: original.eventId, redeliveryOf: original.id };
    });
  }

  /** A `webhook.test` event sent to this endpoint only. */
  async ping(id: string): Promise<WebhookDeliveryView> {
    return this.newDelivery(id, 'webhook.test_sent', async (m, endpoint) => ({
      eventId: await this.repository.insertTestEvent(m, endpoint.tenantId, { endpointId: endpoint.id, message: 'A test event from AIGateway.' }),
      redeliveryOf: null,
    }));
  }

  private async newDelivery(
    id: string,
    auditAction: string,
    source: (m: EntityManager, endpoint: WebhookView) => Promise<{ eventId: string; redeliveryOf: string | null }>,
  ): Promise<WebhookDeliveryView> {
    const delivery = await this.tenantDb.forRequest(async (m) => {
      const endpoint = await this.endpoint(m, id, 'update', true);
      if (!endpoint.enabled) throw webhookError(WebhookErrorCode.EndpointDisabled);
      const { eventId, redeliveryOf } = await source(m, endpoint);
      const deliveryId = await this.repository.insertDelivery(m, { tenantId: endpoint.tenantId, endpointId: endpoint.id, eventId, redeliveryOf });
      await this.audit.record(m, { tenantId: endpoint.tenantId, action: auditAction, subjectType: WEBHOOK_ENDPOINT, subjectId: endpoint.id, after: { deliveryId, eventId, redeliveryOf } });
      return (await this.repository.delivery(m, endpoint.id, deliveryId))!;
    });
    const job: WebhookDeliveryJob = { tenantId: this.auth.principal.tenantId, deliveryId: delivery.id };
    // After commit; if Redis is away the worker's sweeper adds the job later.
    await this.queue.add(WebhooksJob.Deliver, job, deliveryJobOptions(this.config, delivery.id)).catch((error: Error) => {
      this.logger.warn({ deliveryId: delivery.id, err: error.message }, 'webhook job not enqueued; the sweeper will add it');
    });
    return delivery;
  }

  private async change(id: string, action: EndpointAction, auditAction: string, work: (m: EntityManager, endpoint: WebhookView) => Promise<void>): Promise<WebhookView> {
    return this.tenantDb.forRequest(async (m) => {
      const before = await this.endpoint(m, id, action, true);
      await work(m, before);
      const after = (await this.repository.endpoint(m, id))!;
      await this.audit.record(m, { tenantId: before.tenantId, action: auditAction, subjectType: WEBHOOK_ENDPOINT, subjectId: id, before: audited(before), after: audited(after) });
      return after;
    });
  }

  private async endpoint(m: EntityManager, id: string, action: EndpointAction, lock = false): Promise<WebhookView> {
    const endpoint = await this.repository.endpoint(m, id, { lock });
    if (!endpoint) throw AppException.notFound('webhook endpoint');
    this.auth.assertCan(action, WEBHOOK_ENDPOINT, { id: endpoint.id, tenantId: endpoint.tenantId });
    return endpoint;
  }

  private assertAllowedUrl(url: string): void {
    const problem = webhookUrlProblem(url, this.config.WEBHOOK_ALLOW_PRIVATE_NETWORKS);
    if (problem) throw AppException.validation([{ field: 'url', messages: [problem] }]);
  }
}
