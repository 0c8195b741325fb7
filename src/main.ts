import 'reflect-metadata';
import { AppConfig } from '@app/config';
import { ApiModule } from './api.module';
import { configOrExit, createHttpApp, serveUntilSignalled } from './bootstrap/http-app';
import { setupOpenApi } from './bootstrap/openapi';

export async function startApi(config: AppConfig, port = config.PORT) {
  const app = await createHttpApp(ApiModule.forRoot(config), config, { resolveTenants: true, frontDoor: true });
  setupOpenApi(app);
  await app.listen(port, '0.0.0.0');
  return app;
}

if (require.main === module) {
  const config = configOrExit();
  serveUntilSignalled(() => startApi(config), 'api', config);
}
