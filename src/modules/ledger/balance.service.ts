import { Inject, Injectable } from '@nestjs/common';
import { billingKeys, SETTLED_MARKER_SECONDS } from '@app/billing';
import { toUnits } from '@app/money';
import { REDIS } from '@app/redis';
import { TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { INCRBY_IF_EXISTS, RELEASE_EXPIRED_HOLDS, WALLET_SNAPSHOT } from './balance.scripts';

/** What one sweep of expired holds did: holds released (units returned), checkpoints settled (units charged). */
export interface ExpiredHolds {
  released: number;
  units: bigint;
  checkpointsSettled: number;
  chargedUnits: bigint;
}
import { LedgerRepository } from './ledger.repository';

type BalanceCommands = Redis & {
  aigwIncrbyIfExists(key: string, units: string): Promise<number | null>;
  aigwReleaseExpiredHolds(holds: string, now: string, limit: string, prefix: string, markerSeconds: string): Promise<[number, string, number, string]>;
  aigwWalletSnapshot(stream: string, dead: string, prefix: string, ms: string, seq: string, ...customers: string[]): Promise<[Array<string | null>, Array<[string, string, string, 'live' | 'dead']>]>;
};

export interface WalletSnapshot {
  customerId: string;
  /** Null when the balance is not loaded in Redis. */
  balanceUnits: bigint | null;
  holdUnits: bigint;
  /** Retail of the customer's stream entries after the metering position (not in the ledger at that position). */
  unmeteredUnits: bigint;
}

/** A stream entry at or before the metering position, or a dead letter: metered or not, PostgreSQL knows. */
export interface UncertainEvent {
  requestId: string;
  customerId: string;
  retailUnits: bigint;
  deadLetter: boolean;
}

/**
 * The Redis side of balances (the cache of the ledger, DESIGN.md "Money"): the proxy reads and
 * debits `{t:<tenant>}:bal:<customer>` in its hold/settle scripts; this service loads it from the
 * ledger when missing, applies credits to it, releases expired holds and takes the snapshots
 * reconciliation compares. Usable by the api (tenant-scoped connection) and the worker.
 */
@Injectable()
export class BalanceService {
  private readonly redis: BalanceCommands;

  constructor(
    @Inject(REDIS) redis: Redis,
    private readonly tenantDb: TenantDb,
    private readonly ledger: LedgerRepository,
  ) {
    redis.defineCommand('aigwIncrbyIfExists', { numberOfKeys: 1, lua: INCRBY_IF_EXISTS });
    redis.defineCommand('aigwReleaseExpiredHolds', { numberOfKeys: 1, lua: RELEASE_EXPIRED_HOLDS });
    redis.defineCommand('aigwWalletSnapshot', { numberOfKeys: 2, lua: WALLET_SNAPSHOT });
    this.redis = redis as BalanceCommands;
  }

  /**
   * Makes sure the customer's balance is in Redis, loading it from the ledger if it is not. The
   * proxy calls this before its hold script when the balance key is missing (its script answers
   * "not loaded"), then retries the hold. Cheap when loaded (one EXISTS).
   *
   * Race with a credit: the wallet row is created (or waited for, if a credit is creating it) and
   * read FOR SHARE, and the SET NX happens while that lock is held. A credit holds the row FOR
   * UPDATE from before its Redis increment until its commit, so either this load runs first (the
   * credit then finds the key and increments it) or after the credit committed (and reads the
   * credited balance): never both, never neither.
   *
   * Holds and unmetered events are not subtracted: a balance key is missing only before the
   * customer's first request (none exist yet) or when Redis lost its data (and them with it);
   * reconciliation corrects whatever remains.
   */
  async ensureLoaded(tenantId: string, customerId: string): Promise<void> {
    const key = billingKeys.balance(tenantId, customerId);
    if ((await this.redis.exists(key)) === 1) return;
    await this.tenantDb.run({ tenantId }, async (m) => {
      await this.ledger.wallets(m, tenantId, [customerId]);
      const balance = (await this.ledger.walletBalanceShared(m, tenantId, customerId)) ?? '0';
      await this.redis.set(key, toUnits(balance).toString(), 'NX');
    });
  }

  /** Adds `units` to a loaded balance; returns false (and changes nothing) when it is not loaded. */
  async incrementIfLoaded(tenantId: string, customerId: string, units: bigint): Promise<boolean> {
    const result = await this.redis.aigwIncrbyIfExists(billingKeys.balance(tenantId, customerId), units.toString());
    return result !== null;
  }

  /** Undoes an increment that was applied for a ledger transaction that then failed to commit. */
  async compensate(tenantId: string, customerId: string, units: bigint): Promise<void> {
    await this.redis.incrby(billingKeys.balance(tenantId, customerId), (-units).toString());
  }

  /** Sets a loaded balance to a corrected value, by an increment so a concurrent debit is kept. */
  async correct(tenantId: string, customerId: string, deltaUnits: bigint): Promise<boolean> {
    return this.incrementIfLoaded(tenantId, customerId, deltaUnits);
  }

  /**
   * Releases the tenant's holds that expired before `now` (at most `limit` of them); a hold with a
   * stream's checkpoint (its api died mid-stream) is settled for what the stream delivered.
   */
  async releaseExpiredHolds(tenantId: string, now: number, limit = 1000): Promise<ExpiredHolds> {
    const [released, units, settled, charged] = await this.redis.aigwReleaseExpiredHolds(
      billingKeys.holds(tenantId),
      String(now),
      String(limit),
      `${billingKeys.tag(tenantId)}:`,
      String(SETTLED_MARKER_SECONDS),
    );
    return { released: Number(released), units: BigInt(units), checkpointsSettled: Number(settled), chargedUnits: BigInt(charged) };
  }

  /**
   * Balance, open holds and the charges not in the ledger at metering position `position` (the
   * highest stream entry id metered, `<ms>-<seq>`; null: none yet) of these customers, read
   * atomically; plus the entries whose metering PostgreSQL must tell (see WALLET_SNAPSHOT).
   */
  async snapshot(tenantId: string, customerIds: readonly string[], position: string | null): Promise<{ wallets: WalletSnapshot[]; uncertain: UncertainEvent[] }> {
    if (customerIds.length === 0) return { wallets: [], uncertain: [] };
    const [ms, seq] = (position ?? '0-0').split('-');
    const [flat, uncertain] = await this.redis.aigwWalletSnapshot(
      billingKeys.usageStream(tenantId),
      billingKeys.deadLetters(tenantId),
      `${billingKeys.tag(tenantId)}:`,
      ms,
      seq ?? '0',
      ...customerIds,
    );
    return {
      wallets: customerIds.map((customerId, i) => ({
        customerId,
        balanceUnits: flat[i * 3] === null || flat[i * 3] === undefined ? null : BigInt(flat[i * 3]!),
        holdUnits: BigInt(flat[i * 3 + 1]!),
        unmeteredUnits: BigInt(flat[i * 3 + 2]!),
      })),
      uncertain: uncertain.map(([requestId, customerId, retail, where]) => ({ requestId, customerId, retailUnits: BigInt(retail), deadLetter: where === 'dead' })),
    };
  }
}
