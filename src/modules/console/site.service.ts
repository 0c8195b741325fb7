import { Injectable } from '@nestjs/common';
import { AppException, CommonErrorCode } from '@app/errors';
import { CURRENCY } from '@app/money';
import { TenantContext, TenantDb } from '@app/tenancy';
import { ChannelsRuntime } from '../channels/runtime/channels-runtime';
import { PricingRuntime } from '../pricing/pricing-runtime';
import { CONSOLE_LANGUAGES, ConsoleLanguage } from '../tenants/dto/tenant.dto';
import { TenantsRepository } from '../tenants/tenants.repository';
import { SiteModelPrice, SiteView } from './dto/site.dto';

const isLanguage = (value: unknown): value is ConsoleLanguage => CONSOLE_LANGUAGES.includes(value as ConsoleLanguage);

/**
 * What the console shows before anyone signs in, for the Host's tenant: brand, languages, support
 * contact, currency, whether sign-up is open and single sign-on offered, and the public price list: the tenant's retail
 * prices now of the models its customers may call, as `GET /v1/models` lists them (priced, not
 * hidden, served by an enabled channel).
 */
@Injectable()
export class SiteService {
  constructor(
    private readonly tenantContext: TenantContext,
    private readonly tenantDb: TenantDb,
    private readonly tenants: TenantsRepository,
    private readonly pricing: PricingRuntime,
    private readonly channels: ChannelsRuntime,
  ) {}

  async site(): Promise<SiteView> {
    const host = this.tenantContext.hostTenant;
    if (!host) throw AppException.common(CommonErrorCode.UnknownTenant, 404, 'This host is not a tenant domain.');
    const tenant = await this.tenantDb.run({ tenantId: host.id }, (m) => this.tenants.findById(m, host.id));
    if (!tenant) throw AppException.common(CommonErrorCode.UnknownTenant, 404, 'This host is not a tenant domain.');
    const branding = tenant.branding ?? {};
    const defaultLanguage = isLanguage(branding.defaultLanguage) ? branding.defaultLanguage : 'en';
    const offered = (branding.languages ?? []).filter(isLanguage);
    const languages = offered.length > 0 ? [...new Set([defaultLanguage, ...offered])] : [...CONSOLE_LANGUAGES];
    return {
      slug: tenant.slug,
      name: branding.displayName ?? tenant.name,
      logoUrl: branding.logoUrl ?? null,
      themeColor: branding.themeColor ?? null,
      defaultLanguage,
      languages,
      support: { email: branding.supportEmail ?? null, url: branding.supportUrl ?? null },
      currency: CURRENCY,
      signUp: await this.signUp(tenant.id),
      oidc: await this.oidc(tenant.id),
      models: await this.models(tenant.id),
    };
  }

  /** Whether visitors may sign up here, and from which e-mail domains (the owner's identity settings). */
  private async signUp(tenantId: string): Promise<{ open: boolean; domains: string[] }> {
    const [row] = await this.tenantDb.run({ tenantId }, (m) =>
      m.query(`SELECT sign_up_enabled, sign_up_domains FROM tenant_identity_settings WHERE tenant_id = $1`, [tenantId]),
    );
    return row?.sign_up_enabled ? { open: true, domains: row.sign_up_domains } : { open: false, domains: [] };
  }

  /** Whether the tenant's identity provider is offered, under which name (never its URL, client or secret). */
  private async oidc(tenantId: string): Promise<{ enabled: boolean; name: string | null }> {
    const [row] = await this.tenantDb.run({ tenantId }, (m) => m.query(`SELECT display_name FROM tenant_oidc_settings WHERE tenant_id = $1 AND enabled`, [tenantId]));
    return row ? { enabled: true, name: row.display_name } : { enabled: false, name: null };
  }

  private async models(tenantId: string): Promise<SiteModelPrice[]> {
    const book = await this.pricing.book(tenantId);
    if (!book) return [];
    const now = Date.now();
    const models: SiteModelPrice[] = [];
    for (const model of book.listedModels(now).filter((m) => this.channels.serves(m))) {
      const retail = book.effective(model, now)?.retail;
      if (!retail) continue;
      models.push({
        model,
        inputPerMillion: retail.inputPerMillion,
        outputPerMillion: retail.outputPerMillion,
        // A bucket without its own price is billed as input (see PriceView).
        cacheReadPerMillion: retail.cacheReadPerMillion ?? retail.inputPerMillion,
        cacheWritePerMillion: retail.cacheWritePerMillion ?? retail.inputPerMillion,
        perRequest: retail.perRequest ?? '0',
        unit: retail.unit ?? 'token',
        imagePrices: retail.imagePrices ?? null,
      });
    }
    return models;
  }
}
