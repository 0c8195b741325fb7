import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../../audit/audit.service';
import { OidcSettingsView, UpdateOidcSettingsRequest } from '../dto/oidc.dto';
import { IDENTITY_SETTINGS } from '../identity.permissions';
import { OidcClients, OidcIssuerError } from './oidc-clients';
import { IdentityErrorCode, identityError } from '../identity.exceptions';
import { OidcRepository, OidcSettingsRow } from './oidc.repository';

export const OIDC_CALLBACK_PATH = '/api/v1/auth/oidc/callback';

const view = (row: OidcSettingsRow | null, redirectUri: string): OidcSettingsView => ({
  configured: row !== null,
  enabled: row?.enabled ?? false,
  displayName: row?.displayName ?? '',
  issuerUrl: row?.issuerUrl ?? '',
  clientId: row?.clientId ?? '',
  clientSecretSet: row !== null,
  createAccounts: row?.createAccounts ?? false,
  allowedDomains: row?.allowedDomains ?? [],
  redirectUri,
  updatedAt: row ? new Date(row.updatedAt).toISOString() : null,
});

/** What the audit log keeps of a configuration: never the secret, only that it changed. */
const audited = (row: OidcSettingsRow | null) =>
  row && { enabled: row.enabled, displayName: row.displayName, issuerUrl: row.issuerUrl, clientId: row.clientId, createAccounts: row.createAccounts, allowedDomains: row.allowedDomains };

/**
 * The owner's OpenID Connect provider for their own tenant (a reseller's, or the platform's). The
 * client secret is sealed at once and never returned, not even to the owner. Turning it on reads
 * the provider's discovery document first, so a wrong URL or issuer is refused when saved.
 */
@Injectable()
export class OidcSettingsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: OidcRepository,
    private readonly clients: OidcClients,
    private readonly audit: AuditService,
  ) {}

  get(redirectUri: string): Promise<OidcSettingsView> {
    const tenantId = this.auth.principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', IDENTITY_SETTINGS, { tenantId });
      return view(await this.repository.find(m, tenantId), redirectUri);
    });
  }

  async update(input: UpdateOidcSettingsRequest, redirectUri: string): Promise<OidcSettingsView> {
    const { tenantId, userId } = this.auth.principal;
    const problem = this.clients.issuerUrlProblem(input.issuerUrl);
    if (problem) throw AppException.validation([{ field: 'issuerUrl', messages: [problem] }]);
    if (input.enabled) {
      try {
        await this.clients.issuer(input.issuerUrl);
      } catch (error) {
        const detail = error instanceof OidcIssuerError ? error.message : 'its discovery document could not be read';
        throw identityError(IdentityErrorCode.OidcProviderUnusable, `The identity provider at ${input.issuerUrl} cannot be used: ${detail}.`);
      }
    }
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', IDENTITY_SETTINGS, { tenantId });
      const before = await this.repository.find(m, tenantId);
      if (!before && input.clientSecret === undefined) throw AppException.validation([{ field: 'clientSecret', messages: ['clientSecret is required the first time'] }]);
      const after: Omit<OidcSettingsRow, 'updatedAt'> = {
        enabled: input.enabled,
        displayName: input.displayName,
        issuerUrl: input.issuerUrl,
        clientId: input.clientId,
        clientSecretSealed: input.clientSecret !== undefined ? this.clients.seal(tenantId, input.clientSecret) : before!.clientSecretSealed,
        createAccounts: input.createAccounts,
        allowedDomains: [...new Set(input.allowedDomains ?? [])],
      };
      await this.repository.save(m, tenantId, after, userId);
      await this.audit.record(m, {
        tenantId,
        action: 'tenant.oidc_settings_updated',
        subjectType: IDENTITY_SETTINGS,
        subjectId: tenantId,
        before: audited(before),
        after: { ...audited({ ...after, updatedAt: new Date() }), clientSecret: input.clientSecret !== undefined ? 'changed' : 'unchanged' },
      });
      return view(await this.repository.find(m, tenantId), redirectUri);
    });
  }

  remove(): Promise<void> {
    const tenantId = this.auth.principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', IDENTITY_SETTINGS, { tenantId });
      const before = await this.repository.find(m, tenantId);
      if (!(await this.repository.remove(m, tenantId))) return;
      await this.audit.record(m, { tenantId, action: 'tenant.oidc_settings_removed', subjectType: IDENTITY_SETTINGS, subjectId: tenantId, before: audited(before) });
    });
  }
}
