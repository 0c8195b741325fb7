import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { addConsolePaths } from '../modules/console/console.openapi';
import { addInferencePaths } from '../modules/inference/inference.openapi';

const PROBLEM = { $ref: '#/components/schemas/ProblemSchema' };
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: PROBLEM } } });
const UNKNOWN_HOST = '`unknown_tenant`: the Host is no tenant\'s domain (every route but health).';

/**
 * What the edge answers on every admin route before its handler runs (src/bootstrap/edge-guards.ts,
 * the Host hook), added to each operation so the document lists every status a route can answer:
 * 400 for unreadable text in the URL, 404 at a Host that is no tenant's domain, 503 when the
 * tenant directory (or another dependency) cannot be asked, and for routes that take a body 413 and 415.
 */
function documentEdgeResponses(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    if (path.startsWith('/v1/')) continue; // described with the edge answers, in OpenAI's shape
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const responses = operation.responses;
      responses['400'] ??= problem('`validation_failed`: unreadable text (NUL, unpaired surrogates) in the path or query; `malformed_request`: a URL that cannot be decoded (problem+json)');
      const notFound = responses['404'] as { description?: string } | undefined;
      if (!notFound) responses['404'] = problem(UNKNOWN_HOST);
      else if (!notFound.description?.includes('unknown_tenant')) notFound.description = `${notFound.description ?? ''} ${UNKNOWN_HOST}`.trim();
      responses['503'] ??= problem('`service_unavailable`: a dependency (the tenant directory, PostgreSQL or Redis) cannot be asked right now; retry');
      if (method !== 'get') {
        responses['413'] ??= problem('`payload_too_large`: the body is over the limit (problem+json)');
        responses['415'] ??= problem('`unsupported_media_type`: a body that is not application/json (problem+json)');
      }
    }
  }
}

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
  documentEdgeResponses(document);
  return document;
}
