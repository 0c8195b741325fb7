import { errorFactory } from '@app/errors';

export enum SettlementErrorCode {
  InvalidRange = 'invalid_range',
  InvalidPeriod = 'invalid_period',
}

const MESSAGES: Record<SettlementErrorCode, { status: number; title: string }> = {
  [SettlementErrorCode.InvalidRange]: { status: 400, title: 'The time range is invalid' },
  [SettlementErrorCode.InvalidPeriod]: { status: 400, title: 'The period is invalid' },
};

export const settlementError = errorFactory<SettlementErrorCode>(MESSAGES);

/** A close that is not the tenant's next period (periods are contiguous; the worker's bug, not a client's). */
export class PeriodOutOfOrderError extends Error {}
