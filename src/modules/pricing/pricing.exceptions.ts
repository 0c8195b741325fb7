import { errorFactory } from '@app/errors';

export enum PricingErrorCode {
  UnknownModel = 'unknown_model',
  BelowWholesale = 'price_below_wholesale',
  VersionExists = 'price_version_exists',
  GroupNameTaken = 'customer_group_name_taken',
  MarkupNotForPlatform = 'markup_not_for_platform',
}

const MESSAGES: Record<PricingErrorCode, { status: number; title: string }> = {
  [PricingErrorCode.UnknownModel]: { status: 422, title: 'The platform has no price for this model' },
  [PricingErrorCode.BelowWholesale]: { status: 422, title: 'A reseller may not price below its wholesale price' },
  [PricingErrorCode.VersionExists]: { status: 409, title: 'A price for this model already takes effect at that time' },
  [PricingErrorCode.GroupNameTaken]: { status: 409, title: 'The tenant already has a customer group of that name' },
  [PricingErrorCode.MarkupNotForPlatform]: { status: 422, title: "The platform's list is its retail price: a markup on wholesale applies to resellers only" },
};

export const pricingError = errorFactory<PricingErrorCode>(MESSAGES);
