import type { FastifyInstance } from 'fastify';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { LARGER_BODY_ROUTES, registeredRoutes } from '../../src/bootstrap/edge-guards';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectNoLeak } from '../support/problem';
import { scaled } from '../support/timing';

/**
 * The hostile-input walker (issue 7). It reads the OpenAPI document and, for every route and
 * method, as a caller that may use it, sends each class of hostile input: NUL and unpaired
 * surrogates (body, query, path), deep nesting, wrong content types, bodies that are not objects,
 * huge and duplicate-laden arrays, overlong strings and malformed ids. Every answer must be a 4xx
 * in the route's error shape (problem+json, or OpenAI's under /v1/), never a 5xx or a leaked stack.
 * Routes added later are covered with no new code; a route in the router that the document lacks
 * fails the suite.
 *
 * Each class goes once to each route, the requests many at a time (CONCURRENCY). Classes the edge
 * refuses whatever the field (NUL, lone surrogates, bodies over the limit) go once per route with
 * every documented field hostile at once; classes each field's own validation decides (overlong
 * strings, long and duplicate-laden arrays) go once per field. Whether the event loop stalls is
 * measured apart, for the costly classes only, once per request shape their cost depends on (the
 * body schema, the query's parameters), not per route: a schema gets the same validation on every
 * route that takes it.
 *
 * Nothing here is special-cased by path: the caller is the platform owner unless a probe shows
 * the route is for resellers, and path parameters get real ids of the reseller where the name is
 * known (a valid but unknown id otherwise).
 */

