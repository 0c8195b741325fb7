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

  it("documents the console's top-up routes with their response schemas (issue 21)", () => {
    const schemaOf = (path: string, method: string, status: string) => {
      const ref: string | undefined = doc.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema?.$ref;
      return ref ? doc.components.schemas[ref.split('/').pop()!] : undefined;
    };
    const created = schemaOf('/api/v1/me/topups', 'post', '201');
    expect(Object.keys(created?.properties ?? {})).toEqual(expect.arrayContaining(['id', 'amount', 'currency', 'provider', 'status', 'payUrl', 'expiresAt']));
    expect(doc.paths['/api/v1/me/topups'].post.requestBody.content['application/json'].schema.$ref).toMatch(/CreateTopupRequest$/);
    expect(doc.paths['/api/v1/me/topups'].post.responses).toHaveProperty('422');
    const page = schemaOf('/api/v1/me/topups', 'get', '200');
    expect(page?.properties?.items).toMatchObject({ type: 'array', items: { $ref: expect.stringMatching(/TopupView$/) } });
    const redeemed = schemaOf('/api/v1/me/redeem', 'post', '200');
    expect(Object.keys(redeemed?.properties ?? {})).toEqual(expect.arrayContaining(['amount', 'balance', 'transactionId']));
    expect(Object.keys(doc.paths['/api/v1/me/redeem'].post.responses)).toEqual(expect.arrayContaining(['422', '429']));
    expect(doc.components.schemas.TopupView.properties.status.enum).toEqual(['pending', 'paid', 'failed', 'expired', 'refunded']);
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
