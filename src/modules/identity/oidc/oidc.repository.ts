import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { returnedRows } from '../../../common/sql';

export interface OidcSettingsRow {
  enabled: boolean;
  displayName: string;
  issuerUrl: string;
  clientId: string;
  clientSecretSealed: string;
  createAccounts: boolean;
  allowedDomains: string[];
  updatedAt: Date;
}

/** A tenant's OpenID Connect provider; every method runs in the caller's tenant transaction. */
@Injectable()
export class OidcRepository {
  async find(m: EntityManager, tenantId: string): Promise<OidcSettingsRow | null> {
    const [row] = await m.query(
      `SELECT enabled, display_name, issuer_url, client_id, client_secret_sealed, create_accounts, allowed_domains, updated_at
         FROM tenant_oidc_settings WHERE tenant_id = $1`,
      [tenantId],
    );
    if (!row) return null;
    return {
      enabled: row.enabled,
      displayName: row.display_name,
      issuerUrl: row.issuer_url,
      clientId: row.client_id,
      clientSecretSealed: row.client_secret_sealed,
      createAccounts: row.create_accounts,
      allowedDomains: row.allowed_domains,
      updatedAt: row.updated_at,
    };
  }

  async save(m: EntityManager, tenantId: string, value: Omit<OidcSettingsRow, 'updatedAt'>, by: string): Promise<void> {
    await m.query(
      `INSERT INTO tenant_oidc_settings (tenant_id, enabled, display_name, issuer_url, client_id, client_secret_sealed, create_accounts, allowed_domains, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(), $9)
       ON CONFLICT (tenant_id) DO UPDATE SET enabled = $2, display_name = $3, issuer_url = $4, client_id = $5, client_secret_sealed = $6,
         create_accounts = $7, allowed_domains = $8, updated_at = clock_timestamp(), updated_by = $9`,
      [tenantId, value.enabled, value.displayName, value.issuerUrl, value.clientId, value.clientSecretSealed, value.createAccounts, value.allowedDomains, by],
    );
  }

  async remove(m: EntityManager, tenantId: string): Promise<boolean> {
    const rows = await m.query(`DELETE FROM tenant_oidc_settings WHERE tenant_id = $1 RETURNING tenant_id`, [tenantId]);
    return returnedRows(rows).length > 0;
  }
}