/** Routes the OpenAPI document rightly leaves out: probes and the document itself. */
const UNDOCUMENTED = [/^\/health\//, /^\/api\/docs(?:$|[-/])/];

/**
 * A stall: the event loop held this long by the api's own work. Not scaled with the machine: the
 * measure counts only time this process was computing (see measureStall), not time it waited for
 * a core.
 */
const MAX_LOOP_DELAY_MS = 100;
/** Requests in flight at once (the api runs in this process: more only queues on its event loop). */
const CONCURRENCY = 8;
/** Requests measured together for a stall (each takes the loop for a few milliseconds at most). */
const STALL_BATCH = 8;

/** The large bodies, as JSON text built once: every request of a class shares it. */
const DEEP_NESTING = `{"walker":${'['.repeat(5000)}${']'.repeat(5000)}}`;
const OVERSIZED_BODY = JSON.stringify({ walker: 'x'.repeat(2 * 1024 * 1024) });
const HUGE_ARRAY = JSON.stringify(Array.from({ length: 120_000 }, (_, i) => `v${i}`));
const LONG_ARRAY = JSON.stringify(Array.from({ length: 6_000 }, (_, i) => `v${i}`));
const OVERLONG_STRING = JSON.stringify('x'.repeat(60_000));

/** A full GC on demand (V8 exposes it to a new context once the flag is set). */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

type Schema = { $ref?: string; type?: string; properties?: Record<string, Schema>; items?: Schema; enum?: unknown[]; allOf?: Schema[] };
interface Operation {
  method: string;
  path: string;
  /** The statuses the document lists for the operation. */
  documented: string[];
  parameters: Array<{ name: string; in: string; schema?: Schema }>;
  bodySchema?: Schema;
  /** A multipart form (an upload) rather than JSON. */
  multipart?: boolean;
}
interface Probe {
  name: string;
  /** Which statuses are right, beyond "a 4xx". */
  expect?: number[];
  /** Sent as this caller instead of the route's (for foreign ids: the reseller owner). */
  as?: 'reseller owner';
  /** A class whose cost grows with its size, and what that cost depends on (measured for stalls). */
  costly?: 'body' | 'query' | 'path';
  /** Builds the request (outside the measured window: building a 2 MB body is the test's cost). */
  send: (op: Operation, caller: Caller) => Prepared;
}
interface Prepared {
  path: string;
  body?: string;
  contentType?: string;
}
interface Caller {
  name: string;
  tenant: TestTenant;
  /** An access token (admin API), or an API key (the /v1 API, whose callers hold keys). */
  tokens?: Tokens;
  apiKey?: string;
}

/** Routes that accept application/x-www-form-urlencoded (payment notifications, issue 21). */
const FORM_ROUTES = new Set(['/api/v1/payments/epay/notify']);

describe('hostile-input walker over every documented route (issue 7)', () => {
  let system: Client;
  let api: RunningApp;
  let doc: any;
  let platform: TestTenant;
  let reseller: TestTenant;
  let callers: Caller[];
  let realIds: Record<string, string>;
  let foreignIds: Record<string, string>;
  const operations: Operation[] = [];
  /** Who calls each route (found once, by a probe). */
  const routeCallers = new Map<Operation, Promise<Caller>>();

  beforeAll(async () => {
    system = await connectAs('system');
    // The inference API's body limit brought down to the admin API's probe size, so the oversized
    // probe means the same everywhere.
    api = await startTestApi({ INFERENCE_BODY_LIMIT_BYTES: String(1024 * 1024) });
    platform = await platformWithUsers(system, { owner: ['owner'] });
    doc = (await call(api.baseUrl, 'GET', '/api/docs-json', { host: platform.domain })).body;
    reseller = await resellerWithUsers(system, { owner: ['owner'], member: ['sales'], customer: ['user'] });
    callers = [
      { name: 'platform owner', tenant: platform, tokens: await signIn(api.baseUrl, platform, 'owner') },
      { name: 'reseller owner', tenant: reseller, tokens: await signIn(api.baseUrl, reseller, 'owner') },
    ];
    const key = await call(api.baseUrl, 'POST', '/api/v1/keys', {
      host: reseller.domain,
      token: callers[1].tokens!.accessToken,
      json: { name: 'walker', customerId: reseller.users.customer.id },
    });
    expect(key.status).toBe(201);
    callers.push({ name: 'API key holder', tenant: reseller, apiKey: key.body.secret });
    const domain = await system.query(`SELECT id FROM tenant_domains WHERE tenant_id = $1 LIMIT 1`, [reseller.id]);
    realIds = { tenantId: reseller.id, id: reseller.id, userId: reseller.users.member.id, domainId: domain.rows[0].id };
    // Real ids of another reseller: the reseller owner must find none of them (404).
    const foreign = await resellerWithUsers(system, { owner: ['owner'], member: ['sales'] });
    const foreignDomain = await system.query(`SELECT id FROM tenant_domains WHERE tenant_id = $1 LIMIT 1`, [foreign.id]);
    foreignIds = { tenantId: foreign.id, id: foreign.id, userId: foreign.users.member.id, domainId: foreignDomain.rows[0].id };
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        operations.push({
          method: method.toUpperCase(),
          path,
          documented: Object.keys(op.responses ?? {}),
          parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])],
          bodySchema: op.requestBody?.content?.['application/json']?.schema,
          multipart: Boolean(op.requestBody?.content?.['multipart/form-data']),
        });
      }
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  it('documents every route of the router (health and the docs themselves excepted)', () => {
    const fastify = api.app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
    const documented = new Set(operations.map((op) => `${op.method} ${op.path}`));
    const routes = registeredRoutes(fastify).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes
      .filter((r) => !UNDOCUMENTED.some((pattern) => pattern.test(r.url)))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
      .filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it('answers every hostile class on every route with a 4xx in its error shape, never a 5xx or a leak', async () => {
    expect(operations.length).toBeGreaterThan(20);
    await inParallel(operations, async (op) => void (await callerFor(op)));
    const jobs = operations.flatMap((op) => probesFor(op).map((probe) => ({ op, probe })));
    const failures: string[] = [];
    await inParallel(jobs, async ({ op, probe }) => {
      const caller = callerOf(probe, await callerFor(op));
      const what = `${op.method} ${op.path} [${probe.name}] as ${caller.name}`;
      try {
        const res = await perform(op, caller, probe.send(op, caller));
        const problem = shapeProblem(op.path, res, probe.expect);
        if (problem) failures.push(`${what}: ${problem}`);
        // Every status a route answers is in its documentation (issue 19, item 13).
        if (!op.documented.includes(String(res.status))) failures.push(`${what}: answered ${res.status}, which the document does not list (${op.documented.join(', ')})`);
      } catch (error) {
        failures.push(`${what}: no answer (${(error as Error).message})`);
      }
    });
    expect(failures.sort()).toEqual([]);
    expect(jobs.length).toBeGreaterThan(operations.length * 5);
  }, scaled(60_000));

  it('lets no hostile class stall the event loop (each request shape measured, once)', async () => {
    // The costly classes, once per request shape they depend on (see the top).
    const byShape = new Map<string, { op: Operation; probe: Probe }>();
    for (const op of operations) {
      for (const probe of probesFor(op)) {
        if (!probe.costly) continue;
        const key = `${probe.name} @ ${shapeOf(op, probe.costly)}`;
        if (!byShape.has(key)) byShape.set(key, { op, probe });
      }
    }
    await inParallel([...new Set([...byShape.values()].map(({ op }) => op))], async (op) => void (await callerFor(op)));
    const requests = await Promise.all(
      [...byShape.values()].map(async ({ op, probe }) => {
        const caller = callerOf(probe, await callerFor(op));
        return { op, probe, caller, prepared: probe.send(op, caller), what: `${op.method} ${op.path} [${probe.name}] as ${caller.name}` };
      }),
    );
    const stalls: string[] = [];
    const check = (request: (typeof requests)[number], res: HttpResult) => {
      const problem = shapeProblem(request.op.path, res, request.probe.expect);
      if (problem) stalls.push(`${request.what}: ${problem}`);
    };
    // A few at a time: their short turns on the loop add up to far less than a stall. A batch
    // that does stall is measured again one request at a time, to name the culprit; a GC of the
    // test's own garbage (the api runs in this process) is collected first, so only a stall that
    // shows again counts.
    for (let i = 0; i < requests.length; i += STALL_BATCH) {
      const batch = requests.slice(i, i + STALL_BATCH);
      const together = await measureStall(() => Promise.all(batch.map((r) => perform(r.op, r.caller, r.prepared))));
      together.result.forEach((res, j) => check(batch[j], res));
      if (together.stallMs < MAX_LOOP_DELAY_MS) continue;
      for (const request of batch) {
        let stallMs = Infinity;
        for (let attempt = 0; attempt < 2 && stallMs >= MAX_LOOP_DELAY_MS; attempt++) {
          collectGarbage();
          stallMs = (await measureStall(() => perform(request.op, request.caller, request.prepared))).stallMs;
        }
        if (stallMs >= MAX_LOOP_DELAY_MS) stalls.push(`${request.what}: the event loop stalled ${stallMs.toFixed(0)} ms`);
      }
    }
    expect(stalls).toEqual([]);
    // Every costly class was measured: body, field, query and path classes alike.
    const measuredClasses = new Set(requests.map(({ probe }) => probe.name.replace(/^.*: /, '')));
    expect([...measuredClasses]).toEqual(expect.arrayContaining(['deep nesting', 'oversized body', 'overlong string', 'duplicate-laden array', 'overlong', 'repeated']));
  }, scaled(60_000));

  /**
   * How long `work` held the event loop: the longest delay of the loop meanwhile, but no more than
   * the CPU time this process spent (a busy machine that does not run us delays the loop too).
   */
  async function measureStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    const cpu = process.cpuUsage();
    histogram.enable();
    let result: T;
    try {
      result = await work();
    } finally {
      histogram.disable();
    }
    const used = process.cpuUsage(cpu);
    return { result, stallMs: Math.min(histogram.max / 1e6, (used.user + used.system) / 1000) };
  }

  /** The route's caller, or the probe's own (an API key speaks only for its tenant: under /v1 it stays). */
  function callerOf(probe: Probe, routeCaller: Caller): Caller {
    return probe.as && !routeCaller.apiKey ? callers.find((c) => c.name === probe.as)! : routeCaller;
  }

  /** What a costly class's work depends on: the body schema (and its limit), the query, the path parameter. */
  function shapeOf(op: Operation, part: 'body' | 'query' | 'path'): string {
    if (part === 'path') return 'path';
    if (part === 'query') return `query ${op.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort().join(',')}`;
    const limit = op.path.startsWith('/v1/') ? 'inference' : (LARGER_BODY_ROUTES[op.path.replace(/\{(\w+)\}/g, ':$1')] ?? 'admin');
    return `body ${limit} ${JSON.stringify(op.bodySchema ?? null)}`;
  }

  /** Runs `work` over `items`, CONCURRENCY at a time. */
  async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < items.length) await work(items[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, lane));
  }

  /** The route's error shape, with a 4xx (and one of `expected`, when given). */
  function shapeProblem(path: string, res: HttpResult, expected?: number[]): string | undefined {
    if (res.status < 400 || res.status >= 500) return `answered ${res.status}: ${res.text.slice(0, 200)}`;
    if (expected && !expected.includes(res.status)) return `answered ${res.status}, expected ${expected.join(' or ')}: ${res.text.slice(0, 200)}`;
    try {
      expectNoLeak(res);
    } catch (error) {
      return (error as Error).message;
    }
    if (path.startsWith('/v1/messages')) {
      const e = res.body?.error;
      if (!String(res.headers['content-type']).startsWith('application/json') || res.body?.type !== 'error' || typeof e?.message !== 'string' || typeof e?.type !== 'string') {
        return `not in Anthropic's error shape: ${res.text.slice(0, 200)}`;
      }
      return undefined;
    }
    if (path.startsWith('/v1/')) {
      const e = res.body?.error;
      if (!String(res.headers['content-type']).startsWith('application/json') || typeof e?.message !== 'string' || typeof e?.type !== 'string' || !('code' in e) || !('param' in e)) {
        return `not in OpenAI's error shape: ${res.text.slice(0, 200)}`;
      }
      return undefined;
    }
    const body = res.body;
    if (!String(res.headers['content-type']).startsWith('application/problem+json')) return `content-type ${res.headers['content-type']}, not problem+json`;
    if (body?.status !== res.status || typeof body?.code !== 'string' || body?.type !== `urn:aigateway:problem:${body?.code}` || typeof body?.title !== 'string') {
      return `not a problem document: ${res.text.slice(0, 200)}`;
    }
    return undefined;
  }

  /** The platform owner, unless a harmless probe (an unknown field) shows the route refuses them. */
  function callerFor(op: Operation): Promise<Caller> {
    let found = routeCallers.get(op);
    if (!found) routeCallers.set(op, (found = probeCaller(op)));
    return found;
  }

  async function probeCaller(op: Operation): Promise<Caller> {
    if (op.path.startsWith('/v1/')) return callers.find((c) => c.apiKey)!;
    if (op.method !== 'GET' && !op.bodySchema) return callers[0]; // edge classes only: anyone will do
    for (const caller of callers) {
      const res = await perform(op, caller, send(op, caller, op.method === 'GET' ? { query: 'walkerUnknownParameter=1' } : { json: { walkerUnknownField: 1 } }));
      if (res.status !== 401 && res.status !== 403) return caller;
    }
    return callers[0];
  }

  /** Path with real ids where the parameter's name is known, a valid unknown id otherwise. */
  function fill(op: Operation, replace?: { name: string; value: string }, ids = realIds): string {
    return op.path.replace(/\{(\w+)\}/g, (_, name: string) => (replace?.name === name ? replace.value : (ids[name] ?? uuidv7())));
  }

  function send(
    op: Operation,
    _caller: Caller,
    options: { path?: string; query?: string; json?: unknown; body?: string; contentType?: string } = {},
  ): Prepared {
    const path = (options.path ?? fill(op)) + (options.query ? `?${options.query}` : '');
    if (options.json !== undefined) return { path, body: JSON.stringify(options.json), contentType: 'application/json' };
    return { path, body: options.body, contentType: options.contentType };
  }

  function perform(op: Operation, caller: Caller, prepared: Prepared): Promise<HttpResult> {
    return call(api.baseUrl, op.method, prepared.path, {
      host: caller.tenant.domain,
      token: caller.tokens?.accessToken ?? caller.apiKey,
      headers: prepared.contentType ? { 'content-type': prepared.contentType } : {},
      ...(prepared.body !== undefined ? { body: prepared.body } : {}),
    });
  }

  function resolve(schema: Schema | undefined): Schema | undefined {
    if (!schema) return undefined;
    if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.split('/').pop()!]);
    if (schema.allOf?.length === 1) return resolve(schema.allOf[0]);
    return schema;
  }

  /**
   * The classes of an upload route (a multipart form): anything but multipart is refused (415)
   * before it is read, a malformed form or unstorable text in a field is 400, and a form over the
   * upload limit is 413 (the walker's API has the default 25 MB limit; 28 MB is sent).
   */
  function multipartProbes(): Probe[] {
    const boundary = 'walker-boundary';
    const form = (parts: Array<{ name: string; value: string; filename?: string }>) => ({
      contentType: `multipart/form-data; boundary=${boundary}`,
      body:
        parts
          .map((p) => `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"\r\nContent-Type: audio/mpeg` : ''}\r\n\r\n${p.value}\r\n`)
          .join('') + `--${boundary}--\r\n`,
    });
    const multipart = (parts: Array<{ name: string; value: string; filename?: string }>) => (o: Operation, c: Caller) => send(o, c, form(parts));
    return [
      { name: 'JSON', expect: [415], send: (o, c) => send(o, c, { json: { model: 'x' } }) },
      { name: 'deep nesting as JSON', expect: [415], costly: 'body', send: (o, c) => send(o, c, { body: DEEP_NESTING, contentType: 'application/json' }) },
      { name: 'text/plain', expect: [415], send: (o, c) => send(o, c, { body: 'a', contentType: 'text/plain' }) },
      { name: 'form-encoded', expect: [415], send: (o, c) => send(o, c, { body: 'a=1', contentType: 'application/x-www-form-urlencoded' }) },
      { name: 'no content type', expect: [415], send: (o, c) => send(o, c, { body: '{"a":1}' }) },
      { name: 'multipart without a boundary', expect: [400, 415], send: (o, c) => send(o, c, { body: 'x', contentType: 'multipart/form-data' }) },
      { name: 'malformed multipart', expect: [400], send: (o, c) => send(o, c, { body: '--x\r\n\r\n--x--', contentType: 'multipart/form-data; boundary=x' }) },
      { name: 'multipart without a file', expect: [400], send: multipart([{ name: 'model', value: 'whisper-walker' }]) },
      { name: 'NUL in a field', expect: [400], send: multipart([{ name: 'model', value: 'a\u0000b' }, { name: 'file', value: 'abc', filename: 'a.mp3' }]) },
      // The second file is over the form's limit of one (413), or refused as a second file (400).
      { name: 'two files', expect: [400, 413], send: multipart([{ name: 'file', value: 'a', filename: 'a.mp3' }, { name: 'file', value: 'b', filename: 'b.mp3' }]) },
      { name: 'a file in another field', expect: [400], send: multipart([{ name: 'model', value: 'x', filename: 'a.mp3' }]) },
      { name: 'overlong field', expect: [413], costly: 'body', send: multipart([{ name: 'prompt', value: 'x'.repeat(100_000) }]) },
      { name: 'too many fields', expect: [413], send: multipart(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, value: 'x' }))) },
      { name: 'oversized upload', expect: [413], costly: 'body', send: multipart([{ name: 'file', value: 'x'.repeat(28 * 1024 * 1024), filename: 'a.mp3' }]) },
    ];
  }

  /** Every hostile class that applies to the operation. */
  function probesFor(op: Operation): Probe[] {
    const probes: Probe[] = [];
    const pathParams = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
    const queryParams = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const hasBody = op.method !== 'GET';

    // Malformed ids in each path parameter.
    for (const name of pathParams) {
      for (const [label, value] of [
        ['not an id', 'not-an-id'],
        ['NUL', 'a%00b'],
        ['overlong', 'x'.repeat(2000)],
        ['undecodable', '%E0%A4%A'],
        ['dot segments', '..%2F..%2Fetc'],
      ]) {
        probes.push({
          name: `path ${name}: ${label}`,
          expect: label === 'NUL' || label === 'undecodable' ? [400] : [400, 404],
          costly: label === 'overlong' ? 'path' : undefined,
          send: (o, c) => send(o, c, { path: fill(o, { name, value }) }),
        });
      }
    }

    // Real ids of another tenant: not found (or the whole route is not the reseller owner's: 403).
    if (op.method === 'GET' && pathParams.length > 0) {
      probes.push({ name: 'foreign ids', as: 'reseller owner', expect: [403, 404], send: (o, c) => send(o, c, { path: fill(o, undefined, foreignIds) }) });
    }

    // The query string: NUL in any parameter and in all declared ones; for each declared one also
    // overlong and duplicated values (its own validation decides those).
    probes.push({ name: 'query NUL', expect: [400], send: (o, c) => send(o, c, { query: 'walker=a%00b' }) });
    if (queryParams.length > 0) {
      probes.push({ name: 'query, every parameter: NUL', expect: [400], send: (o, c) => send(o, c, { query: queryParams.map((name) => `${name}=a%00b`).join('&') }) });
    }
    for (const name of queryParams) {
      probes.push({ name: `query ${name}: overlong`, costly: 'query', send: (o, c) => send(o, c, { query: `${name}=${'x'.repeat(10_000)}` }) });
      probes.push({ name: `query ${name}: repeated`, costly: 'query', send: (o, c) => send(o, c, { query: Array.from({ length: 1000 }, () => `${name}=x`).join('&') }) });
    }

    if (!hasBody) return probes;
    if (op.multipart) return [...probes, ...multipartProbes()];

    // Whole-body classes, for every route that takes a body or not.
    const json = (body: string) => (o: Operation, c: Caller) => send(o, c, { body, contentType: 'application/json' });
    probes.push(
      { name: 'deep nesting', expect: [400, 413], costly: 'body', send: json(DEEP_NESTING) },
      { name: 'text/plain', expect: [415], send: (o, c) => send(o, c, { body: '{"a":1}', contentType: 'text/plain' }) },
      { name: 'empty text/plain', expect: [415], send: (o, c) => send(o, c, { body: '', contentType: 'text/plain' }) },
      // The Epay notification is the one route that takes a form (the protocol's POST): it refuses the unsigned one.
      { name: 'form-encoded', expect: FORM_ROUTES.has(op.path) ? [400, 404] : [415], send: (o, c) => send(o, c, { body: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' }) },
      { name: 'multipart', expect: [415], send: (o, c) => send(o, c, { body: '--x\r\n\r\n--x--', contentType: 'multipart/form-data; boundary=x' }) },
      { name: 'no content type', expect: [415], send: (o, c) => send(o, c, { body: '{"a":1}' }) },
      { name: 'invalid JSON', expect: [400], send: json('{"a":') },
      { name: 'NUL in an unknown field', expect: [400], send: (o, c) => send(o, c, { json: { walker: 'a\u0000b' } }) },
      { name: 'NUL in a key', expect: [400], send: (o, c) => send(o, c, { json: { 'a\u0000b': 1 } }) },
      { name: '__proto__ key', expect: [400], send: json('{"__proto__":{"polluted":1}}') },
      { name: 'oversized body', expect: [413], costly: 'body', send: json(OVERSIZED_BODY) },
    );
    for (const primitive of ['true', 'null', '"text"', '42', '[]', '[{}]', '']) {
      probes.push({ name: `primitive body ${primitive || '(empty)'}`, expect: [400], send: json(primitive) });
    }

    const schema = resolve(op.bodySchema);
    const fields = Object.entries(schema?.properties ?? {}).map(([name, raw]) => ({ name, prop: resolve(raw) ?? {} }));
    if (fields.length === 0) return probes;

    // Text the edge refuses whatever the field: every documented field (and property of a field
    // that is an object) hostile at once.
    const everyField = (value: unknown) => Object.fromEntries(fields.map(({ name, prop }) => [name, prop.properties ? Object.fromEntries(Object.keys(prop.properties).map((inner) => [inner, value])) : value]));
    probes.push(
      { name: 'every field: NUL', expect: [400], send: (o, c) => send(o, c, { json: everyField('a\u0000b') }) },
      { name: 'every field: lone surrogate', expect: [400], send: (o, c) => send(o, c, { json: everyField('a\ud800b') }) },
      { name: 'every field: NUL nested', expect: [400], send: (o, c) => send(o, c, { json: everyField(['ok', { deeper: '\u0000' }]) }) },
      // Over every body limit, refused by size before it is parsed: one field is enough.
      { name: `${fields[0].name}: huge array`, send: json(`{${JSON.stringify(fields[0].name)}:${HUGE_ARRAY}}`) },
    );

    // What each field's own validation decides: one field at a time.
    for (const { name: field, prop } of fields) {
      const key = JSON.stringify(field);
      const element = resolve(prop.items)?.enum?.[0] ?? 'x';
      probes.push(
        { name: `${field}: overlong string`, costly: 'body', send: json(`{${key}:${OVERLONG_STRING}}`) },
        { name: `${field}: array within the body limit`, costly: 'body', send: json(`{${key}:${LONG_ARRAY}}`) },
      );
      // Duplicates and long elements matter where an array is due (elsewhere any array is the wrong type).
      if (prop.type === 'array' || prop.type === undefined) {
        probes.push(
          { name: `${field}: duplicate-laden array`, costly: 'body', send: (o, c) => send(o, c, { json: { [field]: Array.from({ length: 6_000 }, () => element) } }) },
          { name: `${field}: overlong elements`, costly: 'body', send: (o, c) => send(o, c, { json: { [field]: [element, 'x'.repeat(50_000)] } }) },
        );
      }
      for (const inner of Object.keys(prop.properties ?? {})) {
        probes.push({ name: `${field}.${inner}: overlong`, costly: 'body', send: json(`{${key}:{${JSON.stringify(inner)}:${OVERLONG_STRING}}}`) });
      }
    }
    return probes;
  }
});
