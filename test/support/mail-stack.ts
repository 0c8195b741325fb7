import { RunningApp, startTestApi, startTestWorker } from './app';
import { MailSink, startMailSink } from './mail';
import { isolatedRedisUrl } from './redis';

export interface MailStack {
  sink: MailSink;
  api: RunningApp;
  worker: RunningApp;
  close(): Promise<void>;
}

/**
 * An api and a worker that send real mail to a sink of this test file's own, on a Redis database
 * of its own (another file's worker must not take our mail jobs and deliver them to its sink).
 */
export async function startMailStack(overrides: Record<string, string> = {}): Promise<MailStack> {
  const sink = await startMailSink();
  const redis = await isolatedRedisUrl();
  const env = { SMTP_URL: sink.url, REDIS_URL: redis, ...overrides };
  const api = await startTestApi(env);
  const worker = await startTestWorker(env);
  return {
    sink,
    api,
    worker,
    close: async () => {
      await worker.close();
      await api.close();
      await sink.close();
    },
  };
}
