import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { UniqueItems } from '@app/errors';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { PageMeta, PageQuery } from '../../../common/pagination';
import { WEBHOOK_EVENT_TYPES } from '../webhook-outbox';
import { MAX_URL_LENGTH, webhookUrlProblem } from '../webhook-url';

/** Scheme, credentials, fragment, length; private literal addresses are checked by the service (it knows the config). */
const IsWebhookUrl = () =>
  ValidateBy({
    name: 'isWebhookUrl',
    validator: {
      validate: (value: unknown) => webhookUrlProblem(value, true) === null,
      defaultMessage: (args) => webhookUrlProblem(args?.value, true) ?? 'url is not valid',
    },
  });

const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateWebhookRequest {
  @ApiProperty({ example: 'https://example.com/hooks/aigateway', maxLength: MAX_URL_LENGTH, description: 'http or https, no credentials, no fragment' })
  @IsWebhookUrl()
  url: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true, example: ['billing.low_balance', 'key.revoked'] })
  @IsArray()
  @ArrayMinSize(1, { message: 'events must name at least one event type' })
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @UniqueItems()
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: `each entry of events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  events: string[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ nullable: true, maxLength: 500 })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @MaxLength(500)
  description?: string | null;
}

export class UpdateWebhookRequest {
  @ApiPropertyOptional({ maxLength: MAX_URL_LENGTH })
  @IsOptional()
  @IsWebhookUrl()
  url?: string;

  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_TYPES, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'events must name at least one event type' })
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @UniqueItems()
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: `each entry of events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  events?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ nullable: true, maxLength: 500 })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @MaxLength(500)
  description?: string | null;
}

export class WebhookView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty() url: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true }) events: string[];
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) createdBy: string | null;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
  @ApiPropertyOptional({
    nullable: true,
    enum: ['failing'],
    description: 'Why the platform disabled the endpoint: `failing` (its last deliveries all failed for good). Null when enabled or disabled by its owner; enabling it clears it.',
  })
  disabledReason: 'failing' | null;
  @ApiPropertyOptional({ nullable: true, description: 'Since when the endpoint is disabled' }) disabledAt: Date | null;
  @ApiPropertyOptional({ nullable: true, description: 'Until when the signing key replaced by the last rotation still signs deliveries (a second signature); null when it no longer does' })
  rotationGraceUntil: Date | null;
}

/** Most and default grace period of a rotated webhook secret (docs/webhooks.md). */
export const WEBHOOK_SECRET_MAX_GRACE_SECONDS = 7 * 24 * 3600;
export const WEBHOOK_SECRET_DEFAULT_GRACE_SECONDS = 24 * 3600;

export class RotateWebhookSecretRequest {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: WEBHOOK_SECRET_MAX_GRACE_SECONDS,
    default: WEBHOOK_SECRET_DEFAULT_GRACE_SECONDS,
    description: 'How long the old secret keeps signing deliveries next to the new one (0: it stops at once)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(WEBHOOK_SECRET_MAX_GRACE_SECONDS)
  gracePeriodSeconds?: number;
}

export class WebhookWithSecretView extends WebhookView {
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', description: 'The signing secret: in this response only, never again (docs/webhooks.md)' })
  secret: string;
}

export class WebhookPage extends PageMeta {
  @ApiProperty({ type: [WebhookView] }) items: WebhookView[];
}

export class WebhookAttemptView {
  @ApiProperty() attempt: number;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'HTTP status of the response; null when none came' }) statusCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'timeout', description: 'Why no acceptable response came (timeout, connection refused, blocked address, redirect not followed...)' }) error: string | null;
  @ApiProperty() succeeded: boolean;
  @ApiProperty() latencyMs: number;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'The first 1 KiB of the response body' }) responseSnippet: string | null;
  @ApiProperty() at: Date;
}

export class WebhookDeliveryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) endpointId: string;
  @ApiProperty({ format: 'uuid', description: 'The event (also the webhook-id header the receiver saw)' }) eventId: string;
  @ApiProperty({ example: 'key.revoked' }) eventType: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'The delivery this one repeats (a redelivery)' }) redeliveryOf: string | null;
  @ApiProperty({ enum: ['pending', 'succeeded', 'failed'] }) status: string;
  @ApiProperty() attempts: number;
  @ApiPropertyOptional({ nullable: true, type: Date }) nextAttemptAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) lastStatusCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) lastError: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) lastLatencyMs: number | null;
  @ApiProperty() createdAt: Date;
  @ApiPropertyOptional({ nullable: true, type: Date }) completedAt: Date | null;
  @ApiProperty({ type: [WebhookAttemptView] }) attemptLog: WebhookAttemptView[];
}

export class WebhookDeliveryPage extends PageMeta {
  @ApiProperty({ type: [WebhookDeliveryView] }) items: WebhookDeliveryView[];
}

export class WebhookDeliveryQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['pending', 'succeeded', 'failed'] })
  @IsOptional()
  @IsIn(['pending', 'succeeded', 'failed'])
  status?: 'pending' | 'succeeded' | 'failed';
}
