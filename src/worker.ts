import 'reflect-metadata';
import { AppConfig } from '@app/config';
import { configOrExit, createHttpApp, serveUntilSignalled } from './bootstrap/http-app';
import { WorkerModule } from './worker.module';

export async function startWorker(config: AppConfig, port = config.WORKER_PORT) {
  const app = await createHttpApp(WorkerModule.forRoot(config), config);
  await app.listen(port, '0.0.0.0');
  return app;
}

if (require.main === module) {
  const config = configOrExit(['DATABASE_SYSTEM_URL'], 'the worker');
  serveUntilSignalled(() => startWorker(config), 'worker', config);
}
