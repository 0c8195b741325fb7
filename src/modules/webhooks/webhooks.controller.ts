import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { PageQuery } from '../../common/pagination';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
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
} from './dto/webhook.dto';
import { WEBHOOK_ENDPOINT } from './webhooks.permissions';
import { WebhooksService } from './webhooks.service';

/** The tenant's webhook endpoints, their delivery log and redelivery (docs/webhooks.md). Tenant owners only. */
@ApiTags('webhooks')
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get()
  @RequirePermission('read', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: "The tenant's webhook endpoints, newest first (secrets are never shown again)" })
  @ApiOkResponse({ type: WebhookPage })
  @ApiProblems('validation')
  list(@Query() query: PageQuery): Promise<WebhookPage> {
    return this.webhooks.list(query);
  }

  @Post()
  @RequirePermission('create', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'Add an endpoint; the signing secret is in this response only, never again' })
  @ApiCreatedResponse({ type: WebhookWithSecretView })
  @ApiProblems('validation')
  create(@Body() body: CreateWebhookRequest): Promise<WebhookWithSecretView> {
    return this.webhooks.create(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One webhook endpoint (its secret is never shown again)' })
  @RequirePermission('read', WEBHOOK_ENDPOINT)
  @ApiOkResponse({ type: WebhookView })
  @ApiProblems('notFound')
  get(@Param('id', UuidParam('webhook endpoint')) id: string): Promise<WebhookView> {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  @RequirePermission('update', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'Change URL, events, description or enabled (a disabled endpoint gets no new deliveries)' })
  @ApiOkResponse({ type: WebhookView })
  @ApiProblems('validation', 'notFound')
  update(@Param('id', UuidParam('webhook endpoint')) id: string, @Body() body: UpdateWebhookRequest): Promise<WebhookView> {
    return this.webhooks.update(id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('delete', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'Remove an endpoint with its delivery log' })
  @ApiNoContentResponse()
  @ApiProblems('notFound')
  remove(@Param('id', UuidParam('webhook endpoint')) id: string): Promise<void> {
    return this.webhooks.remove(id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequirePermission('update', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'A new signing secret, effective at once (in this response only); the old one keeps signing for the grace period' })
  @ApiOkResponse({ type: WebhookWithSecretView })
  @ApiProblems('validation', 'notFound')
  rotateSecret(@Param('id', UuidParam('webhook endpoint')) id: string, @Body() body: RotateWebhookSecretRequest): Promise<WebhookWithSecretView> {
    return this.webhooks.rotateSecret(id, body);
  }

  @Get(':id/deliveries')
  @RequirePermission('read', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'The delivery log of an endpoint, newest first, each with its attempts' })
  @ApiOkResponse({ type: WebhookDeliveryPage })
  @ApiProblems('validation', 'notFound')
  deliveries(@Param('id', UuidParam('webhook endpoint')) id: string, @Query() query: WebhookDeliveryQuery): Promise<WebhookDeliveryPage> {
    return this.webhooks.deliveries(id, query);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @RequirePermission('update', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'Send the event of a finished delivery again, as a new delivery (same webhook-id)' })
  @ApiAcceptedResponse({ type: WebhookDeliveryView })
  @ApiProblems('notFound', 'conflict')
  redeliver(@Param('id', UuidParam('webhook endpoint')) id: string, @Param('deliveryId', UuidParam('webhook delivery')) deliveryId: string): Promise<WebhookDeliveryView> {
    return this.webhooks.redeliver(id, deliveryId);
  }

  @Post(':id/test')
  @HttpCode(202)
  @RequirePermission('update', WEBHOOK_ENDPOINT)
  @ApiOperation({ summary: 'Send a webhook.test event to this endpoint' })
  @ApiAcceptedResponse({ type: WebhookDeliveryView })
  @ApiProblems('notFound', 'conflict')
  ping(@Param('id', UuidParam('webhook endpoint')) id: string): Promise<WebhookDeliveryView> {
    return this.webhooks.ping(id);
  }
}
