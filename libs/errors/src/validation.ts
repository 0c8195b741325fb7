import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage, ValidateBy, ValidationOptions } from 'class-validator';
import { AppException, FieldError } from './app-exception';
import { CommonErrorCode } from './error-codes';

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
 * Distinct items, in linear time (class-validator's ArrayUnique compares every pair, so a large
 * array costs seconds of the event loop). Primitives are compared by value, others by their JSON.
 */
export function UniqueItems(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'uniqueItems',
      validator: {
        validate: (value: unknown) => {
          if (!Array.isArray(value)) return false;
          const seen = new Set<unknown>();
          for (const item of value) {
            const key = item !== null && typeof item === 'object' ? `json:${JSON.stringify(item)}` : item;
            if (seen.has(key)) return false;
            seen.add(key);
          }
          return true;
        },
        defaultMessage: () => "All $property's elements must be unique",
      },
    },
    options,
  );
}

function isDtoClass(metatype: unknown): metatype is new () => object {
  return typeof metatype === 'function' && ![String, Boolean, Number, Array, Object].includes(metatype as never);
}

/**
 * The size limits a DTO declares on its own fields (ArrayMaxSize, MaxLength), checked before any
 * other constraint: an oversized array or string is refused at the cost of reading its length,
 * never after every element has been compared, matched or transformed.
 */
export function sizeErrors(metatype: new () => object, value: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false)) {
    if (meta.name !== 'arrayMaxSize' && meta.name !== 'maxLength') continue;
    const field = meta.propertyName;
    const v = value[field];
    const max = Number(meta.constraints?.[0]);
    if (meta.name === 'arrayMaxSize' && Array.isArray(v) && v.length > max) {
      errors.push({ field, messages: [`${field} must contain no more than ${max} elements`] });
    } else if (meta.name === 'maxLength' && !meta.each && typeof v === 'string' && v.length > max) {
      errors.push({ field, messages: [`${field} must be shorter than or equal to ${max} characters`] });
    } else if (meta.name === 'maxLength' && meta.each && Array.isArray(v) && v.some((item) => typeof item === 'string' && item.length > max)) {
      errors.push({ field, messages: [`each value in ${field} must be shorter than or equal to ${max} characters`] });
    }
  }
  return errors;
}

/**
 * Strict input: unknown fields are refused (so `tenant_id` in a body cannot be mass-assigned),
 * types are converted only where a DTO declares them, and every problem names its field. A body
 * that should be a DTO must be a JSON object (the parser already refuses others; this also covers
 * a route reached without a body), and declared sizes are checked first.
 */
export class StrictValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => AppException.validation(toFieldErrors(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if ((metadata.type === 'body' || metadata.type === 'query') && isDtoClass(metadata.metatype)) {
      if (metadata.type === 'body' && value === undefined) value = {};
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw AppException.common(CommonErrorCode.MalformedRequest, 400, 'The body must be a JSON object.');
      }
      const errors = sizeErrors(metadata.metatype, value as Record<string, unknown>);
      if (errors.length > 0) throw AppException.validation(errors);
    }
    return super.transform(value, metadata);
  }
}

export function strictValidationPipe(): StrictValidationPipe {
  return new StrictValidationPipe();
}
