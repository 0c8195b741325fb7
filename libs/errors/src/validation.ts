import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { TransformationType } from 'class-transformer';
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

/** class-transformer's decorator metadata (its package exports no types for this path; Nest reads it the same way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: {
    findTransformMetadatas(target: Function, property: string, type: TransformationType): unknown[];
    findTypeMetadata(target: Function, property: string): { typeFunction: () => unknown } | undefined;
  };
};

function isDtoClass(metatype: unknown): metatype is new () => object {
  return typeof metatype === 'function' && ![String, Boolean, Number, Array, Object, Date].includes(metatype as never);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A property whose value class-transformer may change before validation: leave it to the full run. */
function transformed(metatype: Function, property: string): boolean {
  return (
    defaultMetadataStorage.findTransformMetadatas(metatype, property, TransformationType.PLAIN_TO_CLASS).length > 0 ||
    defaultMetadataStorage.findTypeMetadata(metatype, property)?.typeFunction() === Number
  );
}

/** An array field that declares no ArrayMaxSize takes at most this many elements. */
export const DEFAULT_ARRAY_MAX_SIZE = 1000;

const PRIMITIVE_DESIGN_TYPES = new Map<unknown, string>([
  [String, 'a string'],
  [Number, 'a number'],
  [Boolean, 'a boolean'],
]);

/**
 * The shape and size limits of a DTO, checked before any other constraint and before
 * class-transformer copies the value: unknown fields, a value of the wrong kind (an array or
 * object where the field is a string, number or boolean; not an object where it is a nested DTO),
 * ArrayMaxSize (DEFAULT_ARRAY_MAX_SIZE where an array declares none) and MaxLength. A hostile
 * value is so refused at the cost of reading its type and length, never after every element has
 * been copied, compared, matched or transformed. Nested DTOs are checked the same way (the parser
 * bounds their depth).
 */
export function sizeErrors(metatype: new () => object, value: Record<string, unknown>, parent = ''): FieldError[] {
  const errors: FieldError[] = [];
  const refuse = (property: string, message: string) => {
    const field = parent ? `${parent}.${property}` : property;
    if (!errors.some((e) => e.field === field)) errors.push({ field, messages: [message] });
  };
  const byProperty = new Map<string, ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>>();
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false)) {
    byProperty.set(meta.propertyName, [...(byProperty.get(meta.propertyName) ?? []), meta]);
  }
  for (const key of Object.keys(value)) {
    if (!byProperty.has(key)) refuse(key, `property ${key} should not exist`);
  }
  for (const [property, metas] of byProperty) {
    const v = value[property];
    if (v === undefined || v === null) continue;
    const free = !transformed(metatype, property);
    const designType = Reflect.getMetadata('design:type', metatype.prototype, property) as unknown;
    const primitive = PRIMITIVE_DESIGN_TYPES.get(designType);
    if (free && primitive && typeof v === 'object') {
      refuse(property, `${property} must be ${primitive}`);
      continue;
    }
    if (Array.isArray(v) && !metas.some((m) => m.name === 'arrayMaxSize') && v.length > DEFAULT_ARRAY_MAX_SIZE) {
      refuse(property, `${property} must contain no more than ${DEFAULT_ARRAY_MAX_SIZE} elements`);
      continue;
    }
    for (const meta of metas) {
      const max = Number(meta.constraints?.[0]);
      if (meta.name === 'isString' && !meta.each && free && typeof v !== 'string') refuse(property, `${property} must be a string`);
      else if (meta.name === 'isArray' && free && !Array.isArray(v)) refuse(property, `${property} must be an array`);
      else if (meta.name === 'isObject' && !isPlainObject(v)) refuse(property, `${property} must be an object`);
      else if (meta.name === 'arrayMaxSize' && Array.isArray(v) && v.length > max) refuse(property, `${property} must contain no more than ${max} elements`);
      else if (meta.name === 'maxLength' && !meta.each && typeof v === 'string' && v.length > max) {
        refuse(property, `${property} must be shorter than or equal to ${max} characters`);
      } else if (meta.name === 'maxLength' && meta.each && Array.isArray(v) && v.some((item) => typeof item === 'string' && item.length > max)) {
        refuse(property, `each value in ${property} must be shorter than or equal to ${max} characters`);
      } else if (meta.type === 'nestedValidation' && isDtoClass(designType)) {
        // A nested DTO (not an array of them): only an object will do, and its own limits come first.
        if (!isPlainObject(v)) refuse(property, `${property} must be an object`);
        else errors.push(...sizeErrors(designType, v, parent ? `${parent}.${property}` : property));
      }
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
