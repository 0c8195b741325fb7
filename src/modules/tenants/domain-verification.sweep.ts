import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SystemDb, TenantResolver } from '@app/tenancy';
import { EntityManager, QueryFailedError } from 'typeorm';
import { returnedRows } from '../../common/sql';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/audit-diff';
import { DomainVerifier } from './domain-verifier';
import { TENANT_DOMAIN } from './tenants.permissions';
import { TenantsRepository } from './tenants.repository';

/** The maintenance queue's job name (the job scheduler upserts it once however many workers start). */
export const VERIFY_DOMAINS_JOB = 'verify-pending-domains';
/** Pending domains checked per run (each check is bounded by DOMAIN_VERIFY_TIMEOUT_MS per method). */
const CHECKS_PER_RUN = 50;
/** Checks in flight at once. */
const PARALLEL = 4;


/**
 * The worker's side of domain verification: pending domains older than DOMAIN_VERIFY_PENDING_DAYS
 * are removed (audited), and the others are re-checked every DOMAIN_VERIFY_INTERVAL_SECONDS
 * (oldest check first), so a reseller who creates the TXT record need not come back to press Verify.
 * It runs on the system role (cross-tenant by nature); each domain is recorded in its own short
 * transaction after its check, so a crash loses at most the checks in flight.
 */
@Injectable()
export class DomainVerificationSweep {
  private readonly logger = new Logger(DomainVerificationSweep.name);

  constructor(
    private readonly systemDb: SystemDb,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly verifier: DomainVerifier,
    private readonly repository: TenantsRepository,
    private readonly resolver: TenantResolver,
  ) {}

  async run(): Promise<{ expired: number; checked: number; verified: number }> {
    const expired = await this.expire();
    const due: Array<{ id: string; tenant_id: string; domain: string; verification_token: string }> = await this.systemDb.run((m) =>
      m.query(
        `SELECT id, tenant_id, domain, verification_token FROM tenant_domains
          WHERE status = 'pending' AND (last_checked_at IS NULL OR last_checked_at <= now() - make_interval(secs => $1))
          ORDER BY last_checked_at NULLS FIRST LIMIT $2`,
        [this.config.DOMAIN_VERIFY_INTERVAL_SECONDS, CHECKS_PER_RUN],
      ),
    );
    let verified = 0;
    for (let i = 0; i < due.length; i += PARALLEL) {
      const outcomes = await Promise.all(due.slice(i, i + PARALLEL).map((d) => this.checkOne(d)));
      verified += outcomes.filter(Boolean).length;
    }
    const result = { expired, checked: due.length, verified };
    if (expired + due.length > 0) this.logger.log(result, 'domain verification sweep');
    return result;
  }

  private async expire(): Promise<number> {
    return this.systemDb.run(async (m) => {
      const rows: Array<{ id: string; tenant_id: string; domain: string }> = returnedRows(
        await m.query(
          `DELETE FROM tenant_domains WHERE status = 'pending' AND created_at <= now() - make_interval(days => $1)
            RETURNING id, tenant_id, domain`,
          [this.config.DOMAIN_VERIFY_PENDING_DAYS],
        ),
      );
      for (const row of rows) {
        await this.systemAudit(m, {
          tenantId: row.tenant_id,
          action: 'tenant.domain_expired',
          subjectType: TENANT_DOMAIN,
          subjectId: row.id,
          before: { domain: row.domain, status: 'pending' },
        });
      }
      return rows.length;
    });
  }

  private async checkOne(d: { id: string; tenant_id: string; domain: string; verification_token: string }): Promise<boolean> {
    const result = await this.verifier.check(d.domain, d.verification_token);
    try {
      const outcome = await this.systemDb.run(async (m) => {
        const domain = await this.repository.recordCheck(m, d.tenant_id, d.id, d.verification_token, result);
        if (domain?.status === 'verified' && result.verified) {
          await this.systemAudit(m, {
            tenantId: d.tenant_id,
            action: 'tenant.domain_verified',
            subjectType: TENANT_DOMAIN,
            subjectId: d.id,
            after: { domain: d.domain, method: result.method, isPrimary: domain.isPrimary },
            });
          return true;
        }
        return false;
      });
      if (outcome) await this.resolver.invalidateTenant(d.tenant_id);
      return outcome;
    } catch (error) {
      // Another tenant verified the name first: this claim stays pending (and expires).
      if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') {
        await this.systemDb.run((m) =>
          this.repository.recordCheck(m, d.tenant_id, d.id, d.verification_token, { verified: false, reason: 'another tenant has verified this domain' }),
        );
        return false;
      }
      throw error;
    }
  }

  /** An audit entry of a change the worker made (no actor), in the domain's tenant (the worker has no AuditService). */
  private async systemAudit(
    m: EntityManager,
    entry: { tenantId: string; action: string; subjectType: string; subjectId: string; before?: Record<string, unknown>; after?: Record<string, unknown> },
  ): Promise<void> {
    await m.query(
      `INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_tenant_id, action, subject_type, subject_id, changes)
       VALUES ($1, $2, NULL, NULL, $3, $4, $5, $6)`,
      [uuidv7(), entry.tenantId, entry.action, entry.subjectType, entry.subjectId, JSON.stringify(auditDiff(entry.before ?? null, entry.after ?? null))],
    );
  }
}
