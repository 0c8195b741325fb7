import { ParseUUIDPipe } from '@nestjs/common';
import { AppException } from '@app/errors';

/** A path id that is not a UUID names nothing: 404, like an id of another tenant. */
export const UuidParam = (what: string) => new ParseUUIDPipe({ exceptionFactory: () => AppException.notFound(what) });
