import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { REQUEST_TENANT_ID, REQUEST_TENANT_SLUG } from '@app/observability';
import { IncomingMessage, ServerResponse } from 'node:http';
import { TenantContext } from './tenant-context';
import { TenantResolver } from './tenant-resolver';

/** Puts the Host's tenant (or null) into the request context before any handler runs. */
@Injectable()
export class TenantResolutionMiddleware implements NestMiddleware<IncomingMessage, ServerResponse> {
  constructor(
    private readonly resolver: TenantResolver,
    private readonly context: TenantContext,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async use(req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    try {
      const forwarded = this.config.TRUST_PROXY ? req.headers['x-forwarded-host'] : undefined;
      const host = (Array.isArray(forwarded) ? forwarded[0] : forwarded?.split(',')[0]) ?? req.headers.host;
      const tenant = await this.resolver.resolveHost(host);
      this.context.setHostTenant(tenant);
      if (tenant) {
        const raw = req as unknown as Record<symbol, string>;
        raw[REQUEST_TENANT_ID] = tenant.id;
        raw[REQUEST_TENANT_SLUG] = tenant.slug;
      }
      next();
    } catch (error) {
      next(error);
    }
  }
}
