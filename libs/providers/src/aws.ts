import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec, Message } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { protocolError, UpstreamError } from './errors';
import { openAIError } from './errors';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * A Bedrock channel key: `ACCESS_KEY_ID:SECRET_ACCESS_KEY`, or with a third part, a session token.
 * Secret keys are base64 (may hold `/` and `+`, never `:`), so the split is unambiguous.
 */
export function parseAwsKey(key: string): AwsCredentials {
  const [accessKeyId, secretAccessKey, ...token] = key.split(':');
  if (!accessKeyId || !secretAccessKey) {
    throw new UpstreamError('auth', 502, openAIError('The channel key is not an AWS access key pair (ACCESS_KEY_ID:SECRET_ACCESS_KEY).', 'api_error', 'upstream_auth_failed'));
  }
  return { accessKeyId, secretAccessKey, ...(token.length ? { sessionToken: token.join(':') } : {}) };
}

export interface SignInput {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  service: string;
  region: string;
  credentials: AwsCredentials;
  /** The signing time (default: now). */
  at?: Date;
}

/**
 * Signs a request with AWS Signature Version 4 (`@smithy/signature-v4`, the AWS SDK's own signer,
 * with `@aws-crypto/sha256-js`). The host is signed as it will be sent (with a non-default port);
 * the path is escaped once more for the canonical request, as the AWS SDK does for every service
 * but S3. Returns the headers to send (the given ones, x-amz-date, authorization and, with a
 * session token, x-amz-security-token).
 */
export async function signAws(input: SignInput): Promise<Record<string, string>> {
  const url = new URL(input.url);
  const signer = new SignatureV4({ service: input.service, region: input.region, credentials: input.credentials, sha256: Sha256, applyChecksum: false });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const held = query[name];
    query[name] = held === undefined ? value : Array.isArray(held) ? [...held, value] : [held, value];
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = value;
  headers.host = url.host;
  const signed = await signer.sign(
    {
      method: input.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      // The path as sent (segments already escaped once); the signer escapes it again, as AWS
      // services other than S3 expect in the canonical request.
      path: url.pathname,
      query,
      headers,
      body: input.body,
    },
    { signingDate: input.at ?? new Date() },
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') out[name] = String(value);
  return out;
}

/**
 * AWS's binary event stream (`application/vnd.amazon.eventstream`), decoded frame by frame with the
 * SDK's codec (which checks the prelude and message CRCs). Feed body chunks as they come; each
 * complete frame comes out once its bytes are all in.
 */
export class EventStreamReader {
  private readonly codec = new EventStreamCodec(toUtf8, fromUtf8);
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer | string): Message[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, typeof chunk === 'string' ? Buffer.from(chunk, 'binary') : chunk]) : typeof chunk === 'string' ? Buffer.from(chunk, 'binary') : chunk;
    const messages: Message[] = [];
    // Each frame starts with its total length (big-endian uint32, prelude and CRCs included).
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length < 16 || length > 16 * 1024 * 1024) throw protocolError('an event-stream frame has an impossible length');
      if (this.buffer.length < length) break;
      const frame = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      try {
        messages.push(this.codec.decode(frame));
      } catch {
        throw protocolError('an event-stream frame is corrupt');
      }
    }
    return messages;
  }

  /** Bytes of an incomplete frame left over. */
  get pending(): boolean {
    return this.buffer.length > 0;
  }
}

/** A string header of an event-stream message (`:event-type`, `:message-type`...). */
export function eventHeader(message: Message, name: string): string | undefined {
  const header = message.headers[name];
  return header && header.type === 'string' ? header.value : undefined;
}

/** An event stream's frame with the JSON payload decoded. */
export function eventJson(message: Message): Record<string, unknown> {
  try {
    const parsed = JSON.parse(toUtf8(message.body)) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw protocolError('an event-stream payload is not a JSON object');
}
