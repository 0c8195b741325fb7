import { StringDecoder } from 'node:string_decoder';

export interface ParsedSseEvent {
  event: string | null;
  data: string;
  /** The event's text as received, including its terminating blank line. */
  raw: string;
}

/**
 * Splits a server-sent-event stream into events, however the bytes were chunked (a multi-byte
 * character or an event may straddle chunks). Accepts LF and CRLF line ends.
 */
export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';

  push(chunk: Buffer | string): ParsedSseEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const events: ParsedSseEvent[] = [];
    for (;;) {
      const match = /\r?\n\r?\n/.exec(this.buffer);
      if (!match) break;
      const end = match.index + match[0].length;
      const raw = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end);
      const event = parseEvent(raw);
      if (event) events.push(event);
    }
    return events;
  }

  /** What is left when the body ends: a last event without its blank line, if any. */
  end(): ParsedSseEvent[] {
    this.buffer += this.decoder.end();
    const rest = this.buffer;
    this.buffer = '';
    if (!rest.trim()) return [];
    const event = parseEvent(rest);
    return event ? [{ ...event, raw: rest.endsWith('\n\n') ? rest : `${rest.replace(/\r?\n?$/, '')}\n\n` }] : [];
  }

  get pending(): boolean {
    return this.buffer.trim().length > 0;
  }
}

function parseEvent(raw: string): ParsedSseEvent | null {
  let event: string | null = null;
  const data: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (event === null && data.length === 0) return null;
  return { event, data: data.join('\n'), raw };
}

export function sseData(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}
