import { ValidationError, ValidationPipe } from '@nestjs/common';
import { AppException, FieldError } from './app-exception';

/** Flattens class-validator's tree into dotted field paths with their messages. */
export function toFieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const messages = Object.values(error.constraints ?? {});
    if (messages.length > 0) out.push({ field, messages });
    if (error.children?.length) out.push(...toFieldErrors(error.children, field));
  }
  return out;
}

/**
 * Strict input: unknown fields are refused (so `tenant_id` in a body cannot be mass-assigned),
 * types are converted only where a DTO declares them, and every problem names its field.
 */
export function strictValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => AppException.validation(toFieldErrors(errors)),
  });
}
