import { IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id: the caller's X-Request-Id when it is a sane token (so ids can be followed across
 * services), otherwise a new UUIDv7. Stored on the raw request so pino-http and nestjs-cls reuse it.
 */
export function requestIdFor(req: IncomingMessage): string {
  const existing = (req as IncomingMessage & { id?: string }).id;
  if (existing) return existing;
  const header = req.headers['x-request-id'];
  const candidate = Array.isArray(header) ? header[0] : header;
  const id = candidate && ACCEPTABLE.test(candidate) ? candidate : uuidv7();
  (req as IncomingMessage & { id?: string }).id = id;
  return id;
}
