import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { KeysRuntime } from '../keys/keys-runtime';
import { TENANT } from '../tenants/tenants.permissions';
import { ResolveRiskFlagRequest, RiskFlagPage, RiskFlagQuery, RiskFlagView, RiskRulesView, SetRiskRulesRequest } from './dto/risk.dto';
import { RISK_RULE_DEFINITIONS, StoredRiskRule, withDefaults } from './risk-rules';
import { RISK } from './risk.permissions';
import { RiskRepository } from './risk.repository';

const FLAG = 'risk flag';

/**
 * A tenant's risk rules (its owner edits them; the platform's owner and operator read them) and
 * the flags metering raised (RiskEvaluator): listing, and the owner's review, which resolves a flag
 * and, when asked, reactivates the keys it suspended.
 */
@Injectable()
export class RiskService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: RiskRepository,
    private readonly audit: AuditService,
    private readonly keys: KeysRuntime,
  ) {}

  rules(tenantId: string): Promise<RiskRulesView> {
    return this.tenantDb.forRequest(async (m) => {
      await this.assert(m, 'read', tenantId);
      return this.rulesView(tenantId, await this.repository.rules(m, tenantId));
    });
  }

  setRules(tenantId: string, input: SetRiskRulesRequest): Promise<RiskRulesView> {
    const errors: Array<{ field: string; messages: string[] }> = [];
    const seen = new Set<string>();
    input.rules.forEach((r, i) => {
      const definition = RISK_RULE_DEFINITIONS[r.rule];
      if (seen.has(r.rule)) errors.push({ field: `rules.${i}.rule`, messages: [`${r.rule} is named twice`] });
      seen.add(r.rule);
      if (!definition.actions.includes(r.action)) errors.push({ field: `rules.${i}.action`, messages: [`action of ${r.rule} must be one of ${definition.actions.join(', ')}`] });
      if (definition.threshold === 'count' && !/^[0-9]+$/.test(r.threshold)) errors.push({ field: `rules.${i}.threshold`, messages: [`threshold of ${r.rule} must be a whole number`] });
      if (!/[1-9]/.test(r.threshold)) errors.push({ field: `rules.${i}.threshold`, messages: ['threshold must be greater than 0'] });
    });
    if (errors.length > 0) throw AppException.validation(errors);
    return this.tenantDb.forRequest(async (m) => {
      await this.assert(m, 'update', tenantId);
      const before = withDefaults(await this.repository.rules(m, tenantId));
      for (const r of input.rules) await this.repository.setRule(m, tenantId, { rule: r.rule, enabled: r.enabled, threshold: r.threshold, action: r.action }, this.auth.principal.userId);
      const after = withDefaults(await this.repository.rules(m, tenantId));
      await this.audit.record(m, { tenantId, action: 'risk.rules_set', subjectType: RISK, subjectId: tenantId, before: byRule(before), after: byRule(after) });
      return this.rulesView(tenantId, after);
    });
  }

  flags(tenantId: string, query: RiskFlagQuery): Promise<RiskFlagPage> {
    const { page, pageSize, offset } = pageOf(query);
    return this.tenantDb.forRequest(async (m) => {
      await this.assert(m, 'read', tenantId);
      const { items, total } = await this.repository.flags(m, tenantId, query.status, offset, pageSize);
      return { items, total, page, pageSize };
    });
  }

  async resolve(tenantId: string, flagId: string, input: ResolveRiskFlagRequest): Promise<RiskFlagView> {
    const { flag, reactivated } = await this.tenantDb.forRequest(async (m) => {
      await this.assert(m, 'update', tenantId);
      const before = await this.repository.flag(m, tenantId, flagId, true);
      if (!before) throw AppException.notFound(FLAG);
      if (before.status === 'resolved') throw AppException.conflict('This flag is already resolved.');
      const reactivated = input.reactivateKeys ? await this.repository.reactivate(m, tenantId, flagId, before.suspendedKeyIds) : null;
      await this.repository.resolve(m, tenantId, flagId, this.auth.principal.userId, input.note?.trim() || null, reactivated);
      const flag = (await this.repository.flag(m, tenantId, flagId))!;
      await this.audit.record(m, {
        tenantId,
        action: 'risk.flag_resolved',
        subjectType: 'RiskFlag',
        subjectId: flagId,
        before: { status: before.status },
        after: { status: flag.status, note: flag.resolutionNote, reactivated: reactivated ?? [] },
      });
      return { flag, reactivated: reactivated ?? [] };
    });
    // Every api instance forgets the reactivated keys at once (the cache TTL bounds a lost broadcast).
    for (const keyId of reactivated) await this.keys.invalidateKey(keyId);
    return flag;
  }

  /** Another tenant's id is not found (RLS hides it); then the caller's ability decides. */
  private async assert(m: EntityManager, action: 'read' | 'update', tenantId: string): Promise<void> {
    if (!(await this.repository.tenantExists(m, tenantId))) throw AppException.notFound(TENANT);
    this.auth.assertCan(action, RISK, { tenantId });
  }

  private rulesView(tenantId: string, stored: readonly StoredRiskRule[]): RiskRulesView {
    return {
      tenantId,
      rules: withDefaults(stored).map((r) => {
        const d = RISK_RULE_DEFINITIONS[r.rule];
        return { rule: r.rule, subject: d.subject, enabled: r.enabled, threshold: r.threshold, thresholdKind: d.threshold, action: r.action, actions: [...d.actions] };
      }),
    };
  }
}

function byRule(rules: readonly StoredRiskRule[]): Record<string, unknown> {
  return Object.fromEntries(rules.map((r) => [r.rule, `${r.enabled ? 'on' : 'off'} > ${r.threshold} -> ${r.action}`]));
}
