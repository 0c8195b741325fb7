import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException, CommonErrorCode } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { REDIS } from '@app/redis';
import { TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { ClsService } from 'nestjs-cls';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { LedgerService } from '../ledger/ledger.service';
import {
  CreatedRedemptionCodes,
  CreateRedemptionCodesRequest,
  RedeemResult,
  RedemptionCodeListQuery,
  RedemptionCodePage,
  RedemptionCodeView,
} from './dto/topup.dto';
import { Receipts } from './receipts';
import { generateCode, hashCode, isWellFormed } from './redemption-codes';
import { TopupErrorCode, topupError } from './topups.exceptions';
import { REDEMPTION, REDEMPTION_CODE } from './topups.permissions';
import { RedemptionCodeRow, TopupsRepository } from './topups.repository';

class CodeRefused extends Error {}

/**
 * Prepaid codes (how many resellers sell: new-api and one-api users rely on them). Owner and
 * finance issue a batch; the codes are returned once (JSON and CSV) and only their SHA-256 is
 * stored. A customer redeems a code into their own wallet: every attempt, right or wrong, counts
 * against REDEEM_MAX_ATTEMPTS_PER_USER and REDEEM_MAX_ATTEMPTS_PER_IP per hour (Redis, shared by
 * every instance; without Redis nobody redeems, rather than guess without limit). The code is
 * claimed by one conditional UPDATE in the credit's own transaction, so of any number of concurrent
 * redemptions exactly one credits; the ledger key `redeem:<code id>` makes that twice over.
 */
@Injectable()
export class RedemptionService implements OnModuleInit {
  private readonly logger = new Logger(RedemptionService.name);
  private perUser!: RateLimiterRedis;
  private perIp!: RateLimiterRedis;

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly cls: ClsService,
    private readonly repository: TopupsRepository,
    private readonly ledger: LedgerService,
    private readonly audit: AuditService,
    private readonly receipts: Receipts,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.perUser = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'redeem:user', points: this.config.REDEEM_MAX_ATTEMPTS_PER_USER, duration: 3600 });
    this.perIp = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'redeem:ip', points: this.config.REDEEM_MAX_ATTEMPTS_PER_IP, duration: 3600 });
  }

  create(input: CreateRedemptionCodesRequest): Promise<CreatedRedemptionCodes> {
    return this.tenantDb.forRequest(async (m) => {
      const principal = this.auth.principal;
      this.auth.assertCan('create', REDEMPTION_CODE, { tenantId: principal.tenantId });
      if (input.expiresAt && Date.parse(input.expiresAt) <= Date.now()) {
        throw AppException.validation([{ field: 'expiresAt', messages: ['expiresAt must be in the future'] }]);
      }
      const batchId = uuidv7();
      const expiresAt = input.expiresAt ? new Date(input.expiresAt).toISOString() : null;
      const codes = Array.from({ length: input.count }, () => ({ id: uuidv7(), code: generateCode() }));
      await this.repository.insertCodes(
        m,
        codes.map((c) => ({ id: c.id, hash: hashCode(c.code), hint: c.code.slice(-4) })),
        { tenantId: principal.tenantId, batchId, amount: input.amount, expiresAt, createdBy: principal.userId },
      );
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: 'redemption_codes.created',
        subjectType: REDEMPTION_CODE,
        subjectId: batchId,
        after: { count: input.count, amount: input.amount, expiresAt },
      });
      const csv = ['id,code,amount,expires_at', ...codes.map((c) => `${c.id},${c.code},${input.amount},${expiresAt ?? ''}`)].join('\n') + '\n';
      return { batchId, amount: fromUnits(toUnits(input.amount)), expiresAt, codes, csv };
    });
  }

  list(query: RedemptionCodeListQuery): Promise<RedemptionCodePage> {
    return this.tenantDb.forRequest(async (m) => {
      const tenantId = this.auth.principal.tenantId;
      this.auth.assertCan('read', REDEMPTION_CODE, { tenantId });
      const { page, pageSize, offset } = pageOf(query);
      const [rows, total] = await this.repository.listCodes(m, tenantId, { batchId: query.batchId, status: query.status }, offset, pageSize);
      return { items: rows.map(toView), page, pageSize, total };
    });
  }

  disable(id: string): Promise<RedemptionCodeView> {
    return this.tenantDb.forRequest(async (m) => {
      const principal = this.auth.principal;
      this.auth.assertCan('disable', REDEMPTION_CODE, { tenantId: principal.tenantId });
      const code = await this.repository.disableCode(m, principal.tenantId, id, principal.userId);
      if (!code) throw AppException.notFound('redemption code');
      await this.audit.record(m, { tenantId: principal.tenantId, action: 'redemption_code.disabled', subjectType: REDEMPTION_CODE, subjectId: id });
      return toView(code);
    });
  }

  async redeem(input: string): Promise<RedeemResult> {
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    this.auth.assertCan('create', REDEMPTION, { tenantId, customerId: principal.userId });
    await this.countAttempt(`${tenantId}:${principal.userId}`, this.cls.get<string | null>('clientIp') ?? 'unknown');
    const refuse = () => topupError(TopupErrorCode.CodeInvalid);
    if (!isWellFormed(input)) throw refuse();
    const code = await this.tenantDb.forRequest((m) => this.repository.findCodeByHash(m, tenantId, hashCode(input)));
    if (!code) throw refuse();
    try {
      const result = await this.ledger.postPayment({
        tenantId,
        customerId: principal.userId,
        units: toUnits(code.amount),
        idempotencyKey: `redeem:${code.id}`,
        note: `Prepaid code …${code.codeHint}`,
        kind: 'payment',
        action: 'wallet.redeemed',
        claim: async (m) => {
          if (!(await this.repository.customer(m, tenantId, principal.userId))) throw AppException.notFound('customer');
          if (!(await this.repository.claimCode(m, code.id, principal.userId))) throw new CodeRefused();
        },
      });
      if (!result.created) throw refuse();
      this.logger.log({ tenantId, customerId: principal.userId, codeId: code.id, amount: code.amount }, 'prepaid code redeemed');
      await this.receipts.send(tenantId, principal.userId, { amount: code.amount, currency: null, what: `prepaid code …${code.codeHint}`, balance: result.balance });
      return { amount: code.amount, balance: result.balance, transactionId: result.id };
    } catch (error) {
      if (error instanceof CodeRefused) throw refuse();
      throw error;
    }
  }

  private async countAttempt(userKey: string, ip: string): Promise<void> {
    let results: RateLimiterRes[];
    try {
      results = await Promise.all([consume(this.perUser, userKey), consume(this.perIp, ip)]);
    } catch {
      throw AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'Redemption is unavailable right now; retry shortly.', { retryAfterSeconds: 5 });
    }
    const [user, address] = results;
    const over = [
      user.consumedPoints > this.config.REDEEM_MAX_ATTEMPTS_PER_USER ? user : null,
      address.consumedPoints > this.config.REDEEM_MAX_ATTEMPTS_PER_IP ? address : null,
    ].filter((r): r is RateLimiterRes => r !== null);
    if (over.length) {
      const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(...over.map((r) => r.msBeforeNext)) / 1000));
      throw topupError(TopupErrorCode.RedeemRateLimited, `Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  }
}

async function consume(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key);
  } catch (result) {
    if (result instanceof RateLimiterRes) return result;
    throw result;
  }
}

function toView(row: RedemptionCodeRow): RedemptionCodeView {
  const status = row.redeemedAt
    ? 'redeemed'
    : row.disabledAt
      ? 'disabled'
      : row.expiresAt && Date.parse(row.expiresAt) <= Date.now()
        ? 'expired'
        : 'active';
  return { ...row, status };
}
