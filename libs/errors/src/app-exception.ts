import { COMMON_ERROR_TITLES, CommonErrorCode } from './error-codes';

export interface FieldError {
  /** Dotted path of the offending field in the request body or query, e.g. `branding.themeColor`. */
  field: string;
  messages: string[];
}

/**
 * A failure the client should hear about, with a stable code. Everything else that escapes a
 * handler is an internal error and reaches the client only as `internal_error`.
 */
export class AppException extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extras: {
      errors?: FieldError[];
      retryAfterSeconds?: number;
      headers?: Record<string, string>;
      /** Extension members of the problem document (RFC 9457 3.2), e.g. `rules` of a weak password. */
      members?: Record<string, unknown>;
    } = {},
  ) {
    super(detail ?? title);
    this.name = 'AppException';
  }

  static common(code: CommonErrorCode, status: number, detail?: string, extras?: AppException['extras']): AppException {
    return new AppException(code, status, COMMON_ERROR_TITLES[code], detail, extras);
  }

  static validation(errors: FieldError[]): AppException {
    return AppException.common(CommonErrorCode.ValidationFailed, 400, 'See `errors` for the fields to fix.', { errors });
  }

  static notFound(what = 'resource'): AppException {
    return AppException.common(CommonErrorCode.NotFound, 404, `The ${what} does not exist.`);
  }

  static forbidden(detail = 'You may not do this.'): AppException {
    return AppException.common(CommonErrorCode.Forbidden, 403, detail);
  }

  static unauthenticated(detail = 'Sign in and send the access token as a Bearer token.'): AppException {
    return AppException.common(CommonErrorCode.Unauthenticated, 401, detail);
  }

  static conflict(detail: string): AppException {
    return AppException.common(CommonErrorCode.Conflict, 409, detail);
  }
}

/**
 * A module's error constructor from its exhaustive table of codes: each module keeps its own enum
 * of stable codes and their status and title, and throws `moduleError(Code.X, detail)`.
 */
export function errorFactory<C extends string>(table: Record<C, { status: number; title: string }>) {
  return (code: C, detail?: string, extras?: AppException['extras']): AppException =>
    new AppException(code, table[code].status, table[code].title, detail, extras);
}
