import { errorFactory } from '@app/errors';

export enum SettlementErrorCode {
  InvalidRange = 'invalid_range',
  InvalidPeriod = 'invalid_period',
  AdjustmentNotAReseller = 'statement_adjustment_not_a_reseller',
  AdjustmentExceedsAvailable = 'statement_adjustment_exceeds_available',
}

const MESSAGES: Record<SettlementErrorCode, { status: number; title: string }> = {
  [SettlementErrorCode.InvalidRange]: { status: 400, title: 'The time range is invalid' },
  [SettlementErrorCode.InvalidPeriod]: { status: 400, title: 'The period is invalid' },
  [SettlementErrorCode.AdjustmentNotAReseller]: {
    status: 422,
    title: "Only a reseller's statement can be adjusted (the platform's own statement settles no margin)",
  },
  [SettlementErrorCode.AdjustmentExceedsAvailable]: {
    status: 422,
    title: "The negative adjustment exceeds the reseller's available settled margin",
  },
};

export const settlementError = errorFactory<SettlementErrorCode>(MESSAGES);

/** A close that is not the tenant's next period (periods are contiguous; the worker's bug, not a client's). */
export class PeriodOutOfOrderError extends Error {}
