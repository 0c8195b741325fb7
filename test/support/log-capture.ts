import fs from 'node:fs';

/**
 * Captures what the process writes to stdout and stderr (pino writes to fd 1 with fs.writeSync,
 * Nest and others through process.stdout), so a test can search every log line written while it
 * ran. Captured output is not echoed.
 */
export interface LogCapture {
  readonly text: string;
  stop(): void;
}

export function captureLogs(): LogCapture {
  const chunks: string[] = [];
  const asText = (data: unknown) => (typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : data instanceof Uint8Array ? Buffer.from(data).toString('utf8') : '');
  const originalWriteSync = fs.writeSync;
  const originalWrite = fs.write;
  const originalStdout = process.stdout.write.bind(process.stdout);
  const originalStderr = process.stderr.write.bind(process.stderr);
  (fs as { writeSync: unknown }).writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd === 1 || fd === 2) {
      const text = asText(data);
      chunks.push(text);
      return Buffer.byteLength(text);
    }
    return (originalWriteSync as (...args: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  (fs as { write: unknown }).write = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd === 1 || fd === 2) {
      const text = asText(data);
      chunks.push(text);
      const callback = rest.find((r) => typeof r === 'function') as ((err: null, written: number) => void) | undefined;
      callback?.(null, Buffer.byteLength(text));
      return;
    }
    return (originalWrite as (...args: unknown[]) => void)(fd, data, ...rest);
  }) as typeof fs.write;
  process.stdout.write = ((data: unknown) => (chunks.push(asText(data)), true)) as typeof process.stdout.write;
  process.stderr.write = ((data: unknown) => (chunks.push(asText(data)), true)) as typeof process.stderr.write;
  return {
    get text() {
      return chunks.join('');
    },
    stop() {
      (fs as { writeSync: unknown }).writeSync = originalWriteSync;
      (fs as { write: unknown }).write = originalWrite;
      process.stdout.write = originalStdout as typeof process.stdout.write;
      process.stderr.write = originalStderr as typeof process.stderr.write;
    },
  };
}
