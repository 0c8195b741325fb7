/**
 * Stable, documented codes of the admin API's problem responses. Clients branch on `code`, never
 * on `title` or `detail`. Feature modules add their own codes in their exceptions file.
 */
export enum CommonErrorCode {
  ValidationFailed = 'validation_failed',
  MalformedRequest = 'malformed_request',
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  RouteNotFound = 'route_not_found',
  MethodNotAllowed = 'method_not_allowed',
  Conflict = 'conflict',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  RateLimited = 'rate_limited',
  HeadersTooLarge = 'headers_too_large',
  UnknownTenant = 'unknown_tenant',
  ServiceUnavailable = 'service_unavailable',
  Internal = 'internal_error',
}

export const COMMON_ERROR_TITLES: Record<CommonErrorCode, string> = {
  [CommonErrorCode.ValidationFailed]: 'The request has invalid fields',
  [CommonErrorCode.MalformedRequest]: 'The request could not be read',
  [CommonErrorCode.Unauthenticated]: 'Authentication is required',
  [CommonErrorCode.Forbidden]: 'Not allowed',
  [CommonErrorCode.NotFound]: 'Not found',
  [CommonErrorCode.RouteNotFound]: 'No such route',
  [CommonErrorCode.MethodNotAllowed]: 'Method not allowed',
  [CommonErrorCode.Conflict]: 'Conflict with the current state',
  [CommonErrorCode.PayloadTooLarge]: 'The request body is too large',
  [CommonErrorCode.UnsupportedMediaType]: 'Unsupported content type',
  [CommonErrorCode.RateLimited]: 'Too many requests',
  [CommonErrorCode.HeadersTooLarge]: 'The request headers are too large',
  [CommonErrorCode.UnknownTenant]: 'This host is not a tenant domain',
  [CommonErrorCode.ServiceUnavailable]: 'Temporarily unavailable',
  [CommonErrorCode.Internal]: 'Internal error',
};
