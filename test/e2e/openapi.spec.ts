import { ModulesContainer } from '@nestjs/core';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ACCESS_METADATA } from '@app/authorization';
import { RunningApp, startTestApi } from '../support/app';

describe('OpenAPI and route access rules (e2e)', () => {
  let api: RunningApp;
  let doc: any;
  const routes: Array<{ method: string; path: string; access: { kind: string } | undefined }> = [];

  beforeAll(async () => {
    api = await startTestApi();
    doc = await (await fetch(`${api.baseUrl}/api/docs-json`)).json();
    for (const module of api.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const type = wrapper.metatype as any;
        if (!type?.prototype) continue;
        const prefix: string = Reflect.getMetadata(PATH_METADATA, type) ?? '';
        for (const name of Object.getOwnPropertyNames(type.prototype)) {
          const handler = type.prototype[name];
          if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
          const path = `/${[prefix, Reflect.getMetadata(PATH_METADATA, handler)].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/');
          routes.push({
            method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler)].toLowerCase(),
            path,
            access: Reflect.getMetadata(ACCESS_METADATA, handler) ?? Reflect.getMetadata(ACCESS_METADATA, type),
          });
        }
      }
    }
  });

  afterAll(() => api?.close());

  it('finds the admin routes', () => {
    expect(routes.filter((r) => r.path.startsWith('/api/v1')).length).toBeGreaterThanOrEqual(20);
  });

  it('gives every route an explicit access rule (a route without one would be refused)', () => {
    expect(routes.filter((r) => !r.access).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('documents every admin route with its auth scheme, body and error responses', () => {
    const toOpenApi = (path: string) => path.replace(/:(\w+)/g, '{$1}');
    for (const route of routes.filter((r) => r.path.startsWith('/api/v1'))) {
      const operation = doc.paths[toOpenApi(route.path)]?.[route.method];
      expect({ route: `${route.method} ${route.path}`, documented: Boolean(operation) }).toEqual({ route: `${route.method} ${route.path}`, documented: true });
      const responses = Object.keys(operation.responses);
      expect(responses.some((code) => code.startsWith('2'))).toBe(true);
      if (route.access?.kind !== 'public') {
        expect(operation.security).toEqual([{ 'access-token': [] }]);
        expect(responses).toContain('401');
      }
      if (route.access?.kind === 'permission') expect(responses).toContain('403');
      if (['post', 'put', 'patch'].includes(route.method) && route.path !== '/api/v1/auth/logout' && !/disable|enable|redeliver|webhooks\/:id\/test$/.test(route.path)) {
        expect({ route: route.path, body: Boolean(operation.requestBody) }).toEqual({ route: route.path, body: true });
        expect(responses).toContain('400');
      }
    }
    expect(doc.components.securitySchemes['access-token']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.ProblemSchema.properties).toHaveProperty('code');
  });

  it('documents the usage record lookup by x-request-id: its required query and every status it answers', () => {
    const operation = doc.paths['/api/v1/usage/records']?.get;
    expect(operation?.summary).toBeTruthy();
    expect(operation.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'requestId', in: 'query', required: true })]));
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403']));
  });

  it('documents the coding agents’ routes, each with its error shape and every status it answers', () => {
    for (const path of ['/v1/messages', '/v1/messages/count_tokens', '/v1/responses']) {
      const operation = doc.paths[path]?.post;
      expect(operation?.summary).toBeTruthy();
      expect(operation.requestBody).toBeDefined();
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '402', '403', '404', '413', '415', '429', '502', '503', '504']));
      const errorSchema = operation.responses['401'].content['application/json'].schema;
      expect(errorSchema.required).toEqual(path.startsWith('/v1/messages') ? ['type', 'error'] : ['error']);
    }
  });

  it('keeps health and metrics out of the admin documentation', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/health') || p === '/metrics')).toEqual([]);
  });

  it('serves the documentation UI', async () => {
    const res = await fetch(`${api.baseUrl}/api/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger');
  });
});
