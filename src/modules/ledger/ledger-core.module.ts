import { Module } from '@nestjs/common';
import { BalanceService } from './balance.service';
import { LedgerRepository } from './ledger.repository';

/**
 * The ledger's SQL and the Redis balance cache, for the api and the worker. The proxy imports this
 * module and calls `BalanceService.ensureLoaded(tenantId, customerId)` when its hold script finds
 * no balance loaded.
 */
@Module({ providers: [LedgerRepository, BalanceService], exports: [LedgerRepository, BalanceService] })
export class LedgerCoreModule {}
