import { Module } from '@nestjs/common';
import { LowBalanceAlerts } from './low-balance-alerts';
import { LowBalanceRepository } from './low-balance.repository';

/** The threshold SQL and the balance-crossing events, for the api (manual debits) and the worker (metering). */
@Module({ providers: [LowBalanceRepository, LowBalanceAlerts], exports: [LowBalanceRepository, LowBalanceAlerts] })
export class LowBalanceCoreModule {}
