import { ModulesContainer } from '@nestjs/core';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ACCESS_METADATA } from '@app/authorization';
import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, SeededTenant, seedTenant } from '../support/db';
import { v7 as uuidv7 } from 'uuid';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, signIn } from '../support/identity';

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
      // A success, or for the browser's single sign-on routes (navigations, not API calls) a redirect.
      const redirects = /^\/api\/v1\/auth\/oidc\//.test(route.path);
      expect({ route: route.path, success: responses.some((code) => code.startsWith('2') || (redirects && code === '302')) }).toEqual({ route: route.path, success: true });
      if (route.access?.kind !== 'public') {
        expect(operation.security).toEqual([{ 'access-token': [] }]);
        expect(responses).toContain('401');
      }
      if (route.access?.kind === 'permission') expect(responses).toContain('403');
      if (['post', 'put', 'patch'].includes(route.method) && route.path !== '/api/v1/auth/logout' && !/disable|enable|redeliver|webhooks\/:id\/test$|models\/sync$|channels\/:channelId\/balance$|domains\/:domainId\/verify$/.test(route.path)) {
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
    expect(operation.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'requestId', in: 'query', required: false })]));
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403']));
  });

  it("documents the console's routes with a summary and every status they answer", () => {
    const expected: Array<[string, string, string[]]> = [
      ['get', '/api/v1/site', ['200', '404']],
      ['post', '/api/v1/auth/login', ['200', '400', '401', '403', '429']],
      ['post', '/api/v1/auth/refresh', ['200', '400', '401', '403']],
      ['post', '/api/v1/auth/logout', ['204', '400', '401']],
      ['post', '/api/v1/auth/invitations/accept', ['200', '400', '403']],
      ['get', '/api/v1/me', ['200', '401']],
      ['patch', '/api/v1/me', ['200', '400', '401', '403']],
      ['post', '/api/v1/me/password', ['200', '400', '401', '403', '429']],
      ['get', '/api/v1/me/sessions', ['200', '401', '403']],
      ['delete', '/api/v1/me/sessions/{sessionId}', ['204', '401', '403', '404']],
      ['get', '/api/v1/usage/export.csv', ['200', '400', '401', '403']],
    ];
    for (const [method, path, statuses] of expected) {
      const operation = doc.paths[path]?.[method];
      expect({ route: `${method} ${path}`, summary: typeof operation?.summary, statuses: Object.keys(operation?.responses ?? {}).sort() }).toEqual({
        route: `${method} ${path}`,
        summary: 'string',
        // The route's own answers; the edge's (400, 404, 503, 413, 415) are checked for every operation below.
        statuses: expect.arrayContaining(statuses),
      });
    }
    // Response bodies are described, not left open.
    expect(doc.paths['/api/v1/site'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SiteView' });
    expect(doc.paths['/api/v1/me/sessions'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SessionList' });
    expect(doc.paths['/api/v1/usage/export.csv'].get.responses['200'].content).toHaveProperty(['text/csv']);
    expect(doc.components.schemas.LoginRequest.properties.session).toMatchObject({ enum: ['token', 'cookie'] });
  });

  /** Every operation of the document (admin and /v1, routes added later included). */
  const operations = () =>
    Object.entries<any>(doc.paths).flatMap(([path, item]) =>
      Object.entries<any>(item)
        .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch'].includes(method))
        .map(([method, op]) => ({ route: `${method} ${path}`, path, method, op, parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])] })),
    );

  it('gives every operation a summary', () => {
    expect(operations().length).toBeGreaterThan(40);
    expect(operations().filter(({ op }) => typeof op.summary !== 'string' || op.summary.trim().length < 8).map((o) => o.route)).toEqual([]);
  });

  it('names each kind of path parameter one way (the collection before it decides the kind)', () => {
    const names = new Map<string, Set<string>>();
    for (const path of Object.keys(doc.paths)) {
      const segments = path.split('/');
      segments.forEach((segment, i) => {
        const param = /^\{(\w+)\}$/.exec(segment)?.[1];
        if (!param) return;
        const kind = segments[i - 1];
        if (!names.has(kind)) names.set(kind, new Set());
        names.get(kind)!.add(param);
      });
    }
    expect(names.size).toBeGreaterThan(5);
    const mixed = [...names].filter(([, set]) => set.size > 1).map(([kind, set]) => `${kind}: {${[...set].join('}, {')}}`);
    expect(mixed).toEqual([]);
    // And every path parameter is declared as one.
    for (const { route, path, parameters } of operations()) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name).sort();
      expect({ route, declared }).toEqual({ route, declared: inPath });
    }
  });

  it('documents the answers of the edge on every operation: 400, 404 (unknown host), 503, and 413/415 where a body can come', () => {
    for (const { route, method, op } of operations()) {
      const responses = Object.keys(op.responses);
      const expected = ['400', '404', '503', ...(method === 'get' ? [] : ['413', '415'])];
      expect({ route, missing: expected.filter((status) => !responses.includes(status)) }).toEqual({ route, missing: [] });
      expect({ route, unknownHost: /unknown_tenant/.test(op.responses['404'].description) }).toEqual({ route, unknownHost: true });
    }
  });

  it('documents the password rules and the weak_password answer with its list of rules', () => {
    expect(doc.paths['/api/v1/auth/password-policy']?.get?.responses?.['200']).toBeDefined();
    expect(doc.components.schemas.WeakPasswordProblem.properties.rules).toBeDefined();
    const codes = ['min_length', 'max_length', 'character_mix', 'distinct_characters', 'common_word', 'contains_email'];
    expect(doc.components.schemas.PasswordRuleCode?.enum ?? doc.components.schemas.PasswordRuleView.properties.code.enum).toEqual(codes);
    for (const path of ['/api/v1/auth/invitations/accept', '/api/v1/auth/password-reset/confirm']) {
      const bad = doc.paths[path].post.responses['400'];
      expect(JSON.stringify(bad)).toContain('WeakPasswordProblem');
      const body = doc.paths[path].post.requestBody.content['application/json'].schema.$ref.split('/').pop();
      const description: string = doc.components.schemas[body].properties.password.description;
      for (const code of codes) expect({ path, code, described: description.includes(code) }).toEqual({ path, code, described: true });
    }
  });

  it('documents every status the routes answer to real traffic (anonymous, at an unknown host, hostile text, as an owner)', async () => {
    const platform = await platformWithUsers(system, { owner: ['owner'] });
    const owner = await signIn(api.baseUrl, platform, 'owner');
    const fill = (path: string) => path.replace(/\{(\w+)\}/g, () => uuidv7());
    const undocumented: string[] = [];
    const observe = async (route: string, documented: string[], what: string, res: HttpResult) => {
      if (!documented.includes(String(res.status))) undocumented.push(`${route} [${what}] answered ${res.status}: ${res.text.slice(0, 120)}`);
    };
    // Logging out ends the owner's session: last.
    const ordered = operations().sort((a, b) => Number(a.path.endsWith('/logout')) - Number(b.path.endsWith('/logout')));
    for (const { route, path, method, op } of ordered) {
      const documented = Object.keys(op.responses);
      const url = fill(path);
      const verb = method.toUpperCase();
      const body = method === 'get' ? {} : { json: {} };
      await observe(route, documented, 'anonymous', await call(api.baseUrl, verb, url, { host: tenant.domain, ...body }));
      await observe(route, documented, 'unknown host', await call(api.baseUrl, verb, url, { host: 'nobody.unknown.localhost', token: owner.accessToken, ...body }));
      await observe(route, documented, 'NUL in the query', await call(api.baseUrl, verb, `${url}?q=a%00b`, { host: platform.domain, token: owner.accessToken, ...body }));
      if (method !== 'get') {
        const plain = { host: platform.domain, token: owner.accessToken, headers: { 'content-type': 'text/plain' }, body: 'x' };
        await observe(route, documented, 'text/plain', await call(api.baseUrl, verb, url, plain));
      }
      await observe(route, documented, 'owner', await call(api.baseUrl, verb, url, { host: platform.domain, token: owner.accessToken, ...body }));
    }
    expect(undocumented).toEqual([]);
  }, 120_000);
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
