/**
 * The api's OpenAPI document, built from the controllers and DTOs without a database or Redis:
 * Nest's preview mode resolves the module graph but instantiates no provider, so nothing connects.
 * `node dist/scripts/openapi-document.js [file]` writes it (the console's typed client is
 * generated from it: see web/scripts/generate-api-types.mjs).
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { OpenAPIObject } from '@nestjs/swagger';
import { loadConfig } from '@app/config';
import { ApiModule } from '../src/api.module';
import { buildOpenApiDocument } from '../src/bootstrap/openapi';

export async function openApiDocument(): Promise<OpenAPIObject> {
  // Placeholder settings: preview mode never opens these URLs.
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://preview@127.0.0.1:1/preview',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:1',
  });
  const app = await NestFactory.create(ApiModule.forRoot(config), new FastifyAdapter(), { preview: true, logger: false, abortOnError: false });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  openApiDocument().then(
    (document) => {
      const json = `${JSON.stringify(document, null, 2)}\n`;
      if (process.argv[2]) writeFileSync(process.argv[2], json);
      else process.stdout.write(json);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
