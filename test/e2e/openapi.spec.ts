import { ModulesContainer } from '@nestjs/core';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ACCESS_METADATA } from '@app/authorization';
import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, SeededTenant, seedTenant } from '../support/db';
import { call } from '../support/http';

describe('OpenAPI and route access rules (e2e)', () => {
  let api: RunningApp;
  let doc: any;
  let system: Client;
  let tenant: SeededTenant;
  const routes: Array<{ method: string; path: string; access: { kind: string } | undefined }> = [];

  beforeAll(async () => {
    api = await startTestApi();
    system = await connectAs('system');
    tenant = await seedTenant(system);
    // The documentation is served at tenant domains only, like every route but health.
    doc = (await call(api.baseUrl, 'GET', '/api/docs-json', { host: tenant.domain })).body;
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

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

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

  it('keeps health and metrics out of the admin documentation', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/health') || p === '/metrics')).toEqual([]);
  });

  it('serves the documentation UI at a tenant domain, and nothing at a Host that is no tenant\'s', async () => {
    const res = await call(api.baseUrl, 'GET', '/api/docs', { host: tenant.domain });
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger');
    for (const path of ['/api/docs', '/api/docs-json']) {
      const elsewhere = await call(api.baseUrl, 'GET', path);
      expect({ path, status: elsewhere.status, code: elsewhere.body?.code }).toEqual({ path, status: 404, code: 'unknown_tenant' });
    }
  });
});
