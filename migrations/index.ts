import { RowLevelSecurity1763769600000 } from './1763769600000-RowLevelSecurity';
import { TenantsAndUsers1763769600100 } from './1763769600100-TenantsAndUsers';
import { Identity1763769600200 } from './1763769600200-Identity';
import { Customers1763769600300 } from './1763769600300-Customers';
import { KeysAndPricing1763769600400 } from './1763769600400-KeysAndPricing';
import { Channels1763769600500 } from './1763769600500-Channels';
import { Ledger1763769600600 } from './1763769600600-Ledger';
import { RoutingCosts1763769600700 } from './1763769600700-RoutingCosts';
import { WebhookEvents1763769600800 } from './1763769600800-WebhookEvents';
import { SettlementLedger1763769600810 } from './1763769600810-SettlementLedger';
import { Statements1763769600820 } from './1763769600820-Statements';
import { Withdrawals1763769600830 } from './1763769600830-Withdrawals';
import { Webhooks1763769600840 } from './1763769600840-Webhooks';
import { LowBalanceThresholds1763769600850 } from './1763769600850-LowBalanceThresholds';
import { StatementAdjustments1763769600860 } from './1763769600860-StatementAdjustments';
import { WebhookRetention1763769600870 } from './1763769600870-WebhookRetention';
import { WebhookAutoDisable1763769600880 } from './1763769600880-WebhookAutoDisable';
import { KeyExpiryNotice1763769600890 } from './1763769600890-KeyExpiryNotice';
import { WebhookSecretOverlap1763769600900 } from './1763769600900-WebhookSecretOverlap';
import { UsageHttpRequestId1763769601000 } from './1763769601000-UsageHttpRequestId';
import { MeteringPositions1763769601100 } from './1763769601100-MeteringPositions';
import { UserPreferences1763769601300 } from './1763769601300-UserPreferences';
import { Topups1763769601400 } from './1763769601400-Topups';
import { PriceBucketsForAgents1763769601600 } from './1763769601600-PriceBucketsForAgents';
import { ResponsesProvider1763769601610 } from './1763769601610-ResponsesProvider';
import { CloudChannels1763769602400 } from './1763769602400-CloudChannels';
import { SelfServiceIdentity1763769602500 } from './1763769602500-SelfServiceIdentity';
import { PriceRules1763769602600 } from './1763769602600-PriceRules';
import { ConsumptionLimits1763769602610 } from './1763769602610-ConsumptionLimits';
import { Budgets1763769602620 } from './1763769602620-Budgets';
import { RequestLogs1763769602700 } from './1763769602700-RequestLogs';
import { UsagePostedPerBatch1763769602900 } from './1763769602900-UsagePostedPerBatch';
import { OidcSignIn1763769603000 } from './1763769603000-OidcSignIn';
import { PriceUnits1763769603100 } from './1763769603100-PriceUnits';
import { ChannelLimits1763769603200 } from './1763769603200-ChannelLimits';
import { IpRateLimit1763769603450 } from './1763769603450-IpRateLimit';
import { RiskRules1763769603500 } from './1763769603500-RiskRules';
import { SubResellersAndSpot1763769603550 } from './1763769603550-SubResellersAndSpot';
import { DomainVerification1763769603650 } from './1763769603650-DomainVerification';
import { RateWindows1763769603700 } from './1763769603700-RateWindows';
import { UsageRecordsModelIndex1763769603800 } from './1763769603800-UsageRecordsModelIndex';
import { RiskWindowTotals1763769603850 } from './1763769603850-RiskWindowTotals';

/** Every migration, in order. A test fails if a file in migrations/ is missing here. */
export const ALL_MIGRATIONS = [
  RowLevelSecurity1763769600000,
  TenantsAndUsers1763769600100,
  Identity1763769600200,
  Customers1763769600300,
  KeysAndPricing1763769600400,
  Channels1763769600500,
  Ledger1763769600600,
  RoutingCosts1763769600700,
  WebhookEvents1763769600800,
  SettlementLedger1763769600810,
  Statements1763769600820,
  Withdrawals1763769600830,
  Webhooks1763769600840,
  LowBalanceThresholds1763769600850,
  StatementAdjustments1763769600860,
  WebhookRetention1763769600870,
  WebhookAutoDisable1763769600880,
  KeyExpiryNotice1763769600890,
  WebhookSecretOverlap1763769600900,
  UsageHttpRequestId1763769601000,
  MeteringPositions1763769601100,
  UserPreferences1763769601300,
  Topups1763769601400,
  PriceBucketsForAgents1763769601600,
  ResponsesProvider1763769601610,
  CloudChannels1763769602400,
  SelfServiceIdentity1763769602500,
  PriceRules1763769602600,
  ConsumptionLimits1763769602610,
  Budgets1763769602620,
  RequestLogs1763769602700,
  UsagePostedPerBatch1763769602900,
  OidcSignIn1763769603000,
  PriceUnits1763769603100,
  ChannelLimits1763769603200,
  IpRateLimit1763769603450,
  RiskRules1763769603500,
  SubResellersAndSpot1763769603550,
  DomainVerification1763769603650,
  RateWindows1763769603700,
  UsageRecordsModelIndex1763769603800,
  RiskWindowTotals1763769603850,
];
