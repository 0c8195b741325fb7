import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import send from '@fastify/send';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppConfig, APP_CONFIG } from '@app/config';
import { PROBLEM_CONTENT_TYPE } from '@app/errors';
import { hostTenantOf } from '@app/tenancy';

export const CONSOLE_PREFIX = '/console';

/** Pages the mails link to at the domain's root (see MailQueue.linkOn); they live in the console. */
export const MAIL_LINK_PAGES = ['accept-invitation', 'reset-password'] as const;

/**
 * The console's Content-Security-Policy. No inline script anywhere (Vite emits module scripts as
 * files). Styles allow 'unsafe-inline' because Ant Design's CSS-in-JS injects <style> elements at
 * run time; a nonce would need a per-request index.html, and injected style cannot run code.
 * Images: self, data: (icons) and any https: URL (tenants' logos live on their own CDNs).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
};

/** Vite names files under assets/ by content hash: they never change, so they may be kept a year. */
const HASHED_ASSET_CACHE = 'public, max-age=31536000, immutable';
/** index.html and unhashed files: revalidate every time (ETag), so a deploy shows at once. */
const REVALIDATE = 'no-cache';

/**
 * Serves the built single-page console at /console/ on every tenant domain (DESIGN.md "Web
 * console"), straight on Fastify: files from CONSOLE_DIR, any other /console/* path gets
 * index.html (the SPA routes it), a missing hashed asset is a plain 404. The mail links at the
 * root (`/accept-invitation?token=`, `/reset-password?token=`) and `/` redirect into the console.
 * A Host that is no tenant's domain gets 404; before `npm run build`, /console/ answers 503.
 */
@Injectable()
export class ConsoleStatic implements OnModuleInit {
  private readonly root: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.root = resolve(config.CONSOLE_DIR);
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.get(CONSOLE_PREFIX, (request, reply) => this.redirect(request, reply, `${CONSOLE_PREFIX}/`));
    fastify.get(`${CONSOLE_PREFIX}/*`, (request, reply) => this.serve(request, reply));
    for (const page of MAIL_LINK_PAGES) {
      fastify.get(`/${page}`, (request, reply) => this.redirect(request, reply, `${CONSOLE_PREFIX}/${page}`));
    }
    fastify.get('/', (request, reply) => this.redirect(request, reply, `${CONSOLE_PREFIX}/`));
  }

  /** A redirect into the console that keeps the query string (the mail's token). */
  private redirect(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply {
    if (!hostTenantOf(request.raw)) return this.unknownHost(request, reply);
    const url = request.raw.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    return reply.redirect(`${path}${query}`, 302);
  }

  private async serve(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.headers(SECURITY_HEADERS);
    if (!hostTenantOf(request.raw)) return this.unknownHost(request, reply);
    if (!(await this.built())) {
      return problem(reply, request, 503, 'console_not_built', 'The console is not built', 'console not built: run npm run build');
    }
    // Still percent-encoded: send decodes it once and refuses `..` and NUL itself.
    const path = (request.raw.url ?? '/').split('?')[0].slice(CONSOLE_PREFIX.length) || '/';
    if (path === '/' || path === '/index.html') return this.index(request, reply);
    const hashed = path.startsWith('/assets/');
    const result = await send(request.raw, path, { root: this.root, dotfiles: 'deny', index: false, cacheControl: false });
    if (result.type === 'file') return this.pipe(reply, result, hashed ? HASHED_ASSET_CACHE : REVALIDATE);
    result.stream.destroy();
    const missing = result.type === 'directory' || result.statusCode === 404;
    // A missing asset stays a 404: answering a script request with HTML only hides the fault.
    if (missing && !hashed) return this.index(request, reply);
    if (missing) return problem(reply, request, 404, 'not_found', 'Not found', 'No such console file.');
    return problem(reply, request, result.statusCode, 'malformed_request', 'The request could not be read', 'This path cannot be served.');
  }

  private async index(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const result = await send(request.raw, '/index.html', { root: this.root, index: false, cacheControl: false });
    if (result.type !== 'file') {
      result.stream.destroy();
      return problem(reply, request, 503, 'console_not_built', 'The console is not built', 'console not built: run npm run build');
    }
    return this.pipe(reply, result, REVALIDATE);
  }

  private pipe(reply: FastifyReply, result: Awaited<ReturnType<typeof send>>, cacheControl: string): FastifyReply {
    return reply.code(result.statusCode).headers(result.headers).header('cache-control', cacheControl).send(result.stream);
  }

  private async built(): Promise<boolean> {
    return access(resolve(this.root, 'index.html')).then(
      () => true,
      () => false,
    );
  }

  private unknownHost(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return problem(reply, request, 404, 'unknown_tenant', 'This host is not a tenant domain', 'The console is served at tenant domains only.');
  }
}

function problem(reply: FastifyReply, request: FastifyRequest, status: number, code: string, title: string, detail: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send({ type: `urn:aigateway:problem:${code}`, title, status, code, detail, instance: (request.raw.url ?? '').split('?')[0], requestId: String(request.id) });
}
