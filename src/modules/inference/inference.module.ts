import { LimitsRuntimeModule } from '../limits/limits-runtime.module';
import { Module } from '@nestjs/common';
import { BillingEngine } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { RedisConnections } from '@app/redis';
import { ChannelsRuntimeModule } from '../channels/runtime/channels-runtime.module';
import { ContentLogRuntimeModule } from '../content-logs/content-logs.module';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { BalanceService } from '../ledger/balance.service';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { PricingRuntimeModule } from '../pricing/pricing-runtime.module';
import { WALLET_LOADER } from './inference.ports';
import { FRONT_DOOR, InferenceFrontDoor } from './inference-front-door';
import { inferenceMetricProviders, InferenceMetrics } from './inference.metrics';
import { InferenceRoutes } from './inference.routes';
import { InferenceService } from './inference.service';
import { SettlementOutbox } from './settlement-outbox';
import { InflightLeases } from './inflight-leases';

/**
 * The OpenAI-compatible API under /v1 (api process only). Its own Redis connection pipelines the
 * billing scripts of concurrent requests into shared round trips.
 */
@Module({
  imports: [KeysRuntimeModule, PricingRuntimeModule, ChannelsRuntimeModule, LedgerCoreModule, LimitsRuntimeModule, ContentLogRuntimeModule],
  providers: [
    { provide: WALLET_LOADER, useExisting: BalanceService },
    ...inferenceMetricProviders,
    InferenceMetrics,
    {
      provide: BillingEngine,
      inject: [RedisConnections, APP_CONFIG],
      useFactory: (connections: RedisConnections, config: AppConfig) =>
        new BillingEngine(
          connections.open('billing', { enableAutoPipelining: true }),
          config.INFERENCE_HOLD_TTL_SECONDS * 1000,
          undefined,
          config.INFERENCE_CONCURRENCY_LEASE_SECONDS * 1000,
        ),
    },
    SettlementOutbox,
    InflightLeases,
    InferenceService,
    InferenceRoutes,
    InferenceFrontDoor,
    { provide: FRONT_DOOR, useExisting: InferenceFrontDoor },
  ],
  exports: [BillingEngine, SettlementOutbox, FRONT_DOOR],
})
export class InferenceModule {}
