import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ClsServiceManager } from 'nestjs-cls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { AppException, FieldError } from './app-exception';
import { COMMON_ERROR_TITLES, CommonErrorCode } from './error-codes';
import { errorShapeFor, openAiError } from './openai-error';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const STATUS_CODES: Partial<Record<number, CommonErrorCode>> = {
  400: CommonErrorCode.MalformedRequest,
  401: CommonErrorCode.Unauthenticated,
  403: CommonErrorCode.Forbidden,
  404: CommonErrorCode.RouteNotFound,
  405: CommonErrorCode.MethodNotAllowed,
  409: CommonErrorCode.Conflict,
  413: CommonErrorCode.PayloadTooLarge,
  415: CommonErrorCode.UnsupportedMediaType,
  431: CommonErrorCode.HeadersTooLarge,
  429: CommonErrorCode.RateLimited,
  503: CommonErrorCode.ServiceUnavailable,
};

/**
 * What of an unexpected error goes to the log: its class, message, SQL state and stack. Never the
 * query parameters a database error carries (they can hold password hashes or tokens).
 */
function loggable(exception: unknown): Record<string, unknown> {
  if (!(exception instanceof Error)) return { message: String(exception) };
  const { code, table, constraint } = exception as Error & { code?: unknown; table?: unknown; constraint?: unknown };
  return { type: exception.name, message: exception.message, code, table, constraint, stack: exception.stack };
}

/**
 * The one exception filter. Admin API failures become `application/problem+json` with a stable
 * `code`; the inference API (/v1) answers in OpenAI's error shape. Nothing from a stack trace or a
 * database message ever reaches the client: unknown errors are logged and answered as
 * `internal_error` with the request id to quote.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = this.toProblem(exception, request);
    if (problem.status >= 500) {
      this.logger.error({ err: loggable(exception), code: problem.code }, 'request failed');
    }
    if (exception instanceof AppException) {
      for (const [name, value] of Object.entries(exception.extras.headers ?? {})) reply.header(name, value);
      if (exception.extras.retryAfterSeconds) reply.header('retry-after', String(exception.extras.retryAfterSeconds));
    }
    if (errorShapeFor(request.url) === 'openai') {
      const param = problem.errors?.[0]?.field ?? null;
      const message = problem.errors?.length ? problem.errors.flatMap((e) => e.messages).join('; ') : (problem.detail ?? problem.title);
      reply
        .status(problem.status)
        .header('content-type', 'application/json; charset=utf-8')
        .send(openAiError(problem.status, message, problem.code, param));
      return;
    }
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }

  private toProblem(exception: unknown, request: FastifyRequest): Problem {
    const base = { instance: request.url.split('?')[0], requestId: this.requestId(request) };
    if (exception instanceof AppException) {
      return {
        ...exception.extras.members,
        type: `urn:aigateway:problem:${exception.code}`,
        title: exception.title,
        status: exception.status,
        code: exception.code,
        detail: exception.detail,
        ...(exception.extras.errors ? { errors: exception.extras.errors } : {}),
        ...base,
      };
    }
    if (exception instanceof QueryFailedError) {
      const sqlState = (exception as QueryFailedError & { code?: string }).code;
      // Constraint names and values stay in the log: they can reveal other tenants' data.
      if (sqlState === '23505') return this.common(CommonErrorCode.Conflict, 409, base, 'It already exists.');
      if (sqlState === '40001' || sqlState === '40P01') {
        return this.common(CommonErrorCode.ServiceUnavailable, 503, base, 'A concurrent change got in the way; retry.');
      }
    }
    const status = this.statusOf(exception);
    if (status && status < 500) {
      const code = STATUS_CODES[status] ?? CommonErrorCode.MalformedRequest;
      const detail = status === 404 ? `No route ${request.method} ${base.instance}.` : this.safeDetail(exception);
      return this.common(code, status, base, detail);
    }
    if (status === 503) return this.common(CommonErrorCode.ServiceUnavailable, 503, base);
    return this.common(CommonErrorCode.Internal, 500, base, 'Something went wrong on our side. Quote the requestId when reporting it.');
  }

  private common(code: CommonErrorCode, status: number, base: Pick<Problem, 'instance' | 'requestId'>, detail?: string): Problem {
    return { type: `urn:aigateway:problem:${code}`, title: COMMON_ERROR_TITLES[code], status, code, detail, ...base };
  }

  /** Nest's HttpException and Fastify's own errors (bad JSON, body too large) carry a status. */
  private statusOf(exception: unknown): number | undefined {
    if (exception instanceof HttpException) return exception.getStatus();
    const status = (exception as { statusCode?: unknown } | null)?.statusCode;
    return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
  }

  /** Client errors raised by the framework describe the request, not our internals: pass a short form. */
  private safeDetail(exception: unknown): string | undefined {
    if (exception instanceof HttpException) {
      const response = exception.getResponse();
      const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      return typeof message === 'string' ? message.slice(0, 200) : undefined;
    }
    const code = (exception as { code?: unknown }).code;
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'The body is not valid JSON.';
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'The body is too large.';
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return 'Send the body as application/json.';
    return undefined;
  }

  private requestId(request: FastifyRequest): string | undefined {
    const cls = ClsServiceManager.getClsService();
    return (cls.isActive() ? cls.getId() : undefined) ?? String(request.id);
  }
}

