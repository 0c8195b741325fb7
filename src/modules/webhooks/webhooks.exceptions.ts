import { errorFactory } from '@app/errors';

export enum WebhookErrorCode {
  EndpointDisabled = 'webhook_endpoint_disabled',
  DeliveryPending = 'webhook_delivery_pending',
}

const MESSAGES: Record<WebhookErrorCode, { status: number; title: string }> = {
  [WebhookErrorCode.EndpointDisabled]: { status: 409, title: 'The webhook endpoint is disabled; enable it first' },
  [WebhookErrorCode.DeliveryPending]: { status: 409, title: 'The delivery is still being attempted; redeliver it once it has succeeded or failed' },
};

export const webhookError = errorFactory<WebhookErrorCode>(MESSAGES);
