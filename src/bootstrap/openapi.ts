import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { addConsolePaths } from '../modules/console/console.openapi';
import { addInferencePaths } from '../modules/inference/inference.openapi';

/** OpenAPI at /api/docs (UI) and /api/docs-json, generated from the controllers and DTOs. */
export function setupOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}

/** The document itself (scripts/openapi-document.ts builds it without a running app). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('AIGateway admin API')
    .setDescription('Tenants, members, roles and audit of the AIGateway platform. Errors are application/problem+json.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'access-token')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  addInferencePaths(document);
  addConsolePaths(document);
  return document;
}
