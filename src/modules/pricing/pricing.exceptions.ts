import { errorFactory } from '@app/errors';

export enum PricingErrorCode {
  UnknownModel = 'unknown_model',
  BelowWholesale = 'price_below_wholesale',
  VersionExists = 'price_version_exists',
}

const MESSAGES: Record<PricingErrorCode, { status: number; title: string }> = {
  [PricingErrorCode.UnknownModel]: { status: 422, title: 'The platform has no price for this model' },
  [PricingErrorCode.BelowWholesale]: { status: 422, title: 'A reseller may not price below its wholesale price' },
  [PricingErrorCode.VersionExists]: { status: 409, title: 'A price for this model already takes effect at that time' },
};

export const pricingError = errorFactory<PricingErrorCode>(MESSAGES);
